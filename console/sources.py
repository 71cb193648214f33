"""Listings from the store as :class:`~console.widgets.virtual_list.ListSource` s.

Each call opens a short read connection, so a fetch never holds a snapshot (or,
on PostgreSQL, a transaction) open between pages.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any, Generic, TypeVar

from sqlalchemy.engine import RowMapping

from store.engine import Store
from store.keyset import Key, Listing

R = TypeVar("R")


class SqlSource(Generic[R]):
    def __init__(
        self,
        store: Store,
        listing: Listing,
        convert: Callable[[Listing, RowMapping], R],
        id_column: Any,
    ) -> None:
        self.store = store
        self.listing = listing
        self.convert = convert
        self.id_column = id_column

    def _rows(self, fetch: Callable[[Any], list[RowMapping]]) -> list[R]:
        with self.store.read_connection() as conn:
            return [self.convert(self.listing, r) for r in fetch(conn)]

    def count(self) -> int:
        with self.store.read_connection() as conn:
            return self.listing.count(conn)

    def first(self, limit: int) -> list[R]:
        return self._rows(lambda c: self.listing.first(c, limit))

    def last(self, limit: int) -> list[R]:
        return self._rows(lambda c: self.listing.last(c, limit))

    def after(self, key: Key, limit: int) -> list[R]:
        return self._rows(lambda c: self.listing.after(c, key, limit))

    def before(self, key: Key, limit: int) -> list[R]:
        return self._rows(lambda c: self.listing.before(c, key, limit))

    def at(self, offset: int, limit: int) -> list[R]:
        return self._rows(lambda c: self.listing.at(c, offset, limit))

    def rank(self, key: Key) -> int:
        with self.store.read_connection() as conn:
            return self.listing.rank(conn, key)

    def find(self, row_id: Hashable) -> R | None:
        with self.store.read_connection() as conn:
            row = self.listing.find(conn, self.id_column == row_id)
            return self.convert(self.listing, row) if row is not None else None

    def key(self, row: R) -> Key:
        return row.key  # type: ignore[attr-defined,no-any-return]

    def row_id(self, row: R) -> Hashable:
        return row.id  # type: ignore[attr-defined,no-any-return]
