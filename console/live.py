"""Following the store's change feed without blocking the UI or spinning.

One thread looks at :class:`store.changes.ChangeFeed` every ``interval`` seconds
(a ``PRAGMA data_version`` on SQLite, a non-blocking ``notifies()`` on
PostgreSQL: near-free when nothing happened), and posts :class:`StoreChanged`
with the orders that changed. Screens refresh on it; each screen coalesces, so a
burst of commits costs one re-read.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from textual.message import Message

from store import changes
from store.changes import ChangeFeed
from store.engine import Store


class StoreChanged(Message):
    """Someone committed; ``order_ids`` is None when too many changed to list."""

    def __init__(self, seq: int, order_ids: frozenset[int] | None, kinds: frozenset[str]) -> None:
        self.seq = seq
        self.order_ids = order_ids
        self.kinds = kinds
        super().__init__()


class FeedFailed(Message):
    def __init__(self, error: BaseException) -> None:
        self.error = error
        super().__init__()


class Follower:
    """Runs in a worker thread until ``stop`` is set."""

    def __init__(self, store: Store, interval: float, post: Callable[[Message], object]) -> None:
        self.store = store
        self.interval = interval
        self.post = post
        self.stop = threading.Event()

    def run(self) -> None:
        feed: ChangeFeed | None = None
        try:
            feed = ChangeFeed(self.store)
            seen = feed.seq
            failures = 0
            while not self.stop.wait(self.interval):
                try:
                    seq = feed.poll()
                    failures = 0
                except Exception as exc:  # a blip (locked, server restart): retry
                    failures += 1
                    if failures in (3, 30):
                        self.post(FeedFailed(exc))
                    continue
                if seq is None:
                    continue
                with self.store.read_connection() as conn:
                    found = changes.changes_since(conn, seen, limit=2000)
                order_ids: set[int] | None = set()
                kinds = {c.kind for c in found}
                for change in found:
                    if change.order_id is None:
                        order_ids = None
                        break
                    assert order_ids is not None
                    order_ids.add(change.order_id)
                if len(found) >= 2000:
                    order_ids = None
                seen = seq
                self.post(
                    StoreChanged(
                        seq,
                        frozenset(order_ids) if order_ids is not None else None,
                        frozenset(kinds),
                    )
                )
        except Exception as exc:
            self.post(FeedFailed(exc))
        finally:
            if feed is not None:
                feed.close()
