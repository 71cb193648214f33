"""The engine: ingest, poller and dispatcher side by side, each supervised.

One :class:`Engine` serves both ``orderdeck sync`` (the headless service, in the
main thread with signal handlers) and the console (in a background thread when
no service is alive). A part that fails is logged, recorded in the heartbeat and
restarted with backoff; it never takes the others down. Stopping drains: parts
stop claiming, finish or release what they hold, and return; whatever has not
returned after ``drain_seconds`` is cancelled (parts release leases on
cancellation too).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from store import heartbeat
from store.engine import Store
from store.types import utcnow
from sync.sdnotify import SystemdNotifier

log = logging.getLogger("orderdeck.service")


class Part(Protocol):
    """One job of the engine (``ingest``, ``poller``, ``dispatcher``)."""

    name: str

    async def run_once(self) -> Mapping[str, int]:
        """One full pass over what is due now; returns what it did."""
        ...

    async def run(self, stop: asyncio.Event) -> None:
        """Work until ``stop`` is set, then release what is held and return."""
        ...


@dataclass
class PartState:
    name: str
    started_at: datetime | None = None
    restarts: int = 0
    last_error: str | None = None
    last_error_at: datetime | None = None
    counters: dict[str, int] = field(default_factory=dict)
    running: bool = False


async def _sleep_or_stop(stop: asyncio.Event, seconds: float) -> bool:
    """Sleep up to ``seconds``; True if ``stop`` was set meanwhile."""
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    except TimeoutError:
        return False
    return True


class Engine:
    def __init__(
        self,
        store: Store,
        make_parts: Callable[[], Sequence[Part]],
        *,
        role: str = "sync",
        worker_id: str | None = None,
        version: str | None = None,
        heartbeat_seconds: float = 5.0,
        drain_seconds: float = 30.0,
        notifier: SystemdNotifier | None = None,
        restart_backoff: tuple[float, float] = (1.0, 60.0),
    ) -> None:
        self.store = store
        self.make_parts = make_parts
        self.role = role
        self.worker_id = worker_id or heartbeat.new_worker_id(role)
        self.version = version
        self.heartbeat_seconds = heartbeat_seconds
        self.drain_seconds = drain_seconds
        self.notifier = notifier or SystemdNotifier(environ={})
        self.restart_backoff = restart_backoff
        self.states: dict[str, PartState] = {}
        #: The parts running now; one with a ``status()`` adds it to the heartbeat.
        self.parts: list[Part] = []
        self.state = "starting"

    # -- one pass ---------------------------------------------------------------

    async def run_once(self) -> dict[str, dict[str, int]]:
        """Each part's ``run_once`` in turn (ingest first, so new shipments get polled)."""
        results: dict[str, dict[str, int]] = {}
        for part in self.make_parts():
            state = self.states.setdefault(part.name, PartState(part.name))
            try:
                counters = dict(await part.run_once())
            except Exception as exc:
                log.exception("%s failed", part.name)
                state.last_error, state.last_error_at = _describe(exc), utcnow()
                counters = {"failed": 1}
            _add(state.counters, counters)
            results[part.name] = counters
        await self._beat("stopped")
        return results

    # -- long running -------------------------------------------------------------

    async def run(self, stop: asyncio.Event, reload: asyncio.Event | None = None) -> None:
        """Run until ``stop``; on ``reload``, drain the parts and build them anew."""
        reload = reload or asyncio.Event()
        beat_task = asyncio.create_task(self._heartbeat_loop(stop), name="heartbeat")
        watchdog_task: asyncio.Task[None] | None = None
        try:
            first = True
            while not stop.is_set():
                try:
                    parts = list(self.make_parts())
                except Exception as exc:
                    if first:
                        raise
                    log.error("reload failed, keeping the engine stopped until fixed: %s", exc)
                    self.notifier.status(f"reload failed: {exc}")
                    await _sleep_or_stop(stop, 5.0)
                    continue
                self.parts = parts
                generation = asyncio.Event()
                tasks = [
                    asyncio.create_task(self._supervise(part, generation), name=part.name)
                    for part in parts
                ]
                self.state = "running"
                await self._beat()
                if first:
                    self.notifier.ready(f"running: {', '.join(p.name for p in parts)}")
                    if self.notifier.watchdog_interval:
                        watchdog_task = asyncio.create_task(
                            self._watchdog_loop(stop), name="watchdog"
                        )
                    first = False
                else:
                    self.notifier.ready("reloaded")
                log.info("engine %s running: %s", self.worker_id, ", ".join(p.name for p in parts))
                waiters = [asyncio.create_task(stop.wait()), asyncio.create_task(reload.wait())]
                await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
                for waiter in waiters:
                    waiter.cancel()
                self.state = "draining"
                if stop.is_set():
                    self.notifier.stopping()
                else:
                    self.notifier.reloading()
                    log.info("reloading")
                generation.set()
                await self._drain(tasks)
                reload.clear()
        finally:
            self.state = "stopped"
            self.parts = []
            beat_task.cancel()
            if watchdog_task:
                watchdog_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await beat_task
            await self._beat("stopped")
            log.info("engine %s stopped", self.worker_id)

    async def _drain(self, tasks: list[asyncio.Task[None]]) -> None:
        _done, pending = await asyncio.wait(tasks, timeout=self.drain_seconds)
        for task in pending:
            log.warning(
                "%s did not finish within %.0fs; cancelling it", task.get_name(), self.drain_seconds
            )
            task.cancel()
        if pending:
            await asyncio.wait(pending, timeout=5)

    async def _supervise(self, part: Part, stop: asyncio.Event) -> None:
        state = self.states.setdefault(part.name, PartState(part.name))
        delay, ceiling = self.restart_backoff
        while not stop.is_set():
            state.running, state.started_at = True, utcnow()
            started = time.monotonic()
            try:
                await part.run(stop)
                if stop.is_set():
                    break
                log.warning("%s returned while it should run; restarting it", part.name)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                state.last_error, state.last_error_at = _describe(exc), utcnow()
                log.error(
                    "%s failed: %s; restarting it in %.0fs",
                    part.name,
                    state.last_error,
                    delay,
                    exc_info=True,
                )
            finally:
                state.running = False
            state.restarts += 1
            if time.monotonic() - started > 10 * ceiling:
                delay = self.restart_backoff[0]  # it ran well for a long time: start over
            if await _sleep_or_stop(stop, random.uniform(delay / 2, delay)):
                break
            delay = min(delay * 2, ceiling)

    async def _heartbeat_loop(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            if await _sleep_or_stop(stop, self.heartbeat_seconds):
                break
            try:
                await self._beat()
            except Exception as exc:  # the store may be briefly unavailable
                log.warning("heartbeat failed: %s", _describe(exc))

    async def _watchdog_loop(self, stop: asyncio.Event) -> None:
        interval = self.notifier.watchdog_interval or 10.0
        while not stop.is_set():
            self.notifier.watchdog()
            if await _sleep_or_stop(stop, interval):
                break

    def snapshot(self) -> tuple[dict[str, Any], dict[str, Any]]:
        counters: dict[str, Any] = {}
        errors: dict[str, Any] = {}
        for name, state in self.states.items():
            counters[name] = {
                **state.counters,
                "restarts": state.restarts,
                "running": state.running,
            }
            status = next((getattr(p, "status", None) for p in self.parts if p.name == name), None)
            if callable(status):
                counters[name].update(status())
            if state.last_error:
                errors[name] = {
                    "error": state.last_error,
                    "at": state.last_error_at.isoformat() if state.last_error_at else None,
                }
        return counters, errors

    async def _beat(self, state: str | None = None) -> None:
        counters, errors = self.snapshot()

        def write() -> None:
            with self.store.write_connection() as conn:
                heartbeat.beat(
                    conn,
                    self.worker_id,
                    self.role,
                    version=self.version,
                    state=state or self.state,
                    counters=counters,
                    errors=errors,
                )

        await asyncio.to_thread(write)

    def record(self, part: str, counters: Mapping[str, int]) -> None:
        """Parts call this to add to their counters shown in the heartbeat."""
        _add(self.states.setdefault(part, PartState(part)).counters, counters)


def _add(into: dict[str, int], counters: Mapping[str, int]) -> None:
    for key, value in counters.items():
        if isinstance(value, int | float) and not isinstance(value, bool):
            into[key] = into.get(key, 0) + int(value)


def _describe(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
