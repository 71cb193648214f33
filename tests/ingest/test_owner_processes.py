"""Two ``orderdeck sync`` processes on one drop folder: one imports, the other stands
by; the owner is killed and the standby takes over, resuming what it left behind.
On SQLite (flock) and on PostgreSQL (advisory locks)."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import pytest
import sqlalchemy as sa

from store.migrate import open_store
from store.settings import StoreSettings
from sync.ingest.folder import FAILED, PROCESSED, PROCESSING
from sync.ingest.owner import MARKER
from tests.conftest import run_cli
from tests.ingest.conftest import FIXTURES

TIMEOUT = 90.0
CLI = (sys.executable, "-m", "orderdeck")


def _until(condition: Callable[[], Any], what: str, timeout: float = TIMEOUT) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


class Worker:
    def __init__(self, config: Path, env: dict[str, str], log: Path) -> None:
        self.log = log
        self._out: IO[str] = open(log, "w", encoding="utf-8")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [*CLI, "--config", str(config), "sync", "--only", "ingest", "--log-level", "INFO"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=self._out,
            text=True,
        )

    def lines(self) -> list[dict[str, Any]]:
        text = self.log.read_text(encoding="utf-8")
        return [json.loads(line) for line in text.splitlines() if line.startswith("{")]

    def said(self, fragment: str) -> bool:
        return any(fragment in line["message"] for line in self.lines())

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=30)
        self._out.close()


@pytest.fixture
def workers() -> Iterator[list[Worker]]:
    started: list[Worker] = []
    yield started
    for worker in started:
        worker.stop()


def _setup(store_url: str, tmp_path: Path) -> tuple[Path, Path]:
    """A drop folder, a configuration watching it, and the store, migrated before any
    worker starts."""
    drop = tmp_path / "drop"
    drop.mkdir()
    config = tmp_path / "config.toml"
    config.write_text(
        f'[store]\nurl = "{store_url}"\n'
        "[sync]\nheartbeat_interval = 0.5\nscan_interval = 2\nmin_file_age = 0\n"
        f'[[sync.drop_folders]]\npath = "{drop}"\nsource = "shop"\n',
        encoding="utf-8",
    )
    open_store(StoreSettings(url=store_url)).dispose()
    return drop, config


def _owners(env: dict[str, str], config: Path, drop: Path) -> tuple[list[int], list[int]]:
    result = run_cli("--config", str(config), "status", "--json", env=env)
    assert result.returncode == 0, result.stderr
    owning, standing = [], []
    for w in json.loads(result.stdout)["workers"]:
        ingest = w["counters"].get("ingest", {})
        if w["alive"] and str(drop) in ingest.get("folders_owned", []):
            owning.append(w["pid"])
        if w["alive"] and str(drop) in ingest.get("folders_standby", []):
            standing.append(w["pid"])
    return owning, standing


def _imports(workers: list[Worker], name: str) -> list[int]:
    """Which processes said they imported ``name`` (one line per import)."""
    return [
        w.proc.pid
        for w in workers
        for line in w.lines()
        if line["message"].startswith(f"{name}: ") and " -> " in line["message"]
    ]


def test_one_owner_and_failover(
    store_url: str, tmp_path: Path, cli_env: dict[str, str], workers: list[Worker]
) -> None:
    drop, config = _setup(store_url, tmp_path)
    for n in range(2):
        workers.append(Worker(config, cli_env, tmp_path / f"worker{n}.log"))

    def settled() -> tuple[list[int], list[int]] | None:
        owning, standing = _owners(cli_env, config, drop)
        return (owning, standing) if owning and standing else None

    owning, standing = _until(settled, "one owner and one standby")
    assert len(owning) == 1 and len(standing) == 1 and owning != standing
    owner = next(w for w in workers if w.proc.pid == owning[0])
    standby = next(w for w in workers if w.proc.pid == standing[0])
    assert owner.said("this worker owns it now") and not standby.said("owns it now")
    assert standby.said("standing by")
    text = run_cli("--config", str(config), "status", env=cli_env).stdout
    assert f"owns {drop}" in text and f"stands by for {drop}" in text

    shutil.copy(FIXTURES / "shopify_orders.csv", drop / "a.csv")
    _until(lambda: _imports(workers, "a.csv"), "a.csv imported")

    # The owner dies with a file in processing/ (killed mid-file): the standby takes
    # the folder over, resumes that file, then imports new ones.
    shutil.copy(FIXTURES / "woocommerce_orders.csv", drop / PROCESSING / "b.csv")
    os.kill(owner.proc.pid, signal.SIGKILL)
    owner.proc.wait(timeout=30)
    _until(lambda: standby.said("this worker owns it now"), "the standby taking over")
    _until(lambda: _imports(workers, "b.csv"), "b.csv resumed")
    shutil.copy(FIXTURES / "shopify_orders_later.csv", drop / "c.csv")
    _until(lambda: _imports(workers, "c.csv"), "c.csv imported")

    # Each file imported once, by one process; filed once; nothing failed or left over.
    assert _imports(workers, "a.csv") == [owner.proc.pid]
    assert _imports(workers, "b.csv") == [standby.proc.pid]
    assert _imports(workers, "c.csv") == [standby.proc.pid]
    assert sorted(p.name for p in (drop / PROCESSED).rglob("*.csv")) == ["a.csv", "b.csv", "c.csv"]
    assert list((drop / PROCESSING).iterdir()) == [] and list((drop / FAILED).iterdir()) == []
    store = open_store(StoreSettings(url=store_url))
    try:
        with store.read_connection() as conn:
            files = conn.execute(
                sa.text("SELECT path, outcome, orders_created FROM ingested_files ORDER BY id")
            ).all()
            orders = conn.execute(sa.text("SELECT count(*) FROM orders")).scalar_one()
    finally:
        store.dispose()
    assert [(Path(f.path).name, f.outcome) for f in files] == [
        ("a.csv", "imported"),
        ("b.csv", "imported"),
        ("c.csv", "imported"),
    ]
    assert orders == sum(f.orders_created for f in files)

    # SIGTERM: the survivor lets the folder go and exits cleanly.
    standby.proc.send_signal(signal.SIGTERM)
    assert standby.proc.wait(timeout=60) == 0
    assert standby.said("released")


def test_once_skips_a_folder_another_process_owns(
    store_url: str, tmp_path: Path, cli_env: dict[str, str], workers: list[Worker]
) -> None:
    drop, config = _setup(store_url, tmp_path)
    workers.append(Worker(config, cli_env, tmp_path / "owner.log"))
    _until(lambda: workers[0].said("this worker owns it now"), "the owner")
    if "postgresql" in store_url:
        # Stop the owner from importing (SIGSTOP): it is alive and holds the folder.
        # (On PostgreSQL a stopped process holds no lock a writer here waits for.)
        os.kill(workers[0].proc.pid, signal.SIGSTOP)
        try:
            shutil.copy(FIXTURES / "shopify_orders.csv", drop / "a.csv")
            result = _once(config, cli_env)
        finally:
            os.kill(workers[0].proc.pid, signal.SIGCONT)
    else:
        # On SQLite a process stopped mid-transaction would hold the store's write lock
        # too: the owner goes, and this process holds the folder's lock in its place.
        workers[0].proc.send_signal(signal.SIGTERM)
        assert workers[0].proc.wait(timeout=60) == 0
        with (drop / MARKER).open("rb") as marker:
            fcntl.flock(marker, fcntl.LOCK_EX | fcntl.LOCK_NB)
            shutil.copy(FIXTURES / "shopify_orders.csv", drop / "a.csv")
            result = _once(config, cli_env)
    assert result.returncode == 0, result.stderr
    assert "ingest: folders_owned_elsewhere 1" in result.stdout
    assert f"drop folder {drop} skipped" in result.stderr
    if "postgresql" in store_url:
        assert (
            f"owned by the worker at {os.uname().nodename}:{workers[0].proc.pid}" in result.stderr
        )
    else:
        assert "another process on this machine holds the lock" in result.stderr
    assert (drop / "a.csv").exists()


def _once(config: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return run_cli("--config", str(config), "sync", "--once", "--only", "ingest", env=env)


def test_lost_lock_connection_goes_back_to_standby(
    pg_url: str, tmp_path: Path, cli_env: dict[str, str], workers: list[Worker]
) -> None:
    """The server ends the owner's lock session: the owner notices, stands by, takes
    the folder again (nobody else wants it) and goes on importing."""
    import psycopg

    drop, config = _setup(pg_url, tmp_path)
    workers.append(Worker(config, cli_env, tmp_path / "owner.log"))
    worker = workers[0]
    _until(lambda: worker.said("this worker owns it now"), "the owner")
    name = f"orderdeck owner {os.uname().nodename}:{worker.proc.pid}"
    with psycopg.connect(pg_url, autocommit=True) as conn:
        ended = conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s",
            (name,),
        ).fetchall()
    assert ended == [(True,)]
    _until(lambda: worker.said("this worker no longer owns it"), "the loss noticed")
    _until(
        lambda: sum("owns it now" in line["message"] for line in worker.lines()) == 2,
        "the folder taken again",
    )
    shutil.copy(FIXTURES / "shopify_orders.csv", drop / "a.csv")
    _until(lambda: _imports(workers, "a.csv"), "a.csv imported")
    assert _imports(workers, "a.csv") == [worker.proc.pid]
