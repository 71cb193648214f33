"""The in-process engine seam: started when no sync service is alive, shown, stopped."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping

from console.app import OrderdeckApp
from console.context import ConsoleContext
from console.engine import EngineThread
from console.settings import ConsoleSettings
from store import heartbeat
from store.engine import Store
from sync.service import Engine
from tests.console.conftest import header_ready, list_ready, screen_text, wait_for
from tests.console.data import NOW


class CountingPart:
    """A real engine part that does nothing but count its passes."""

    name = "counter"

    def __init__(self) -> None:
        self.passes = 0
        self.stopped = False

    async def run_once(self) -> Mapping[str, int]:
        self.passes += 1
        return {"passes": 1}

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            self.passes += 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.05)
        self.stopped = True


def heartbeat_written(store: Store, runner: EngineThread) -> bool:
    from datetime import timedelta

    with store.read_connection() as conn:
        alive = heartbeat.alive(conn, timedelta(seconds=30))
    return any(w["worker_id"] == runner.worker_id for w in alive)


def _app(store: Store, part: CountingPart, **settings: object) -> tuple[OrderdeckApp, EngineThread]:
    engine = Engine(store, lambda: [part], role="console", heartbeat_seconds=0.2, drain_seconds=2)
    runner = EngineThread(engine)
    context = ConsoleContext(
        store=store,
        settings=ConsoleSettings(operator="tester", **settings),  # type: ignore[arg-type]
        clock=lambda: NOW,
        engine=runner,
        feed_interval=0.1,
    )
    return OrderdeckApp(context), runner


async def test_engine_runs_in_process_when_no_service_is_alive(demo_store: Store) -> None:
    part = CountingPart()
    app, runner = _app(demo_store, part)
    async with app.run_test(size=(140, 30)) as pilot:
        await wait_for(pilot, list_ready(app, "#board"))
        await wait_for(pilot, header_ready(app))
        await wait_for(pilot, lambda: part.passes > 2)
        await wait_for(pilot, lambda: heartbeat_written(demo_store, runner))
        app.refresh_health()
        await wait_for(pilot, lambda: "engine in-process (running)" in screen_text(app))
        assert "alive" not in screen_text(app)  # its own heartbeat is not a service
    assert part.stopped  # drained on exit


async def test_engine_stays_off_when_a_service_is_alive(demo_store: Store) -> None:
    with demo_store.write_connection() as conn:
        heartbeat.beat(conn, "sync@elsewhere:1", "sync")
    part = CountingPart()
    app, runner = _app(demo_store, part)
    async with app.run_test(size=(140, 30)) as pilot:
        await wait_for(pilot, header_ready(app))
        await pilot.pause(0.3)
        assert "sync 1 alive" in screen_text(app)
    assert part.passes == 0 and runner._thread is None


async def test_read_only_console_never_runs_the_engine(demo_store: Store) -> None:
    part = CountingPart()
    app, runner = _app(demo_store, part, read_only=True)
    async with app.run_test(size=(140, 30)) as pilot:
        await wait_for(pilot, header_ready(app))
        await pilot.pause(0.3)
    assert part.passes == 0 and runner._thread is None
