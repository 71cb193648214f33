"""The change feed: how a reader learns, cheaply, that someone else committed.

Writers call :func:`record` inside their transaction. Readers hold a
:class:`ChangeFeed` and call :meth:`ChangeFeed.poll` as often as they like:

- SQLite: ``PRAGMA data_version`` on the feed's own connection changes whenever
  another connection commits; only then is ``max(seq)`` read.
- PostgreSQL: ``pg_notify`` is sent in the writer's transaction (delivered on
  commit) to a connection that LISTENs; ``max(seq)`` is re-read every few seconds
  anyway, so a lost notification is only a late one.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from store.engine import Store
from store.models import ChangeLog
from store.types import utcnow

CHANNEL = "orderdeck_changes"
_table = ChangeLog.__table__  # type: ignore[attr-defined]


def record(conn: Connection, kind: str, order_ids: Iterable[int] | None = None) -> None:
    """Note that ``order_ids`` changed (None: too many to list — re-read everything)."""
    now = utcnow()
    if order_ids is None:
        rows: list[dict[str, Any]] = [{"at": now, "kind": kind, "order_id": None}]
    else:
        rows = [{"at": now, "kind": kind, "order_id": oid} for oid in dict.fromkeys(order_ids)]
        if not rows:
            return
        if len(rows) > 500:
            rows = [{"at": now, "kind": kind, "order_id": None}]
    conn.execute(sa.insert(_table), rows)
    if conn.dialect.name == "postgresql":
        conn.execute(sa.select(sa.func.pg_notify(CHANNEL, kind)))


def latest_seq(conn: Connection) -> int:
    return int(conn.execute(sa.select(sa.func.coalesce(sa.func.max(_table.c.seq), 0))).scalar_one())


@dataclass(frozen=True)
class Change:
    seq: int
    at: datetime
    kind: str
    order_id: int | None


def changes_since(conn: Connection, seq: int, limit: int = 1000) -> list[Change]:
    rows = conn.execute(
        sa.select(_table.c.seq, _table.c.at, _table.c.kind, _table.c.order_id)
        .where(_table.c.seq > seq)
        .order_by(_table.c.seq)
        .limit(limit)
    )
    return [Change(*row) for row in rows]


def prune(conn: Connection, older_than: timedelta = timedelta(days=2)) -> int:
    """Drop old feed rows; the newest row is always kept so ``seq`` never goes back."""
    keep = latest_seq(conn)
    result = conn.execute(
        sa.delete(_table).where(_table.c.at < utcnow() - older_than, _table.c.seq < keep)
    )
    return result.rowcount or 0


class ChangeFeed:
    """Tells a reader whether anything was committed since it last asked."""

    def __init__(self, store: Store, *, fallback_seconds: float = 5.0) -> None:
        self.store = store
        self.fallback_seconds = fallback_seconds
        self._seq = -1
        self._data_version: int | None = None
        self._raw: Any = None
        self._last_full_check = 0.0
        self._open()

    def _open(self) -> None:
        if self.store.is_sqlite:
            self._raw = self.store.engine.raw_connection()
        else:
            import psycopg

            url = self.store.url.set(drivername="postgresql").render_as_string(hide_password=False)
            self._raw = psycopg.connect(url, autocommit=True)
            self._raw.execute(f"LISTEN {CHANNEL}")
        with self.store.read_connection() as conn:
            self._seq = latest_seq(conn)

    @property
    def seq(self) -> int:
        return self._seq

    def _sqlite_changed(self) -> bool:
        cursor = self._raw.cursor()
        try:
            version = cursor.execute("PRAGMA data_version").fetchone()[0]
        finally:
            cursor.close()
        changed = self._data_version is not None and version != self._data_version
        self._data_version = version
        return changed

    def _pg_notified(self) -> bool:
        notified = False
        for _ in self._raw.notifies(timeout=0, stop_after=1000):
            notified = True
        return notified

    def poll(self) -> int | None:
        """The newest ``seq`` if something was committed since the last call, else None."""
        now = time.monotonic()
        hinted = self._sqlite_changed() if self.store.is_sqlite else self._pg_notified()
        if not hinted and now - self._last_full_check < self.fallback_seconds:
            return None
        self._last_full_check = now
        with self.store.read_connection() as conn:
            seq = latest_seq(conn)
        if seq != self._seq:
            self._seq = seq
            return seq
        return None

    def close(self) -> None:
        if self._raw is not None:
            with contextlib.suppress(Exception):
                self._raw.close()
            self._raw = None
