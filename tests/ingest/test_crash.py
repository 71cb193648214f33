"""kill -9 in the middle of a file: nothing of it is applied, and the restart imports it once."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from store.engine import Store
from sync.ingest import DropFolderWatcher
from sync.ingest.folder import PROCESSED, PROCESSING
from tests.ingest.conftest import count, items
from tests.ingest.test_folder import folder_settings

ROOT = Path(__file__).resolve().parents[2]

# Runs the real watcher on the real file; the rules hook stands still inside the
# file's transaction (after its first batch was written) until it is killed.
CHILD = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from store.migrate import open_store
    from store.settings import StoreSettings
    from sync.ingest import DropFolderWatcher
    from sync.settings import DropFolder, IngestSettings, SyncSettings

    def hang(conn, changes):
        print("INSIDE", len(changes), flush=True)
        time.sleep(120)

    store = open_store(StoreSettings(url=sys.argv[1]))
    settings = SyncSettings(
        ingest=IngestSettings(
            drop_folders=(DropFolder(path=Path(sys.argv[2]), source="shop"),),
            min_age_seconds=0.0,
            batch_size=2,
        ),
        default_country="GB",
    )
    watcher = DropFolderWatcher(store, settings, on_changes=hang)
    watcher.scan_once()
    watcher.scan_once()
    print("NOT KILLED", flush=True)
    """
)


def test_kill_mid_file_then_restart(store: Store, files: Path, tmp_path: Path) -> None:
    drop = tmp_path / "drop"
    drop.mkdir()
    shutil.copy(files / "woocommerce_orders.csv", drop / "woo.csv")
    url = store.url.render_as_string(hide_password=False)
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, url, str(drop)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        assert child.stdout is not None
        line = child.stdout.readline()
        assert line.startswith("INSIDE"), line + (child.stderr.read() if child.stderr else "")
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.kill()
        child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL

    # The first batch had been written inside the transaction: none of it is visible.
    assert (drop / PROCESSING / "woo.csv").exists()
    for table in ("orders", "line_items", "shipments", "ingested_files", "change_log"):
        assert count(store, table) == 0, table

    restarted = DropFolderWatcher(store, folder_settings(drop))
    (event,) = restarted.scan_once()
    assert (event.name, event.outcome) == ("woo.csv", "imported")
    assert event.moved_to == drop / PROCESSED / restarted._today() / "woo.csv"
    assert (count(store, "orders"), count(store, "line_items"), count(store, "shipments")) == (
        4,
        5,
        3,
    )
    assert len(items(store, "3001")) == 2

    # And once more from the start: nothing is applied twice.
    assert DropFolderWatcher(store, folder_settings(drop)).scan_once() == []
    assert (count(store, "orders"), count(store, "line_items"), count(store, "shipments")) == (
        4,
        5,
        3,
    )
    assert count(store, "ingested_files") == 1
