"""``orderdeck sync`` as a subprocess: --once, heartbeats in status, SIGHUP, SIGTERM drain."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from store.migrate import open_store
from store.models import Order, Shipment
from store.settings import StoreSettings
from sync.sandbox import SandboxClock, SandboxServer
from tests.conftest import run_cli


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    # A real-time clock: the service polls on the wall clock.
    server = SandboxServer(
        seed=3, clock=SandboxClock(datetime.now(UTC), speed=1.0), spread_hours=48
    ).start()
    try:
        yield server
    finally:
        server.stop()


def _config(tmp_path: Path, sandbox: SandboxServer, url: str, sync_extra: str = "") -> Path:
    path = tmp_path / "config.toml"
    path.write_text(
        f'[store]\nurl = "{url}"\n[sync]\nheartbeat_interval = 0.5\n{sync_extra}'
        f'[carriers.sandbox]\nbase_url = "{sandbox.url}"\n',
        encoding="utf-8",
    )
    return path


def _seed(url: str, numbers: list[str]) -> None:
    store = open_store(StoreSettings(url=url))
    with store.write() as s:
        for number in numbers:
            order = Order(source="t", external_id=number, number=f"#{number}")
            s.add(order)
            s.flush()
            s.add(
                Shipment(
                    order_id=order.id,
                    carrier="sandbox",
                    tracking_number=number,
                    next_poll_at=datetime.now(UTC),
                )
            )
    store.dispose()


def _status(env: dict[str, str], config: Path) -> dict:
    result = run_cli("--config", str(config), "status", "--json", env=env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_once_polls_and_exits(
    tmp_path: Path, sandbox: SandboxServer, store_url: str, cli_env: dict[str, str]
) -> None:
    _seed(store_url, ["SBDELIVERED1", "SBEXCEPTION2"])
    config = _config(tmp_path, sandbox, store_url)
    result = run_cli("--config", str(config), "sync", "--once", "--json", env=cli_env)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["poller"]["polled"] == 2
    status = _status(cli_env, config)
    assert status["workers"][0]["state"] == "stopped" and status["workers_alive"] == 0


def test_service_beats_reloads_and_drains_on_sigterm(
    tmp_path: Path, sandbox: SandboxServer, sqlite_url: str, cli_env: dict[str, str]
) -> None:
    _seed(sqlite_url, ["SBDELIVERED1"])
    config = _config(tmp_path, sandbox, sqlite_url)
    proc = subprocess.Popen(
        [sys.executable, "-m", "orderdeck", "--config", str(config), "sync", "--log-level", "INFO"],
        env=cli_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        alive: list[dict] = []
        while time.monotonic() < deadline and not alive:
            time.sleep(0.3)
            alive = [w for w in _status(cli_env, config)["workers"] if w["alive"]]
        assert alive, "no heartbeat appeared"
        assert alive[0]["pid"] == proc.pid and alive[0]["role"] == "sync"

        # SIGHUP with a broken file keeps the old configuration; a good one reloads.
        good = config.read_text()
        config.write_text("[store\n")
        proc.send_signal(signal.SIGHUP)
        time.sleep(0.5)
        config.write_text(good)
        proc.send_signal(signal.SIGHUP)
        time.sleep(0.5)
        assert proc.poll() is None

        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    lines = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    messages = [line["message"] for line in lines]
    assert any("configuration not reloaded" in m for m in messages)
    assert any("configuration reloaded" in m for m in messages)
    assert any("draining" in m for m in messages)
    status = _status(cli_env, config)
    assert status["workers"][0]["state"] == "stopped"
    assert status["shipments_by_status"] != {"pending": 1}  # it was polled


def test_second_sigterm_exits_at_once(
    tmp_path: Path, sandbox: SandboxServer, sqlite_url: str, cli_env: dict[str, str]
) -> None:
    config = _config(tmp_path, sandbox, sqlite_url)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "orderdeck",
            "--config",
            str(config),
            "sync",
            "--drain-timeout",
            "60",
        ],
        env=cli_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not any(
            w["alive"] for w in _status(cli_env, config)["workers"]
        ):
            time.sleep(0.3)
        os.kill(proc.pid, signal.SIGTERM)
        os.kill(proc.pid, signal.SIGTERM)
        proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode in (0, 128 + signal.SIGTERM)
