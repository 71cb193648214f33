"""Keyset pagination: page through an ordered, filtered table by key, never by OFFSET.

A :class:`Listing` is one ordering of one table with its filters. The console's
virtual lists ask it for the rows after or before a row they hold (cheap at any
depth: an index range scan), the first or last rows, the position of a key (to
keep the cursor on the same order when rows move), and, only when the user jumps
far (a scrollbar drag), the rows at an offset.

The sort key is a tuple of columns ending with a unique one (the id); all go the
same direction, so ``(a, id) > (:a, :id)`` walks the index ``(a, id)``. When the
leading column may be NULL, those rows come last in both directions, as their
own partition ordered by id: the same on SQLite (which sorts NULL first) and
PostgreSQL (which sorts it last), and each partition still walks an index.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, RowMapping

Key = tuple[Any, ...]


@dataclass(frozen=True)
class _Part:
    condition: Any
    columns: tuple[Any, ...]
    #: Where this partition's columns start in a full key.
    offset: int


@dataclass(frozen=True)
class Listing:
    """Rows of ``source`` in ``order`` (ascending, or all descending), filtered by ``where``."""

    source: Any
    columns: Sequence[Any]
    order: Sequence[Any]
    descending: bool = False
    where: Sequence[Any] = ()
    nullable_lead: bool = False
    _parts: tuple[_Part, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        order = tuple(self.order)
        if self.nullable_lead and len(order) > 1:
            parts = (
                _Part(order[0].is_not(None), order, 0),
                _Part(order[0].is_(None), order[1:], 1),
            )
        else:
            parts = (_Part(None, order, 0),)
        object.__setattr__(self, "_parts", parts)

    # -- keys ---------------------------------------------------------------

    def key_of(self, row: RowMapping) -> Key:
        return tuple(row[f"_k{i}"] for i in range(len(self.order)))

    def _part_of(self, key: Key) -> int:
        if len(self._parts) > 1 and key[0] is None:
            return 1
        return 0

    # -- queries ------------------------------------------------------------

    def _select(self, part: _Part, *, reverse: bool, cmp: Key | None, after: bool) -> Any:
        query = sa.select(*self.columns, *self._labelled()).select_from(self.source)
        for condition in self.where:
            query = query.where(condition)
        if part.condition is not None:
            query = query.where(part.condition)
        down = self.descending != reverse
        if cmp is not None:
            values = cmp[part.offset :]
            query = query.where(_compare(part.columns, values, greater=(after != self.descending)))
        return query.order_by(*[c.desc() if down else c.asc() for c in part.columns])

    def _base_count(self) -> Any:
        query = sa.select(sa.func.count()).select_from(self.source)
        for condition in self.where:
            query = query.where(condition)
        return query

    def count(self, conn: Connection) -> int:
        return int(conn.execute(self._base_count()).scalar_one())

    def _part_count(self, conn: Connection, part: _Part) -> int:
        query = self._base_count()
        if part.condition is not None:
            query = query.where(part.condition)
        return int(conn.execute(query).scalar_one())

    def after(self, conn: Connection, key: Key | None, limit: int) -> list[RowMapping]:
        """Up to ``limit`` rows after ``key`` (from the start when None), in order."""
        rows: list[RowMapping] = []
        start = 0 if key is None else self._part_of(key)
        for index in range(start, len(self._parts)):
            if len(rows) >= limit:
                break
            cmp = key if (key is not None and index == start) else None
            query = self._select(self._parts[index], reverse=False, cmp=cmp, after=True)
            rows.extend(conn.execute(query.limit(limit - len(rows))).mappings().all())
        return rows

    def before(self, conn: Connection, key: Key | None, limit: int) -> list[RowMapping]:
        """Up to ``limit`` rows before ``key`` (the last rows when None), in order."""
        rows: list[RowMapping] = []
        start = len(self._parts) - 1 if key is None else self._part_of(key)
        for index in range(start, -1, -1):
            if len(rows) >= limit:
                break
            cmp = key if (key is not None and index == start) else None
            query = self._select(self._parts[index], reverse=True, cmp=cmp, after=False)
            rows.extend(conn.execute(query.limit(limit - len(rows))).mappings().all())
        rows.reverse()
        return rows

    def first(self, conn: Connection, limit: int) -> list[RowMapping]:
        return self.after(conn, None, limit)

    def last(self, conn: Connection, limit: int) -> list[RowMapping]:
        return self.before(conn, None, limit)

    def at(self, conn: Connection, offset: int, limit: int) -> list[RowMapping]:
        """Rows from position ``offset``: an OFFSET scan, for far jumps only."""
        rows: list[RowMapping] = []
        skip = max(0, offset)
        for part in self._parts:
            if len(rows) >= limit:
                break
            query = self._select(part, reverse=False, cmp=None, after=True)
            got = conn.execute(query.offset(skip).limit(limit - len(rows))).mappings().all()
            rows.extend(got)
            if len(self._parts) > 1 and len(rows) < limit:
                size = skip + len(got) if got else self._part_count(conn, part)
                skip = max(0, skip - size)
        return rows

    def find(self, conn: Connection, condition: Any) -> RowMapping | None:
        """The row matching ``condition`` if it is in this listing (filters applied)."""
        query = sa.select(*self.columns, *self._labelled()).select_from(self.source)
        for clause in (*self.where, condition):
            query = query.where(clause)
        return conn.execute(query.limit(1)).mappings().first()

    def _labelled(self) -> list[Any]:
        return [c.label(f"_k{i}") for i, c in enumerate(self.order)]

    def rank(self, conn: Connection, key: Key) -> int:
        """How many rows come before ``key`` (its position when it is in the listing)."""
        index = self._part_of(key)
        total = sum(self._part_count(conn, part) for part in self._parts[:index])
        part = self._parts[index]
        query = self._base_count()
        if part.condition is not None:
            query = query.where(part.condition)
        query = query.where(_compare(part.columns, key[part.offset :], greater=self.descending))
        return total + int(conn.execute(query).scalar_one())


def _compare(columns: Sequence[Any], values: Sequence[Any], *, greater: bool) -> Any:
    binds = [sa.bindparam(None, v, type_=c.type) for c, v in zip(columns, values, strict=True)]
    if len(columns) == 1:
        return columns[0] > binds[0] if greater else columns[0] < binds[0]
    left, right = sa.tuple_(*columns), sa.tuple_(*binds)
    return left > right if greater else left < right
