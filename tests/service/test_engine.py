"""The engine's supervision, draining, heartbeats, reload and systemd notifications.

The parts here are small scripted jobs: what is under test is the supervisor itself
(restart with backoff, isolation, drain, heartbeat), with a real store and a real
unix datagram socket standing in for systemd.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Mapping
from pathlib import Path

import pytest
from sqlmodel import select

from store.engine import Store
from store.models import WorkerHeartbeat
from sync.sdnotify import SystemdNotifier
from sync.service import Engine


class Steady:
    """Counts ticks until stopped; notes that it drained."""

    def __init__(self, name: str = "steady") -> None:
        self.name = name
        self.ticks = 0
        self.drained = False

    async def run_once(self) -> Mapping[str, int]:
        self.ticks += 1
        return {"ticks": 1}

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            self.ticks += 1
            await asyncio.sleep(0.01)
        self.drained = True


class Flaky:
    name = "flaky"

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.starts = 0

    async def run_once(self) -> Mapping[str, int]:
        raise RuntimeError("boom once")

    async def run(self, stop: asyncio.Event) -> None:
        self.starts += 1
        if self.starts <= self.failures:
            raise RuntimeError(f"failure {self.starts}")
        await stop.wait()


async def _run_for(engine: Engine, seconds: float, reload_at: float | None = None) -> None:
    stop = asyncio.Event()
    reload = asyncio.Event()
    task = asyncio.create_task(engine.run(stop, reload))
    if reload_at is not None:
        await asyncio.sleep(reload_at)
        reload.set()
        await asyncio.sleep(seconds - reload_at)
    else:
        await asyncio.sleep(seconds)
    stop.set()
    await asyncio.wait_for(task, timeout=10)


async def test_a_failing_part_is_restarted_and_never_stops_the_others(sqlite_store: Store) -> None:
    steady, flaky = Steady(), Flaky(failures=2)
    engine = Engine(
        sqlite_store, lambda: [steady, flaky], heartbeat_seconds=0.05, restart_backoff=(0.01, 0.05)
    )
    await _run_for(engine, 0.6)
    assert flaky.starts == 3
    assert steady.ticks > 10 and steady.drained
    assert engine.states["flaky"].restarts == 2
    assert "failure 2" in (engine.states["flaky"].last_error or "")
    with sqlite_store.read() as s:
        beat = s.exec(select(WorkerHeartbeat)).one()
    assert beat.state == "stopped" and beat.role == "sync"
    assert beat.errors and "failure 2" in beat.errors["flaky"]["error"]
    assert beat.counters and beat.counters["flaky"]["restarts"] == 2


async def test_drain_cancels_a_part_that_will_not_stop(sqlite_store: Store) -> None:
    class Stubborn:
        name = "stubborn"
        cancelled = False

        async def run_once(self) -> Mapping[str, int]:
            return {}

        async def run(self, stop: asyncio.Event) -> None:
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                Stubborn.cancelled = True
                raise

    engine = Engine(sqlite_store, lambda: [Stubborn()], drain_seconds=0.2)
    await _run_for(engine, 0.1)
    assert Stubborn.cancelled


async def test_reload_builds_the_parts_anew(sqlite_store: Store) -> None:
    built: list[Steady] = []

    def make() -> list[Steady]:
        built.append(Steady())
        return [built[-1]]

    engine = Engine(sqlite_store, make)
    await _run_for(engine, 0.4, reload_at=0.2)
    assert len(built) == 2 and all(p.drained for p in built)


async def test_run_once_runs_each_part_and_records_failures(sqlite_store: Store) -> None:
    engine = Engine(sqlite_store, lambda: [Steady(), Flaky(0)])
    results = await engine.run_once()
    assert results["steady"] == {"ticks": 1}
    assert results["flaky"] == {"failed": 1}
    assert "boom once" in (engine.states["flaky"].last_error or "")


async def test_systemd_hears_ready_watchdog_and_stopping(
    sqlite_store: Store, tmp_path: Path
) -> None:
    path = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.setblocking(False)
    notifier = SystemdNotifier({"NOTIFY_SOCKET": str(path), "WATCHDOG_USEC": "100000"})
    assert notifier.watchdog_interval == pytest.approx(0.05)
    engine = Engine(sqlite_store, lambda: [Steady()], notifier=notifier)
    await _run_for(engine, 0.3)
    messages = []
    while True:
        try:
            messages.append(sock.recv(4096).decode())
        except BlockingIOError:
            break
    sock.close()
    assert messages[0].startswith("READY=1")
    assert sum(m == "WATCHDOG=1" for m in messages) >= 2
    assert "STOPPING=1" in messages


def test_notifier_is_silent_outside_systemd() -> None:
    notifier = SystemdNotifier({})
    assert not notifier.enabled and not notifier.ready() and notifier.watchdog_interval is None
