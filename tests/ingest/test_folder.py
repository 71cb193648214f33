"""Drop folders: complete files are taken, every outcome is filed, nothing is deleted."""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
import time
from pathlib import Path

from store.engine import Store
from sync.ingest import DropFolderWatcher, FolderEvent
from sync.ingest.folder import FAILED, PROCESSED, PROCESSING
from sync.ingest.owner import MARKER
from sync.settings import DropFolder, IngestSettings, SyncSettings
from tests.ingest.conftest import ERP, count, order


def folder_settings(drop: Path, **ingest: object) -> SyncSettings:
    values: dict[str, object] = {"min_age_seconds": 0.0, "formats": {"erp": ERP}}
    values.update(ingest)
    return SyncSettings(
        ingest=IngestSettings(
            drop_folders=(DropFolder(path=drop, source="shop"),),
            **values,  # type: ignore[arg-type]
        ),
        default_country="GB",
    )


def contents(root: Path) -> dict[str, int]:
    """Digest -> how many files under root hold those bytes (symlinks as their target)."""
    found: dict[str, int] = {}
    for path in root.rglob("*"):
        if path.is_file() and not path.name.endswith(".error.txt") and path.name != MARKER:
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            found[digest] = found.get(digest, 0) + 1
    return found


def today(watcher: DropFolderWatcher) -> str:
    return watcher._today()


def test_every_outcome_is_filed(store: Store, files: Path, tmp_path: Path) -> None:
    drop = tmp_path / "drop"
    drop.mkdir()
    outside = tmp_path / "outside.csv"
    shutil.copy(files / "woocommerce_orders.csv", outside)
    for name in ("shopify_orders.csv", "shopify_bad_rows.csv", "empty.csv"):
        shutil.copy(files / name, drop / name)
    shutil.copy(files / "shopify_orders.csv", drop / "zz_same_bytes.csv")
    shutil.copy(files / "tracking.csv", drop / "tracking.csv.part")
    (drop / "link.csv").symlink_to(outside)
    (drop / "huge.csv").write_bytes(b"Name\n" + b"x" * 200_000)
    (drop / ".hidden.csv").write_text("Name\n#1\n")
    before = contents(drop)

    events: list[FolderEvent] = []
    watcher = DropFolderWatcher(
        store, folder_settings(drop, max_file_bytes=100_000), on_event=events.append
    )
    first = watcher.scan_once()
    # Refused at once; the rest is seen once and waits to be seen unchanged.
    assert sorted((e.name, e.outcome) for e in first) == [
        ("huge.csv", "refused"),
        ("link.csv", "refused"),
    ]
    assert watcher.pending
    second = watcher.scan_once()
    assert [(e.name, e.outcome) for e in second] == [
        ("empty.csv", "rejected"),
        ("shopify_bad_rows.csv", "partial"),
        ("shopify_orders.csv", "imported"),
        ("zz_same_bytes.csv", "duplicate"),
    ]
    assert events == first + second
    day = drop / PROCESSED / today(watcher)
    assert sorted(p.name for p in day.iterdir()) == [
        "shopify_bad_rows.csv",
        "shopify_bad_rows.csv.error.txt",
        "shopify_orders.csv",
        "zz_same_bytes.csv",
    ]
    assert sorted(p.name for p in (drop / FAILED).iterdir()) == [
        "empty.csv",
        "empty.csv.error.txt",
        "huge.csv",
        "huge.csv.error.txt",
        "link.csv",
        "link.csv.error.txt",
    ]
    assert (drop / FAILED / "link.csv").is_symlink() and outside.exists()
    assert (
        "The file was not imported: the file is empty"
        in (drop / FAILED / "empty.csv.error.txt").read_text()
    )
    report = (day / "shopify_bad_rows.csv.error.txt").read_text()
    assert "row 4, column 'Lineitem quantity': quantity -2 is negative" in report
    assert "rejected: 6" in report
    assert "over the limit of 100,000" in (drop / FAILED / "huge.csv.error.txt").read_text()
    assert "symbolic link" in (drop / FAILED / "link.csv.error.txt").read_text()
    # The .part file and the hidden one are left alone, the processing folder is empty.
    # (.orderdeck-folder names the folder for the workers that may share it.)
    assert sorted(p.name for p in drop.iterdir() if p.is_file()) == [
        ".hidden.csv",
        ".orderdeck-folder",
        "tracking.csv.part",
    ]
    assert list((drop / PROCESSING).iterdir()) == []
    assert count(store, "orders") == 7

    # Renamed when complete: now it is taken.
    os.rename(drop / "tracking.csv.part", drop / "tracking.csv")
    assert watcher.scan_once() == []
    (tracked,) = watcher.scan_once()
    assert (tracked.name, tracked.outcome) == ("tracking.csv", "partial")
    assert tracked.moved_to == day / "tracking.csv"
    assert order(store, "#1001")["carrier"] == "ups"
    # Nothing was deleted: every file's bytes are still in the folder.
    assert contents(drop) == before


def test_a_growing_or_young_file_waits(store: Store, files: Path, tmp_path: Path) -> None:
    drop = tmp_path / "drop"
    drop.mkdir()
    path = drop / "orders.csv"
    path.write_bytes((files / "shopify_orders.csv").read_bytes()[:500])
    watcher = DropFolderWatcher(store, folder_settings(drop))
    assert watcher.scan_once() == []
    with open(path, "ab") as handle:  # still being written
        handle.write((files / "shopify_orders.csv").read_bytes()[500:])
    assert watcher.scan_once() == []
    (event,) = watcher.scan_once()
    assert event.outcome == "imported"

    young = DropFolderWatcher(store, folder_settings(drop, min_age_seconds=3600))
    shutil.copy(files / "woocommerce_orders.csv", drop / "woo.csv")
    assert young.scan_once() == [] and young.scan_once() == []
    assert young.pending and (drop / "woo.csv").exists()


def test_same_name_twice_is_kept_apart(store: Store, files: Path, tmp_path: Path) -> None:
    drop = tmp_path / "drop"
    drop.mkdir()
    watcher = DropFolderWatcher(store, folder_settings(drop))
    for source in ("shopify_orders.csv", "shopify_orders_later.csv"):
        shutil.copy(files / source, drop / "export.csv")
        watcher.scan_once()
        watcher.scan_once()
    day = drop / PROCESSED / today(watcher)
    assert sorted(p.name for p in day.iterdir()) == ["export (2).csv", "export.csv"]
    assert count(store, "orders") == 6


def test_files_left_in_processing_are_resumed(store: Store, files: Path, tmp_path: Path) -> None:
    drop = tmp_path / "drop"
    (drop / PROCESSING).mkdir(parents=True)
    shutil.copy(files / "shopify_orders.csv", drop / PROCESSING / "orders.csv")
    watcher = DropFolderWatcher(store, folder_settings(drop))
    (event,) = watcher.scan_once()
    assert (event.name, event.outcome) == ("orders.csv", "imported")
    # Committed but not moved (a crash in between): the redo is a no-op, filed once.
    shutil.copy(files / "shopify_orders.csv", drop / PROCESSING / "again.csv")
    (event,) = DropFolderWatcher(store, folder_settings(drop)).scan_once()
    assert event.outcome == "duplicate"
    assert count(store, "orders") == 5 and count(store, "line_items") == 8
    assert list((drop / PROCESSING).iterdir()) == []


def test_folder_format_and_encoding(store: Store, tmp_path: Path, files: Path) -> None:
    drop = tmp_path / "erp"
    drop.mkdir()
    shutil.copy(files / "erp_orders.csv", drop / "erp_orders.csv")
    settings = SyncSettings(
        ingest=IngestSettings(
            drop_folders=(DropFolder(path=drop, source="erp", format="erp", encoding="cp1252"),),
            formats={"erp": ERP},
            min_age_seconds=0.0,
        )
    )
    watcher = DropFolderWatcher(store, settings)
    watcher.scan_once()
    (event,) = watcher.scan_once()
    assert event.outcome == "imported" and event.result is not None
    assert event.result.format == "erp" and event.result.source == "erp"


async def test_run_picks_up_a_dropped_file(store: Store, files: Path, tmp_path: Path) -> None:
    drop = tmp_path / "drop"
    drop.mkdir()
    # A long timer: only the file event (and the quick recheck it starts) can find it.
    settings = folder_settings(drop, scan_interval_seconds=300.0, min_age_seconds=0.2)
    events: list[FolderEvent] = []
    watcher = DropFolderWatcher(store, settings, on_event=events.append)
    stop = asyncio.Event()
    task = asyncio.create_task(watcher.run(stop))
    await asyncio.sleep(0.5)  # the start scan has run and the watch is set up
    part = drop / "orders.csv.part"
    part.write_bytes((files / "shopify_orders.csv").read_bytes())
    await asyncio.sleep(1.0)
    assert events == []  # a .part file is never taken
    os.rename(part, drop / "orders.csv")
    deadline = time.monotonic() + 30
    while not events and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    stop.set()
    await asyncio.wait_for(task, timeout=30)
    assert [(e.name, e.outcome) for e in events] == [("orders.csv", "imported")]
    assert (drop / PROCESSED / today(watcher) / "orders.csv").exists()
    assert count(store, "orders") == 5


def test_failures_inside_the_transaction(store: Store, files: Path, tmp_path: Path) -> None:
    import pytest

    from store.errors import StoreError

    drop = tmp_path / "drop"
    drop.mkdir()
    shutil.copy(files / "woocommerce_orders.csv", drop / "woo.csv")

    def store_away(conn: object, changes: object) -> None:
        raise StoreError("cannot open the store: connection refused")

    watcher = DropFolderWatcher(store, folder_settings(drop), on_changes=store_away)
    watcher.scan_once()
    with pytest.raises(StoreError):
        watcher.scan_once()
    # Put back, to be tried again; nothing was applied.
    assert (drop / "woo.csv").exists() and count(store, "orders") == 0

    def buggy(conn: object, changes: object) -> None:
        raise RuntimeError("rules exploded")

    watcher = DropFolderWatcher(store, folder_settings(drop), on_changes=buggy)
    watcher.scan_once()
    (event,) = watcher.scan_once()
    assert event.outcome == "rejected"
    assert event.reason == "internal error: RuntimeError: rules exploded"
    assert (drop / FAILED / "woo.csv").exists()
    assert "rules exploded" in (drop / FAILED / "woo.csv.error.txt").read_text()
    assert count(store, "orders") == 0


async def test_run_once_counts(store: Store, files: Path, tmp_path: Path) -> None:
    drop = tmp_path / "drop"
    drop.mkdir()
    shutil.copy(files / "shopify_bad_rows.csv", drop / "a.csv")
    shutil.copy(files / "empty.csv", drop / "b.csv")
    watcher = DropFolderWatcher(store, folder_settings(drop))
    assert watcher.name == "ingest"
    # One pass looks twice (a file is taken once seen unchanged), so it takes both.
    assert await watcher.run_once() == {
        "files": 2,
        "partial": 1,
        "rejected": 1,
        "orders_created": 2,
        "orders_updated": 0,
        "shipments_created": 0,
        "rows_rejected": 6,
    }
    assert await watcher.run_once() == {"files": 0}
