"""Order search: a substring of number, name, email, phone or tracking number.

The needle is folded like ``orders.search_text`` (lower case, no accents), so the
match is case- and accent-insensitive. What makes it fast at a million orders:

- SQLite: ``orders_fts``, an FTS5 table with the ``trigram`` tokenizer over
  ``orders.search_text`` (external content, kept by triggers; revision 0002).
  A phrase query on it finds any substring of three characters or more.
- PostgreSQL: a ``pg_trgm`` GIN index on ``orders.search_text``, which serves
  ``LIKE '%needle%'`` directly. If the extension could not be created the same
  ``LIKE`` runs without it: slower, still correct.

Needles shorter than three characters cannot use a trigram index and fall back
to ``LIKE`` on either database.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from store.models import Order
from store.summary import fold

FTS_TABLE = "orders_fts"
#: The PostgreSQL trigram index (revision 0002); the models declare it PostgreSQL-only.
PG_INDEX = "ix_orders_search_trgm"
#: Trigram indexes need at least this many characters.
MIN_INDEXED = 3

_orders = Order.__table__  # type: ignore[attr-defined]


def needle(text: str | None) -> str:
    """The folded, trimmed text the search looks for ('' matches everything)."""
    return fold((text or "").strip())


def _like(folded: str) -> Any:
    escaped = folded.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return _orders.c.search_text.like(f"%{escaped}%", escape="\\")


def fts_phrase(folded: str) -> str:
    """An FTS5 query that matches ``folded`` as a substring (quotes doubled)."""
    return '"' + folded.replace('"', '""') + '"'


#: A needle matching fewer orders than this is looked up through the index and its
#: matches listed by id; a commoner one is found by walking the board's own sort
#: index, where matches are dense enough that a window fills after a few rows.
RARE = 2000


def _distinct(trigram: str) -> int:
    """How telling a trigram probably is: digits and punctuation are rarer than letters."""
    score = 2 * any(c.isdigit() for c in trigram) + any(not c.isalnum() for c in trigram)
    return score - (" " in trigram) - 3 * (len(set(trigram)) == 1)


def probe_query(folded: str) -> str:
    """An FTS5 query for candidates: up to four non-overlapping trigrams of the needle,
    the most telling first, ANDed. A phrase of every overlapping trigram is exact but
    walks every trigram's postings; a few trigrams find the same orders (plus a few
    that the LIKE then drops) in a fraction of the time."""
    grams = [folded[i : i + 3] for i in range(0, len(folded) - 2, 3)]
    if len(folded) % 3:
        grams.append(folded[-3:])
    chosen = sorted(dict.fromkeys(grams), key=_distinct, reverse=True)[:4]
    return " ".join(fts_phrase(g) for g in chosen)


def condition(dialect: str, text: str | None, conn: Connection | None = None) -> Any:
    """A WHERE clause on ``orders`` for the search ``text``; None when it is empty.

    With ``conn`` on SQLite, the FTS index is asked (cheaply: it stops after
    :data:`RARE` + 1 hits) how common the needle is, and the clause is chosen to
    match: the ids of a rare needle's orders, or a ``LIKE`` for a common one.
    """
    folded = needle(text)
    if not folded:
        return None
    if dialect == "sqlite" and len(folded) >= MIN_INDEXED:
        if conn is not None:
            # Two probes, both stopping after RARE + 1 hits: a few trigrams in any order
            # (cheap, a superset), then the exact phrase when that was not enough.
            for probe, exact in ((probe_query(folded), False), (fts_phrase(folded), True)):
                ids = (
                    conn.execute(
                        sa.text(
                            f"SELECT rowid FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH :q LIMIT :n"
                        ),
                        {"q": probe, "n": RARE + 1},
                    )
                    .scalars()
                    .all()
                )
                if len(ids) <= RARE:
                    if not ids:
                        return sa.false()
                    found = _orders.c.id.in_(ids)
                    # The trigram probe also finds orders holding the trigrams apart.
                    return found if exact else sa.and_(found, _like(folded))
            return _like(folded)
        matches = sa.text(f"SELECT rowid FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH :fts_q")
        matches = matches.bindparams(fts_q=fts_phrase(folded)).columns(sa.column("rowid"))
        return _orders.c.id.in_(matches.subquery().select())
    return _like(folded)


def schema_filters(dialect: str) -> dict[str, Any]:
    """``include_name`` / ``include_object`` for Alembic schema comparisons: the FTS5
    table and its shadow tables are not models, and the trigram index exists on
    PostgreSQL only."""

    def include_name(name: str | None, type_: str, parent_names: object) -> bool:
        return not (type_ == "table" and name is not None and name.startswith(FTS_TABLE))

    def include_object(
        obj: object, name: str | None, type_: str, reflected: bool, compare_to: object
    ) -> bool:
        return not (type_ == "index" and name == PG_INDEX and dialect != "postgresql")

    return {"include_name": include_name, "include_object": include_object}
