"""The console in a real terminal: it starts, and it leaves cleanly when the terminal goes."""

from __future__ import annotations

import os
import pty
import select
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from console.engine import ENGINE_ROLE
from console.watchdog import stdin_gone
from store.migrate import open_store
from store.models import Shipment, WorkerHeartbeat
from store.settings import StoreSettings
from tests.conftest import run_cli
from tests.console.data import generate


def test_console_needs_a_terminal(cli_env: dict[str, str], tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'o.db'}"
    result = run_cli("--db", db, "console", env=cli_env)
    assert result.returncode == 2
    assert "needs a terminal" in result.stderr
    assert "Traceback" not in result.stderr


def test_console_is_listed_with_read_only(cli_env: dict[str, str]) -> None:
    result = run_cli("console", "--help", env=cli_env)
    assert result.returncode == 0
    assert "--read-only" in result.stdout


def test_stdin_gone_sees_end_of_file() -> None:
    read, write = os.pipe()
    try:
        assert not stdin_gone(read)
        os.close(write)
        assert stdin_gone(read)
    finally:
        os.close(read)


def _engine_heartbeat(tmp_path: Path) -> dict[str, Any]:
    store = open_store(StoreSettings(url=f"sqlite:///{tmp_path / 'o.db'}"))
    try:
        with store.read_connection() as conn:
            table = WorkerHeartbeat.__table__  # type: ignore[attr-defined]
            rows = conn.execute(sa.select(table).where(table.c.role == ENGINE_ROLE)).mappings()
            [row] = [dict(r) for r in rows]
            leased = conn.execute(
                sa.select(sa.func.count()).where(Shipment.lease_owner.is_not(None))  # type: ignore[union-attr]
            ).scalar_one()
        return {**row, "leased": leased}
    finally:
        store.dispose()


def _spawn(tmp_path: Path, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], int]:
    db = f"sqlite:///{tmp_path / 'o.db'}"
    store = open_store(StoreSettings(url=db))
    generate(store, 20)
    store.dispose()
    master, slave = pty.openpty()
    env = {**env, "TERM": "xterm-256color", "COLUMNS": "100", "LINES": "30"}
    env.pop("NO_COLOR", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "orderdeck", "--db", db],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=env,
        start_new_session=True,
    )
    os.close(slave)
    return proc, master


def _read_until(master: int, needle: bytes, timeout: float = 30.0) -> bytes:
    seen = b""
    end = time.monotonic() + timeout
    while needle not in seen and time.monotonic() < end:
        ready, _, _ = select.select([master], [], [], 0.2)
        if ready:
            try:
                seen += os.read(master, 65536)
            except OSError:
                break
    return seen


@pytest.mark.slow
def test_exits_cleanly_when_the_terminal_hangs_up(tmp_path: Path, cli_env: dict[str, str]) -> None:
    proc, master = _spawn(tmp_path, cli_env)
    try:
        seen = _read_until(master, b"in-process")  # no service alive: the console runs it
        assert b"in-process" in seen, seen[-500:]
        os.close(master)  # the terminal goes away: the kernel hangs up the session
        assert proc.wait(timeout=20) is not None
    finally:
        if proc.poll() is None:
            proc.kill()
    beat = _engine_heartbeat(tmp_path)
    assert beat["state"] == "stopped" and beat["leased"] == 0  # drained on the way out


@pytest.mark.slow
def test_exits_cleanly_on_sighup(tmp_path: Path, cli_env: dict[str, str]) -> None:
    proc, master = _spawn(tmp_path, cli_env)
    try:
        assert b"in-process" in _read_until(master, b"in-process")
        proc.send_signal(signal.SIGHUP)
        output = b""
        deadline = time.monotonic() + 20
        while proc.poll() is None and time.monotonic() < deadline:
            output += _drain(master)
        output += _drain(master)
        assert proc.poll() == 0
        assert b"Traceback" not in output
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)
    beat = _engine_heartbeat(tmp_path)
    assert beat["state"] == "stopped" and beat["leased"] == 0


def _drain(master: int) -> bytes:
    ready, _, _ = select.select([master], [], [], 0.2)
    if not ready:
        return b""
    try:
        return os.read(master, 65536)
    except OSError:
        return b""
