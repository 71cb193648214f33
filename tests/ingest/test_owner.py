"""One owner per drop folder, in one process: two watchers with locks of their own
stand for two workers (real flock on a real file; real advisory locks on two real
PostgreSQL connections)."""

from __future__ import annotations

import asyncio
import os
import shutil
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from store.engine import Store
from sync.ingest import DropFolderWatcher, FolderEvent
from sync.ingest.folder import PROCESSED, PROCESSING
from sync.ingest.owner import (
    MARKER,
    FlockLocks,
    Locks,
    OwnershipError,
    PgLocks,
    folder_identity,
)
from tests.ingest.conftest import count, rows
from tests.ingest.test_folder import folder_settings


def own_locks(store: Store) -> Locks:
    """Locks of their own, as another process would have."""
    if store.is_sqlite:
        return FlockLocks()
    return PgLocks(store.url.set(drivername="postgresql").render_as_string(hide_password=False))


def break_lock(store: Store, locks: Locks, drop: Path) -> None:
    """What takes a lock away from a live owner: its PostgreSQL session ended by the
    server; on SQLite, its lock file deleted."""
    if store.is_sqlite:
        os.remove(drop / MARKER)
        return
    assert isinstance(locks, PgLocks) and locks._conn is not None
    backend = locks._conn.info.backend_pid
    with store.read_connection() as conn:
        assert conn.execute(sa.text("SELECT pg_terminate_backend(:p)"), {"p": backend}).scalar()


def drop_files(files: Path, drop: Path, *names: str) -> None:
    for name in names:
        shutil.copy(files / name, drop / name)


def imported_names(events: list[FolderEvent]) -> list[str]:
    return sorted(e.name for e in events if e.outcome in ("imported", "partial"))


def test_one_owner_then_failover_on_close(store: Store, files: Path, tmp_path: Path) -> None:
    drop = tmp_path / "drop"
    drop.mkdir()
    settings = folder_settings(drop)
    first = DropFolderWatcher(store, settings, locks=own_locks(store))
    second = DropFolderWatcher(store, settings, locks=own_locks(store))
    drop_files(files, drop, "shopify_orders.csv")
    taken: list[FolderEvent] = []
    for _ in range(2):  # a file is taken once seen unchanged twice
        taken += first.scan_once()
        assert second.scan_once() == []
    assert imported_names(taken) == ["shopify_orders.csv"]
    assert first.status() == {"folders_owned": [str(drop)], "folders_standby": []}
    assert second.status() == {"folders_owned": [], "folders_standby": [str(drop)]}
    reason = second.ownership.standing_by[drop]
    assert ("another process" in reason) if store.is_sqlite else ("owned by" in reason)

    # The owner goes away with a file half done in processing/: the standby takes
    # the folder over, resumes that file, then takes new ones.
    shutil.copy(files / "woocommerce_orders.csv", drop / PROCESSING / "woo.csv")
    first.close()
    drop_files(files, drop, "shopify_orders_later.csv")
    taken = second.scan_once() + second.scan_once()
    assert imported_names(taken) == ["shopify_orders_later.csv", "woo.csv"]
    assert second.status()["folders_owned"] == [str(drop)]
    assert first.scan_once() == [] and first.status()["folders_standby"] == [str(drop)]

    files_rows = rows(store, "SELECT path, outcome FROM ingested_files ORDER BY id")
    assert [Path(r["path"]).name for r in files_rows] == [
        "shopify_orders.csv",
        "woo.csv",
        "shopify_orders_later.csv",
    ]
    assert list((drop / PROCESSING).iterdir()) == []
    second.close()


def test_lost_lock_stops_before_the_next_file(store: Store, files: Path, tmp_path: Path) -> None:
    drop = tmp_path / "drop"
    drop.mkdir()
    settings = folder_settings(drop)
    locks = own_locks(store)
    broken: list[str] = []

    def after_each(event: FolderEvent) -> None:
        if not broken:
            broken.append(event.name)
            break_lock(store, locks, drop)

    owner = DropFolderWatcher(store, settings, locks=locks, on_event=after_each)
    drop_files(files, drop, "shopify_orders.csv", "tracking.csv", "woocommerce_orders.csv")
    assert owner.scan_once() == []  # first look
    taken = owner.scan_once()
    # The lock went after the first file: not one more file was touched.
    assert [e.name for e in taken] == ["shopify_orders.csv"] == broken
    assert sorted(p.name for p in drop.iterdir() if p.is_file() and p.name != MARKER) == [
        "tracking.csv",
        "woocommerce_orders.csv",
    ]
    assert list((drop / PROCESSING).iterdir()) == []
    assert owner.status()["folders_owned"] == []

    # Another worker takes over (on PostgreSQL, once the server has ended that session).
    other = DropFolderWatcher(store, settings, locks=own_locks(store))
    taken = []
    deadline = time.monotonic() + 60
    while len(taken) < 2 and time.monotonic() < deadline:
        taken += other.scan_once()
        time.sleep(0.05)
    assert imported_names(taken) == ["tracking.csv", "woocommerce_orders.csv"]
    assert count(store, "ingested_files") == 3
    filed = sorted(p.name for p in (drop / PROCESSED).rglob("*.csv"))
    assert filed == ["shopify_orders.csv", "tracking.csv", "woocommerce_orders.csv"]
    other.close()
    owner.close()


async def test_run_stands_by_and_takes_over(store: Store, files: Path, tmp_path: Path) -> None:
    """``run``: the standby tries every few seconds and takes over when the owner stops."""
    drop = tmp_path / "drop"
    drop.mkdir()
    settings = folder_settings(drop, scan_interval_seconds=300.0)
    events: dict[str, list[FolderEvent]] = {"a": [], "b": []}
    a = DropFolderWatcher(store, settings, locks=own_locks(store), on_event=events["a"].append)
    b = DropFolderWatcher(store, settings, locks=own_locks(store), on_event=events["b"].append)
    stop_a, stop_b = asyncio.Event(), asyncio.Event()
    task_a = asyncio.create_task(a.run(stop_a))

    async def until(condition: object, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while not condition() and time.monotonic() < deadline:  # type: ignore[operator]
            await asyncio.sleep(0.1)
        assert condition(), "timed out"  # type: ignore[operator]

    await until(lambda: a.status()["folders_owned"] == [str(drop)])
    task_b = asyncio.create_task(b.run(stop_b))
    await until(lambda: b.status()["folders_standby"] == [str(drop)])
    drop_files(files, drop, "shopify_orders.csv")
    await until(lambda: events["a"])
    stop_a.set()
    await asyncio.wait_for(task_a, timeout=60)
    await until(lambda: b.status()["folders_owned"] == [str(drop)])
    drop_files(files, drop, "woocommerce_orders.csv")
    await until(lambda: events["b"])
    stop_b.set()
    await asyncio.wait_for(task_b, timeout=60)
    assert [e.name for e in events["a"]] == ["shopify_orders.csv"]
    assert [e.name for e in events["b"]] == ["woocommerce_orders.csv"]
    assert count(store, "ingested_files") == 2


async def test_once_skips_a_folder_owned_elsewhere(
    store: Store, files: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    drop = tmp_path / "drop"
    drop.mkdir()
    settings = folder_settings(drop)
    owner = DropFolderWatcher(store, settings, locks=own_locks(store))
    owner.scan_once()
    drop_files(files, drop, "shopify_orders.csv")
    once = DropFolderWatcher(store, settings, locks=own_locks(store))
    assert await once.run_once() == {"files": 0, "folders_owned_elsewhere": 1}
    assert (drop / "shopify_orders.csv").exists() and count(store, "orders") == 0
    assert f"drop folder {drop} skipped" in caplog.text
    owner.close()
    counters = await once.run_once()
    assert counters["files"] == 1 and "folders_owned_elsewhere" not in counters
    assert once.status() == {"folders_owned": [], "folders_standby": []}  # let go after


def test_folder_identity(tmp_path: Path) -> None:
    drop = tmp_path / "drop"
    drop.mkdir()
    identity = folder_identity(drop)
    assert identity and len(identity) == 32
    # Mounted elsewhere (here: through a symbolic link), it is the same folder.
    (tmp_path / "mnt").symlink_to(drop)
    assert folder_identity(tmp_path / "mnt") == identity
    # Another folder, even with the same name, is another folder.
    (tmp_path / "other" / "drop").mkdir(parents=True)
    assert folder_identity(tmp_path / "other" / "drop") not in (None, identity)

    (drop / MARKER).write_text("garbage\n")
    assert folder_identity(drop) is None  # perhaps being written: try again later
    old = time.time() - 3600
    os.utime(drop / MARKER, (old, old))
    with pytest.raises(OwnershipError, match=r"\.orderdeck-folder is damaged.*delete it"):
        folder_identity(drop)


def test_a_symlinked_path_shares_the_lock(store: Store, tmp_path: Path) -> None:
    """Two workers that reach one share under two paths still exclude each other."""
    drop = tmp_path / "drop"
    drop.mkdir()
    (tmp_path / "mnt").symlink_to(drop)
    first = DropFolderWatcher(store, folder_settings(drop), locks=own_locks(store))
    second = DropFolderWatcher(store, folder_settings(tmp_path / "mnt"), locks=own_locks(store))
    first.scan_once()
    second.scan_once()
    assert first.status()["folders_owned"] == [str(drop)]
    assert second.status()["folders_owned"] == []
    first.close()
    second.scan_once()
    assert second.status()["folders_owned"] == [str(tmp_path / "mnt")]
    second.close()
