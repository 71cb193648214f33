"""Listings from the store as :class:`~console.widgets.virtual_list.ListSource` s.

Each call opens a short read connection, so a fetch never holds a snapshot (or,
on PostgreSQL, a transaction) open between pages.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import Any, Generic, TypeVar

from sqlalchemy.engine import Connection, RowMapping

from store.engine import Store
from store.keyset import Key, Listing

R = TypeVar("R")


class SqlSource(Generic[R]):
    def __init__(
        self,
        store: Store,
        listing: Listing | Callable[[Connection], Listing],
        convert: Callable[[Listing, RowMapping], R],
        id_column: Any,
    ) -> None:
        """``listing``, or a function that builds it on the first fetch's connection
        (a search plans itself there, off the UI thread)."""
        self.store = store
        self._listing = listing if isinstance(listing, Listing) else None
        self._build = None if isinstance(listing, Listing) else listing
        self._lock = threading.Lock()
        self.convert = convert
        self.id_column = id_column

    def listing_for(self, conn: Connection) -> Listing:
        with self._lock:
            if self._listing is None:
                assert self._build is not None
                self._listing = self._build(conn)
            return self._listing

    def _rows(self, fetch: Callable[[Listing, Connection], list[RowMapping]]) -> list[R]:
        with self.store.read_connection() as conn:
            listing = self.listing_for(conn)
            return [self.convert(listing, r) for r in fetch(listing, conn)]

    def count(self) -> int:
        with self.store.read_connection() as conn:
            return self.listing_for(conn).count(conn)

    def first(self, limit: int) -> list[R]:
        return self._rows(lambda lst, c: lst.first(c, limit))

    def last(self, limit: int) -> list[R]:
        return self._rows(lambda lst, c: lst.last(c, limit))

    def after(self, key: Key, limit: int) -> list[R]:
        return self._rows(lambda lst, c: lst.after(c, key, limit))

    def before(self, key: Key, limit: int) -> list[R]:
        return self._rows(lambda lst, c: lst.before(c, key, limit))

    def at(self, offset: int, limit: int) -> list[R]:
        return self._rows(lambda lst, c: lst.at(c, offset, limit))

    def rank(self, key: Key) -> int:
        with self.store.read_connection() as conn:
            return self.listing_for(conn).rank(conn, key)

    def find(self, row_id: Hashable) -> R | None:
        with self.store.read_connection() as conn:
            listing = self.listing_for(conn)
            row = listing.find(conn, self.id_column == row_id)
            return self.convert(listing, row) if row is not None else None

    def key(self, row: R) -> Key:
        return row.key  # type: ignore[attr-defined,no-any-return]

    def row_id(self, row: R) -> Hashable:
        return row.id  # type: ignore[attr-defined,no-any-return]
