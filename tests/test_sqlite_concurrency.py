"""A writer process and a reader process (and a second writer) on one SQLite file at once."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from store.engine import Store

WRITER = textwrap.dedent(
    """
    import sys
    from datetime import UTC, datetime
    from store.migrate import open_store
    from store.settings import StoreSettings
    from store.models import Order
    from store import changes

    store = open_store(StoreSettings(url=sys.argv[1]))
    tag = sys.argv[2]
    for batch in range(60):
        with store.write() as s:
            for i in range(10):
                s.add(Order(source=tag, external_id=f"{batch}-{i}", number=f"#{tag}{batch}-{i}"))
            s.flush()
            changes.record(s.connection(), "test")
    print("wrote", tag)
    """
)

READER = textwrap.dedent(
    """
    import sys, time
    import sqlalchemy as sa
    from store.migrate import open_store
    from store.settings import StoreSettings

    store = open_store(StoreSettings(url=sys.argv[1]))
    seen = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with store.read_connection() as conn:
            n = conn.execute(sa.text("SELECT count(*) FROM orders")).scalar_one()
        seen.append(n)
        if n >= 1200:
            break
    assert seen == sorted(seen), "a reader saw the count go backwards"
    print("read", len(seen), seen[-1])
    """
)


def test_writers_and_reader_never_see_database_is_locked(sqlite_store: Store) -> None:
    url = str(sqlite_store.url.render_as_string(hide_password=False))
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, url, "a"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        ),
        subprocess.Popen(
            [sys.executable, "-c", WRITER, url, "b"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        ),
        subprocess.Popen(
            [sys.executable, "-c", READER, url],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        ),
    ]
    outputs = [p.communicate(timeout=120) for p in procs]
    for proc, (_out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err
        assert "locked" not in err
    assert outputs[2][0].split()[-1] == "1200"
