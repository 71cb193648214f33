"""The change feed sees another connection's (and another process's) commits."""

from __future__ import annotations

import subprocess
import sys
import time

from store import changes
from store.engine import Store
from store.models import Order


def _wait_for(feed: changes.ChangeFeed, timeout: float = 10.0) -> int | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        seq = feed.poll()
        if seq is not None:
            return seq
        time.sleep(0.05)
    return None


def test_feed_reports_commits_and_stays_quiet_otherwise(store: Store) -> None:
    feed = changes.ChangeFeed(store, fallback_seconds=60)
    try:
        assert feed.poll() is None
        with store.write() as s:
            order = Order(source="s", external_id="1", number="#1")
            s.add(order)
            s.flush()
            changes.record(s.connection(), "test", [order.id])
        seq = _wait_for(feed)
        assert seq is not None and seq == feed.seq
        assert feed.poll() is None
        with store.read_connection() as conn:
            got = changes.changes_since(conn, 0)
        assert [(c.kind, c.order_id) for c in got] == [("test", order.id)]
    finally:
        feed.close()


def test_feed_sees_another_process(store: Store) -> None:
    feed = changes.ChangeFeed(store, fallback_seconds=60)
    url = store.url.render_as_string(hide_password=False)
    script = (
        "import sys\n"
        "from store.migrate import open_store\n"
        "from store.settings import StoreSettings\n"
        "from store import changes\n"
        "s = open_store(StoreSettings(url=sys.argv[1]))\n"
        "with s.write_connection() as c: changes.record(c, 'other-process')\n"
    )
    try:
        subprocess.run([sys.executable, "-c", script, url], check=True, timeout=60)
        assert _wait_for(feed) is not None
    finally:
        feed.close()


def test_prune_keeps_the_newest_row(store: Store) -> None:
    from datetime import timedelta

    with store.write_connection() as conn:
        changes.record(conn, "a")
        changes.record(conn, "b")
    with store.write_connection() as conn:
        changes.prune(conn, older_than=timedelta(seconds=-1))
        assert changes.latest_seq(conn) == 2
        assert len(changes.changes_since(conn, 0)) == 1
