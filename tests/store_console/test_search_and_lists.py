"""Search, keyset listings and operator intents, on SQLite and PostgreSQL alike."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlmodel import select

from store import board, lists, operator, queries, search
from store.attention import raise_item
from store.engine import Store
from store.errors import NotFoundError
from store.keyset import Listing
from store.models import AttentionItem, AuditEntry, ChangeLog, Order, OrderNote, Shipment, metadata
from store.statuses import ATTENTION_PRIORITY
from store.summary import fold, refresh_orders
from tests.console.data import NOW, generate

_orders = Order.__table__  # type: ignore[attr-defined]


@pytest.fixture
def filled(store: Store) -> Store:
    generate(store, 150)
    return store


def _open_item(store: Store) -> int:
    with store.read_connection() as conn:
        table = AttentionItem.__table__  # type: ignore[attr-defined]
        return int(
            conn.execute(
                sa.select(table.c.id).where(table.c.resolved_at.is_(None)).order_by(table.c.id)
            )
            .scalars()
            .first()
        )


def _naive(store: Store, query: board.BoardQuery) -> list[int]:
    """The board's order, computed the slow way in Python."""
    sort = board.SORTS[query.sort]
    with store.read_connection() as conn:
        orders = list(conn.execute(sa.select(_orders)).mappings())
    if query.status:
        orders = [o for o in orders if o["status"] == query.status]
    if query.search:
        needle = fold(query.search)
        orders = [o for o in orders if needle in o["search_text"]]
    present = [o for o in orders if o[sort.column] is not None]
    missing = [o for o in orders if o[sort.column] is None]
    present.sort(key=lambda o: (o[sort.column], o["id"]), reverse=sort.descending)
    missing.sort(key=lambda o: o["id"], reverse=sort.descending)
    return [o["id"] for o in present + missing]


@pytest.mark.parametrize("sort", list(board.SORTS))
def test_keyset_pages_match_a_full_sort(filled: Store, sort: str) -> None:
    query = board.BoardQuery(sort=sort)
    listing = board.listing(query, filled.dialect)
    expected = _naive(filled, query)
    with filled.read_connection() as conn:
        assert listing.count(conn) == len(expected)
        # forward, page by page
        seen: list[int] = []
        page = listing.first(conn, 37)
        while page:
            seen += [r["id"] for r in page]
            page = listing.after(conn, listing.key_of(page[-1]), 37)
        assert seen == expected
        # backward from the end
        back: list[int] = []
        page = listing.last(conn, 41)
        while page:
            back = [r["id"] for r in page] + back
            page = listing.before(conn, listing.key_of(page[0]), 41)
        assert back == expected
        # offsets and ranks agree
        for offset in (0, 1, 60, len(expected) - 3):
            rows = listing.at(conn, offset, 5)
            assert [r["id"] for r in rows] == expected[offset : offset + 5]
            assert listing.rank(conn, listing.key_of(rows[0])) == offset


def test_search_is_substring_case_and_accent_insensitive(filled: Store) -> None:
    with filled.write_connection() as conn:
        conn.execute(
            sa.update(_orders).where(_orders.c.id == 5).values(customer_name="Zoë Ærøskøbing-Núñez")
        )
        refresh_orders(conn, [5], now=NOW)
    for needle in ("zoe aeroskobing", "ZOË ÆRØ", "nunez", "#100005", "RØSK"):
        query = board.BoardQuery(search=needle)
        with filled.read_connection() as conn:
            ids = [r["id"] for r in board.listing(query, filled.dialect).first(conn, 10)]
        assert 5 in ids, needle
    with filled.read_connection() as conn:
        tracking = conn.execute(
            sa.select(_orders.c.tracking_number).where(_orders.c.id == 7)
        ).scalar_one()
        hits = board.listing(board.BoardQuery(search=tracking[3:11].lower()), filled.dialect)
        assert 7 in [r["id"] for r in hits.first(conn, 500)]
        # two characters: no trigram, the LIKE fallback still finds it
        short = board.listing(board.BoardQuery(search="zo"), filled.dialect)
        assert 5 in [r["id"] for r in short.first(conn, 200)]
        # LIKE wildcards and FTS syntax are data, not syntax
        for odd in ("%", "_", '"', "a OR b", "NEAR(x)", "*"):
            board.listing(board.BoardQuery(search=odd), filled.dialect).first(conn, 5)


@pytest.mark.parametrize("rare", [2000, 3], ids=["by-id", "along-the-index"])
def test_search_matches_the_naive_scan(
    filled: Store, rare: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both plans (a rare needle's ids, a common needle along the sort index) and the
    plan-less condition find exactly what a scan finds."""
    monkeypatch.setattr(search, "RARE", rare)
    for needle in ("müller", "example.com", "rm0000", "+44 7700 0001", "gb", "7700 00012", "zzq"):
        query = board.BoardQuery(search=needle)
        expected = _naive(filled, query)
        with filled.read_connection() as conn:
            planned = board.listing(query, filled.dialect, conn).first(conn, 1000)
            plain = board.listing(query, filled.dialect).first(conn, 1000)
        assert [r["id"] for r in planned] == expected, needle
        assert [r["id"] for r in plain] == expected, needle


def test_search_index_follows_updates_and_deletes(filled: Store) -> None:
    with filled.write() as s:
        s.exec(sa.update(_orders).where(_orders.c.id == 9).values(search_text="quixotic zebra"))
        s.exec(sa.delete(_orders).where(_orders.c.id == 10))
    with filled.read_connection() as conn:
        found = board.listing(board.BoardQuery(search="quixotic"), filled.dialect)
        assert [r["id"] for r in found.first(conn, 5)] == [9]
        gone = board.listing(board.BoardQuery(search="#100010"), filled.dialect)
        assert gone.first(conn, 5) == []


def test_cli_search_uses_the_same_condition(filled: Store) -> None:
    with filled.read() as session:
        found = queries.list_orders(session, queries.OrderFilter(search="JOSÉ", limit=500))
        texts = [o.search_text for o in found]
    assert texts and all("jose" in t for t in texts)


def test_filters_on_summary_columns(filled: Store) -> None:
    with filled.read_connection() as conn:
        for query in (
            board.BoardQuery(status="in_transit"),
            board.BoardQuery(carrier="ups"),
            board.BoardQuery(attention="any"),
            board.BoardQuery(attention="late", sort="eta"),
        ):
            rows = board.listing(query, filled.dialect).first(conn, 500)
            assert rows
            for r in rows:
                if query.status:
                    assert r["status"] == query.status
                if query.carrier:
                    assert r["carrier"] == query.carrier
                if query.attention == "any":
                    assert r["attention"] is not None
                elif query.attention:
                    assert r["attention"] == query.attention


def test_notification_and_attention_listings(filled: Store) -> None:
    # Reasons whose urgency and alphabetical order disagree: "returned" and "stalled"
    # sort after "notification_failed" by name, before it by urgency.
    with filled.write_connection() as conn:
        for order_id, reason in ((3, "returned"), (4, "stalled"), (5, "no_provider")):
            raise_item(conn, order_id=order_id, reason=reason, now=NOW - timedelta(hours=1))
    with filled.read_connection() as conn:
        dead = lists.notification_listing(lists.NotificationQuery(state="dead"))
        rows = dead.first(conn, 100)
        assert rows and all(r["state"] == "dead" for r in rows)
        created = [(r["created_at"], r["id"]) for r in rows]
        assert created == sorted(created, reverse=True)
        by_recipient = lists.notification_listing(lists.NotificationQuery(recipient="+4477"))
        assert all("+4477" in r["recipient"] for r in by_recipient.first(conn, 100))
        queue = lists.attention_listing(lists.AttentionQuery(now=NOW))
        items = queue.first(conn, 1000)
        keys = [(lists.urgency(r["reason"]), r["raised_at"], r["id"]) for r in items]
        assert keys == sorted(keys)
        # Most urgent reason first: exceptions before late before unfulfilled.
        reasons = list(dict.fromkeys(r["reason"] for r in items))
        assert {"returned", "stalled", "notification_failed", "no_provider"} <= set(reasons)
        assert reasons == sorted(reasons, key=lambda r: ATTENTION_PRIORITY[r])
        # Paging by key walks the same order, across groups.
        paged, key = [], None
        while page := queue.after(conn, key, 7):
            paged += [r["id"] for r in page]
            key = queue.key_of(page[-1])
        assert paged == [r["id"] for r in items]
        middle = queue.key_of(items[len(items) // 2])
        assert queue.rank(conn, middle) == len(items) // 2
        counts = lists.attention_counts(conn, NOW)
        assert sum(counts.values()) == queue.count(conn)


def test_operator_intents_write_audit_and_changes(filled: Store) -> None:
    item_id, shipment_id = _open_item(filled), 3
    with filled.write_connection() as conn:
        before = conn.execute(sa.select(sa.func.max(ChangeLog.seq))).scalar_one() or 0
        order_id = operator.resolve_attention(
            conn, item_id, actor="alice", resolution="found it", now=NOW
        )
        operator.add_note(conn, order_id, "  called the customer  ", actor="alice", now=NOW)
        operator.poll_now(conn, shipment_id, actor="alice", now=NOW)
        after = conn.execute(sa.select(sa.func.max(ChangeLog.seq))).scalar_one()
        assert after > before
    with filled.read() as s:
        resolved = s.get(AttentionItem, item_id)
        assert resolved and resolved.resolved_by == "alice" and resolved.resolution == "found it"
        note = s.exec(select(OrderNote).where(OrderNote.order_id == order_id)).one()
        assert note.body == "called the customer"
        actions = {a.action for a in s.exec(select(AuditEntry).where(AuditEntry.actor == "alice"))}
        assert actions == {"attention.resolve", "note.add", "shipment.poll_now"}
        polled = s.get(Shipment, shipment_id)
        assert polled and polled.next_poll_at == NOW
        order = s.get(Order, order_id)
        open_reasons = s.exec(
            select(AttentionItem.reason).where(
                AttentionItem.order_id == order_id,
                AttentionItem.resolved_at.is_(None),  # type: ignore[union-attr]
            )
        ).all()
        assert order is not None and (order.attention in open_reasons or order.attention is None)


def test_operator_errors_name_the_problem(filled: Store) -> None:
    item_id = _open_item(filled)
    with filled.write_connection() as conn:
        operator.resolve_attention(conn, item_id, actor="a", now=NOW)
    with (
        pytest.raises(operator.IntentError, match="already resolved by a"),
        filled.write_connection() as conn,
    ):
        operator.resolve_attention(conn, item_id, actor="b", now=NOW)
    with (
        pytest.raises(operator.IntentError, match="needs some text"),
        filled.write_connection() as conn,
    ):
        operator.add_note(conn, 1, "   ", actor="a")
    with pytest.raises(operator.IntentError, match="at most"), filled.write_connection() as conn:
        operator.add_note(conn, 1, "x" * (operator.NOTE_MAX + 1), actor="a")
    with pytest.raises(NotFoundError), filled.write_connection() as conn:
        operator.poll_now(conn, 999_999, actor="a")
    with pytest.raises(operator.IntentError, match="future"), filled.write_connection() as conn:
        operator.snooze_attention(conn, item_id, NOW - timedelta(hours=1), actor="a", now=NOW)
    with filled.read() as s:  # nothing half-written
        assert s.exec(select(OrderNote).where(OrderNote.order_id == 1)).all() == []


def test_models_and_migrations_agree_with_types(store: Store) -> None:
    with store.read_connection() as conn:
        opts = {"compare_type": True, **search.schema_filters(store.dialect)}
        diff = compare_metadata(MigrationContext.configure(conn, opts=opts), metadata)
    if store.is_sqlite:  # SQLite reflects partial-index predicates imperfectly
        diff = [
            d for d in diff if not (isinstance(d, tuple) and d[0] in {"add_index", "remove_index"})
        ]
    assert diff == []


def test_search_objects_exist(store: Store) -> None:
    with store.read_connection() as conn:
        if store.is_sqlite:
            names = {r[0] for r in conn.exec_driver_sql("SELECT name FROM sqlite_master")}
            assert {
                "orders_fts",
                "orders_fts_insert",
                "orders_fts_update",
                "orders_fts_delete",
            } <= names
        else:
            indexes = {i["name"] for i in sa.inspect(conn).get_indexes("orders")}
            assert search.PG_INDEX in indexes


def test_listing_of_an_empty_table(store: Store) -> None:
    listing: Listing = board.listing(board.BoardQuery(sort="eta"), store.dialect)
    with store.read_connection() as conn:
        assert listing.first(conn, 10) == []
        assert listing.last(conn, 10) == []
        assert listing.at(conn, 5, 10) == []
        assert listing.count(conn) == 0
