"""``orderdeck track`` and ``orderdeck sandbox`` through the real entry point."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from orderdeck.cli import cli
from store.migrate import open_store
from store.models import Order, Shipment
from store.settings import StoreSettings
from store.types import utcnow
from sync.sandbox import SandboxClock, SandboxServer
from tests.conftest import run_cli


@pytest.fixture
def live_sandbox() -> Iterator[SandboxServer]:
    # The CLI runs on the real clock: the sandbox's world began three days ago
    # (so parcels have lives behind them) and its clock stands at now.
    clock = SandboxClock(utcnow() - timedelta(days=3), speed=0)
    clock.set(utcnow())
    server = SandboxServer(seed=3, clock=clock, spread_hours=0).start()
    yield server
    server.stop()


def setup_store(tmp_path: Path, numbers: list[str], carrier: str = "sandbox") -> str:
    url = f"sqlite:///{tmp_path / 'o.db'}"
    store = open_store(StoreSettings(url=url))
    with store.write() as s:
        order = Order(source="shop", external_id="1", number="#1001", created_at=utcnow())
        s.add(order)
        s.flush()
        for number in numbers:
            s.add(Shipment(order_id=order.id, carrier=carrier, tracking_number=number))
        s.add(Order(source="shop", external_id="2", number="#1002", created_at=utcnow()))
    store.dispose()
    return url


def config(tmp_path: Path, base_url: str) -> str:
    path = tmp_path / "config.toml"
    path.write_text(f'[carriers.sandbox]\nbase_url = "{base_url}"\n', encoding="utf-8")
    return str(path)


def test_track_prints_what_changed(
    tmp_path: Path, cli_env: dict[str, str], live_sandbox: SandboxServer
) -> None:
    db = setup_store(tmp_path, ["SBDELIVERED1", "SBUNKNOWN1"])
    cfg = config(tmp_path, live_sandbox.url)
    done = run_cli("--config", cfg, "--db", db, "track", "1001", "--json", env=cli_env)
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    delivered, unknown = data["shipments"]
    assert data["order"] == "#1001"
    assert (delivered["old_status"], delivered["status"]) == ("pending", "delivered")
    assert delivered["new_events"] and delivered["new_events"][-1]["status"] == "delivered"
    assert delivered["next_poll_at"] is None
    assert unknown["outcome"] == "not_found" and "SBUNKNOWN1" in unknown["error"]

    again = run_cli("--config", cfg, "--db", db, "track", "#1001", env=cli_env)
    assert again.returncode == 0, again.stderr
    assert "delivered (unchanged)" in again.stdout
    assert "no new events" in again.stdout
    assert "not found: Sandbox carrier: no parcel SBUNKNOWN1" in again.stdout


def test_track_when_nothing_answers(tmp_path: Path, cli_env: dict[str, str]) -> None:
    db = setup_store(tmp_path, ["1Z999AA10123456784"], carrier="ups")
    cfg = config(tmp_path, "http://127.0.0.1:9")
    done = run_cli("--config", cfg, "--db", db, "track", "1001", env=cli_env)
    assert done.returncode == 1
    assert "no tracking provider for UPS (ups)" in done.stdout
    assert "no carrier answered for order #1001" in done.stderr


def test_track_errors(tmp_path: Path, cli_env: dict[str, str]) -> None:
    db = setup_store(tmp_path, [])
    missing = run_cli("--db", db, "track", "9999", env=cli_env)
    assert missing.returncode == 3
    assert "no order '9999'" in missing.stderr and "Traceback" not in missing.stderr
    empty = run_cli("--db", db, "track", "1002", env=cli_env)
    assert empty.returncode == 0
    assert "has no shipment to track yet" in empty.stdout


def test_sandbox_command_serves_and_stops(cli_env: dict[str, str]) -> None:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "orderdeck",
            "sandbox",
            "--port",
            "0",
            "--json",
            "--seed",
            "4",
            "--speed",
            "60",
            "--rate-limit",
            "100",
        ],
        env=cli_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        lines = []
        while not lines or lines[-1] != "}\n":
            line = proc.stdout.readline()
            assert line, proc.stderr.read() if proc.stderr else ""
            lines.append(line)
        described = json.loads("".join(lines))
        assert described["seed"] == 4 and described["clock"]["speed"] == 60
        assert described["faults"]["rate_limit"] == 100
        r = httpx.get(f"{described['url']}/v1/track/SBDELIVERED1", timeout=5)
        assert r.status_code == 200 and r.json()["events"]
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_sandbox_command_rejects_bad_knobs(cli_env: dict[str, str]) -> None:
    public = run_cli("sandbox", "--host", "0.0.0.0", env=cli_env)
    assert public.returncode == 1
    assert "loopback only" in public.stderr and "Traceback" not in public.stderr
    runner = CliRunner()
    shares = runner.invoke(cli, ["sandbox", "--error-rate", "0.7", "--drop-rate", "0.7"])
    assert shares.exit_code == 2 and "add up to 1.4" in shares.output
    start = runner.invoke(cli, ["sandbox", "--start", "2026-11-09"])
    assert start.exit_code == 2 and "UTC offset" in start.output
