"""The console runs the sync engine when nobody else does.

With a real sandbox carrier on loopback and shipments due: no service alive, the
console's own engine polls them and the board shows their new status; a fresh
``sync`` heartbeat keeps it from starting one; a service that starts later takes
over, one that goes away hands the work back; leaving drains and releases leases.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable, Iterator, Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from console.app import OrderdeckApp
from console.context import ConsoleContext
from console.engine import (
    ENGINE_ROLE,
    EngineKeeper,
    EngineLogHandler,
    EngineThread,
    in_process,
    others,
)
from console.settings import ConsoleSettings
from notifiers.settings import NotifySettings
from store import heartbeat
from store.engine import Store
from store.migrate import open_store
from store.models import Shipment, WorkerHeartbeat
from store.settings import StoreSettings
from sync.sandbox import SandboxClock, SandboxServer
from sync.service import Engine
from sync.settings import DropFolder, IngestSettings, SyncSettings
from tests.console.conftest import header_ready, list_ready, screen_text, wait_for
from tests.tracking.conftest import add_shipments, sync_settings

NUMBERS = ["SBFAILED1", "SBCONSOLE2", "SBCONSOLE3"]


@pytest.fixture
def fresh_store(tmp_path: Path) -> Iterator[Store]:
    store = open_store(StoreSettings(url=f"sqlite:///{tmp_path / 'orderdeck.db'}"))
    try:
        yield store
    finally:
        store.dispose()


def _app(
    store: Store,
    sandbox: SandboxServer,
    clock: SandboxClock,
    *,
    fresh: float = 15.0,
    sync: SyncSettings | None = None,
    **settings: Any,
) -> OrderdeckApp:
    factory = in_process(
        store,
        sync or sync_settings(sandbox),
        NotifySettings(),
        heartbeat_seconds=0.2,
        drain_seconds=2.0,
        poller_options={"clock": clock},
    )
    context = ConsoleContext(
        store=store,
        settings=ConsoleSettings(operator="tester", **settings),
        clock=clock.now,
        engine=factory,
        engine_check_seconds=0.1,
        heartbeat_fresh=timedelta(seconds=fresh),
        feed_interval=0.1,
    )
    return OrderdeckApp(context)


def _statuses(store: Store) -> dict[str, str]:
    with store.read_connection() as conn:
        rows = conn.execute(sa.select(Shipment.tracking_number, Shipment.status))  # type: ignore[call-overload]
        return {number: status for number, status in rows}


def _heartbeats(store: Store, role: str = ENGINE_ROLE) -> list[dict[str, Any]]:
    table = WorkerHeartbeat.__table__  # type: ignore[attr-defined]
    with store.read_connection() as conn:
        rows = conn.execute(sa.select(table).where(table.c.role == role)).mappings()
        return [dict(r) for r in rows]


def _leased(store: Store) -> int:
    with store.read_connection() as conn:
        return int(
            conn.execute(
                sa.select(sa.func.count()).where(Shipment.lease_owner.is_not(None))  # type: ignore[union-attr]
            ).scalar_one()
        )


def _row_of(app: OrderdeckApp, number: str) -> str:
    """The board's line for the order ``#number`` (the tracking number is in it)."""
    return next((line for line in screen_text(app).splitlines() if number in line), "")


async def test_no_service_alive_the_console_polls_and_the_board_shows_it(
    fresh_store: Store, sandbox: SandboxServer, clock: SandboxClock
) -> None:
    add_shipments(fresh_store, NUMBERS)
    assert set(_statuses(fresh_store).values()) == {"pending"}
    clock.set(sandbox.story("SBFAILED1").first("FA").at)
    app = _app(fresh_store, sandbox, clock)
    async with app.run_test(size=(140, 30)) as pilot:
        await wait_for(pilot, list_ready(app, "#board"))
        await wait_for(pilot, lambda: "failed attempt" in _row_of(app, "SBFAILED1"))
        statuses = _statuses(fresh_store)
        assert statuses["SBFAILED1"] == "failed_attempt"
        assert all(s != "pending" for s in statuses.values()), statuses
        await wait_for(pilot, header_ready(app))
        await wait_for(pilot, lambda: "● engine: in-process" in screen_text(app))
        [beat] = _heartbeats(fresh_store)
        assert beat["state"] == "running" and beat["worker_id"] == app.keeper.me
    # Leaving drained the engine: its heartbeat says so, and it holds no lease.
    [beat] = _heartbeats(fresh_store)
    assert beat["state"] == "stopped"
    assert _leased(fresh_store) == 0
    assert sandbox.stats.numbers >= len(NUMBERS)  # the real carrier was asked


async def test_a_file_dropped_in_a_folder_reaches_the_board(
    fresh_store: Store, sandbox: SandboxServer, clock: SandboxClock, tmp_path: Path
) -> None:
    """Every part make_parts returns runs in the console: here, drop-folder ingest."""
    drop = tmp_path / "drop"
    drop.mkdir()
    folder = DropFolder(path=drop, source="shop", format="ndjson")
    ingest = IngestSettings(drop_folders=(folder,), min_age_seconds=0.0, scan_interval_seconds=0.2)
    app = _app(fresh_store, sandbox, clock, sync=replace(sync_settings(sandbox), ingest=ingest))
    async with app.run_test(size=(140, 30)) as pilot:
        await wait_for(pilot, list_ready(app, "#board"))
        await wait_for(pilot, lambda: app.keeper.running)
        assert "W-1001" not in screen_text(app)
        order = {
            "number": "W-1001",
            "customer_name": "Dropped In",
            "line_items": [{"sku": "A", "name": "Alpha", "quantity": 1}],
            "shipments": [{"tracking_number": "SB7001", "carrier": "sandbox"}],
        }
        (drop / "orders.ndjson").write_text(json.dumps(order) + "\n", encoding="utf-8")
        await wait_for(pilot, lambda: "Dropped In" in _row_of(app, "W-1001"))
        assert "SB7001" in _row_of(app, "W-1001")
    assert [p.name for p in (drop / "processed").rglob("*.ndjson")] == ["orders.ndjson"]


async def test_a_live_service_keeps_the_console_from_running_the_engine(
    fresh_store: Store, sandbox: SandboxServer, clock: SandboxClock
) -> None:
    add_shipments(fresh_store, NUMBERS)
    with fresh_store.write_connection() as conn:
        heartbeat.beat(conn, "sync@ops-box:4242", "sync")
        conn.execute(
            sa.update(WorkerHeartbeat.__table__).values(host="ops-box")  # type: ignore[attr-defined]
        )
    app = _app(fresh_store, sandbox, clock)
    async with app.run_test(size=(140, 30)) as pilot:
        await wait_for(pilot, header_ready(app))
        await wait_for(pilot, lambda: "engine: service on ops-box" in screen_text(app))
        await pilot.pause(0.5)  # several checks
        assert not app.keeper.running
    assert _heartbeats(fresh_store) == []
    assert set(_statuses(fresh_store).values()) == {"pending"}


async def test_a_service_takes_over_and_hands_back(
    fresh_store: Store, sandbox: SandboxServer, clock: SandboxClock
) -> None:
    app = _app(fresh_store, sandbox, clock, fresh=0.6)
    async with app.run_test(size=(140, 30)) as pilot:
        await wait_for(pilot, header_ready(app))
        await wait_for(pilot, lambda: app.keeper.running)
        await wait_for(pilot, lambda: "● engine: in-process" in screen_text(app))
        # `orderdeck sync` starts elsewhere: the console stops its engine.
        with fresh_store.write_connection() as conn:
            heartbeat.beat(conn, "sync@elsewhere:1", "sync")
        await wait_for(pilot, lambda: not app.keeper.running)
        await wait_for(pilot, lambda: "engine: service on" in screen_text(app))
        assert _heartbeats(fresh_store)[0]["state"] == "stopped"
        # ...and dies without a word: once its heartbeat is stale, the console runs it again.
        await wait_for(pilot, lambda: app.keeper.running)
        await wait_for(pilot, lambda: _heartbeats(fresh_store)[0]["state"] == "running")
        await wait_for(pilot, lambda: "● engine: in-process" in screen_text(app))


async def test_read_only_or_no_engine_never_runs_it(
    fresh_store: Store, sandbox: SandboxServer, clock: SandboxClock
) -> None:
    for settings in ({"read_only": True}, {"run_engine": False}):
        app = _app(fresh_store, sandbox, clock, **settings)
        if settings.get("run_engine") is False:
            app.keeper.factory = None  # what `orderdeck console --no-engine` builds
        async with app.run_test(size=(140, 30)) as pilot:
            await wait_for(pilot, header_ready(app))
            await wait_for(pilot, lambda a=app: "○ engine: not running" in screen_text(a))
            await pilot.pause(0.3)
            assert not app.keeper.running
            if settings.get("read_only"):
                assert "read-only" in screen_text(app)
    assert _heartbeats(fresh_store) == []


def _app_with(store: Store, factory: Callable[[], EngineThread]) -> OrderdeckApp:
    """A console whose engine is built by ``factory`` (parts of the test's making)."""
    context = ConsoleContext(
        store=store,
        settings=ConsoleSettings(operator="tester"),
        engine=factory,
        engine_check_seconds=0.1,
        feed_interval=0.1,
    )
    return OrderdeckApp(context)


class FailingPart:
    name = "poller"

    async def run_once(self) -> Mapping[str, int]:
        raise RuntimeError("carrier table is on fire")

    async def run(self, stop: asyncio.Event) -> None:
        raise RuntimeError("carrier table is on fire")


async def test_engine_errors_are_notifications_not_tracebacks(fresh_store: Store) -> None:
    def factory() -> EngineThread:
        engine = Engine(
            fresh_store,
            lambda: [FailingPart()],
            role=ENGINE_ROLE,
            heartbeat_seconds=0.2,
            drain_seconds=1,
            restart_backoff=(5.0, 5.0),
        )
        return EngineThread(engine)

    app = _app_with(fresh_store, factory)
    async with app.run_test(size=(140, 30)) as pilot:
        await wait_for(pilot, lambda: any("on fire" in n.message for n in app._notifications))
        await wait_for(pilot, lambda: "errors in poller" in screen_text(app))
        text = screen_text(app)
        assert "Traceback" not in text


async def test_an_engine_that_cannot_start_is_retried_and_shown(fresh_store: Store) -> None:
    def factory() -> EngineThread:
        def parts() -> list[Any]:
            raise ValueError("[carriers.ups] client_secret is missing")

        return EngineThread(Engine(fresh_store, parts, role=ENGINE_ROLE, heartbeat_seconds=0.2))

    app = _app_with(fresh_store, factory)
    async with app.run_test(size=(140, 30)) as pilot:
        await wait_for(pilot, lambda: "engine: in-process failed" in screen_text(app))
        assert "client_secret is missing" in screen_text(app)
        assert any("Trying again" in n.message for n in app._notifications)


# -- the decision, without an app ----------------------------------------------------


def _row(
    worker_id: str, role: str, started: int, host: str = "far", pid: int = 1
) -> dict[str, Any]:
    return {
        "worker_id": worker_id,
        "role": role,
        "host": host,
        "pid": pid,
        "started_at": datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=started),
    }


class FakeRunner:
    """Stands in for the thread so the decision can be walked step by step."""

    def __init__(self) -> None:
        self.running = False
        self.error: BaseException | None = None
        self.status = "running"
        self.worker_id = "me"

    def start(self) -> None:
        self.running = True

    def stop(self) -> None:
        self.running = False


def test_two_consoles_keep_the_one_that_started_first() -> None:
    runners: list[FakeRunner] = []

    def factory() -> FakeRunner:
        runners.append(FakeRunner())
        return runners[-1]

    keeper = EngineKeeper(factory, me="console-engine@here:1")
    state, _ = keeper.check([])
    assert state.mode == "in-process" and keeper.running
    mine = _row("console-engine@here:1", ENGINE_ROLE, 5)
    # The other console started later: ours keeps running.
    state, news = keeper.check([mine, _row("console-engine@far:9", ENGINE_ROLE, 9)])
    assert keeper.running and not news
    # One that started earlier: ours gives way, and says so.
    state, news = keeper.check([mine, _row("console-engine@far:8", ENGINE_ROLE, 1)])
    assert not keeper.running and state.mode == "console" and state.hosts == ("far",)
    assert news and "Another console" in news[0].text
    assert state.text == "engine: another console on far"
    # While it runs, ours stays off; when it goes, ours starts again.
    keeper.check([_row("console-engine@far:8", ENGINE_ROLE, 1)])
    assert not keeper.running
    keeper.check([])
    assert keeper.running and len(runners) == 2
    keeper.stop()
    assert not keeper.running and keeper.closed
    keeper.check([])
    assert not keeper.running  # never again after exit


def test_a_dead_process_on_this_host_is_nobody() -> None:
    import os
    import socket
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    gone = int(done.stdout)
    host = socket.gethostname()
    rows = [
        _row("sync@here:dead", "sync", 0, host=host, pid=gone),
        _row("sync@here:alive", "sync", 0, host=host, pid=os.getppid()),
        _row("sandbox@far:1", "sandbox", 0),
    ]
    assert [r["worker_id"] for r in others(rows, "me")] == ["sync@here:alive"]


def test_the_log_handler_masks_secrets_and_repeats_once_a_minute() -> None:
    posted: list[tuple[str, str]] = []
    handler = EngineLogHandler(lambda level, text: posted.append((level, text)), ["s3cr3t-key"])
    log = logging.getLogger("orderdeck.service.test")
    handler.install()
    try:
        log.error("poller failed: 401 for key s3cr3t-key\nmore lines")
        log.error("poller failed: 401 for key s3cr3t-key\nmore lines")
        logging.getLogger("orderdeck.carriers").warning("odd scan skipped")  # routine
        logging.getLogger("orderdeck.poller").warning("[carriers.ups] cannot be used: no key")
        try:
            raise OSError("disk full")
        except OSError:
            logging.getLogger("notifiers.dispatch").exception("dispatch pass failed")
    finally:
        handler.uninstall()
    assert posted == [
        ("error", "poller failed: 401 for key ****"),
        ("warning", "[carriers.ups] cannot be used: no key"),
        ("error", "dispatch pass failed (OSError: disk full)"),
    ]


async def test_quitting_drains_the_engine(fresh_store: Store) -> None:
    class Slow:
        name = "poller"
        finished = False

        async def run_once(self) -> Mapping[str, int]:
            return {}

        async def run(self, stop: asyncio.Event) -> None:
            await stop.wait()
            await asyncio.sleep(0.3)  # finishing what is in flight
            Slow.finished = True

    def factory() -> EngineThread:
        return EngineThread(
            Engine(fresh_store, lambda: [Slow()], role=ENGINE_ROLE, heartbeat_seconds=0.2)
        )

    app = _app_with(fresh_store, factory)
    async with app.run_test(size=(140, 30)) as pilot:
        await wait_for(pilot, lambda: app.keeper.running)
        await pilot.press("q")
        with contextlib.suppress(Exception):
            await pilot.pause(1)
    assert Slow.finished
    assert _heartbeats(fresh_store)[0]["state"] == "stopped"


def test_run_engine_is_read_from_the_configuration(tmp_path: Path) -> None:
    from orderdeck.config import ConfigError, load

    path = tmp_path / "config.toml"
    path.write_text(f'[store]\nurl = "sqlite:///{tmp_path}/o.db"\n[console]\nrun_engine = false\n')
    assert load(path, environ={}).console.run_engine is False
    path.write_text(f'[store]\nurl = "sqlite:///{tmp_path}/o.db"\n[console]\nrun_engine = "no"\n')
    with pytest.raises(ConfigError, match=r"config.toml.*\[console\] run_engine"):
        load(path, environ={})
