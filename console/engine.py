"""The sync engine inside the console, when nobody else runs it.

A solo operator should not need a second terminal for ``orderdeck sync``. So the
console looks at the store's heartbeats every few seconds (:class:`EngineKeeper`)
and decides:

- a ``sync`` service is alive (anywhere): it does the work; the console only
  writes intents, and stops its own engine if it was running one;
- another console runs an in-process engine: that one does the work (when two
  started at once, the one that started first keeps going);
- nobody: the console runs :class:`sync.service.Engine` itself, on its own event
  loop in a thread (:class:`EngineThread`), with a ``console-engine`` heartbeat so
  other consoles and ``orderdeck status`` see it.

A read-only console never runs the engine. Stopping drains: parts stop claiming
and release their leases, like ``orderdeck sync`` on SIGTERM.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol

from store.heartbeat import process_gone
from store.redact import mask_secrets

#: The heartbeat role of an engine a console runs.
ENGINE_ROLE = "console-engine"
#: The heartbeat role of ``orderdeck sync``.
SERVICE_ROLE = "sync"


class EngineRunner(Protocol):
    """An engine the console can start in-process."""

    #: The heartbeat's worker id (the console's own, so it is not "someone else").
    @property
    def worker_id(self) -> str | None: ...

    #: Shown in the header, e.g. "running" or "running, errors in poller".
    @property
    def status(self) -> str: ...

    #: Why it stopped on its own (None while it runs, or after a clean stop).
    @property
    def error(self) -> BaseException | None: ...

    @property
    def running(self) -> bool: ...

    def start(self) -> None:
        """Start working in the background; must return at once."""

    def stop(self) -> None:
        """Finish in-flight work, release leases and stop (blocks until done)."""


class EngineThread:
    """Runs a :class:`sync.service.Engine` on its own event loop in a thread.

    The console's event loop stays free for the UI; ``stop`` asks the engine to
    drain (it finishes or releases what it holds) and waits for the thread.
    """

    def __init__(self, engine: Any, *, join_seconds: float = 60.0) -> None:
        self.engine = engine
        self.join_seconds = join_seconds
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._stopping = False
        self.error: BaseException | None = None

    @property
    def worker_id(self) -> str | None:
        return getattr(self.engine, "worker_id", None)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def status(self) -> str:
        if self.error is not None:
            return f"failed: {self.error}"
        state = getattr(self.engine, "state", "starting")
        failing = [
            name for name, part in getattr(self.engine, "states", {}).items() if part.last_error
        ]
        return state + (f", errors in {', '.join(failing)}" if failing else "")

    def start(self) -> None:
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="orderdeck-engine", daemon=True)
        self._thread.start()
        self._ready.wait(5)

    def _run(self) -> None:
        async def main() -> None:
            self._loop = asyncio.get_running_loop()
            self._stop = asyncio.Event()
            self._ready.set()
            if self._stopping:  # stop() came before the loop existed
                return
            await self.engine.run(self._stop)

        try:
            asyncio.run(main())
        except Exception as exc:  # shown by the console; it keeps working
            self.error = exc
        finally:
            self._ready.set()

    def stop(self) -> None:
        self._stopping = True
        if self._thread is None:
            return
        self._ready.wait(5)
        if self._loop is not None and self._stop is not None and not self._loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop ended on its own
                self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(self.join_seconds)


def in_process(
    store: Any,
    sync: Any,
    notify: Any,
    *,
    version: str | None = None,
    heartbeat_seconds: float = 5.0,
    drain_seconds: float = 10.0,
    **part_options: Any,
) -> Callable[[], EngineThread]:
    """A factory of engines for the console: whatever :func:`sync.assembly.make_parts`
    returns is what runs (``part_options`` go to it, e.g. ``poller_options``)."""

    def build() -> EngineThread:
        from sync.assembly import make_parts
        from sync.service import Engine

        engine = Engine(
            store,
            lambda: make_parts(store, sync, notify, **part_options),
            role=ENGINE_ROLE,
            version=version,
            heartbeat_seconds=heartbeat_seconds,
            drain_seconds=drain_seconds,
        )
        return EngineThread(engine, join_seconds=drain_seconds + 10)

    return build


# -- who runs the engine ---------------------------------------------------------


class News(NamedTuple):
    """Something the operator should hear about the engine, as a notification."""

    severity: str  # "information", "warning" or "error", as Textual's notify takes them
    text: str


@dataclass(frozen=True)
class EngineState:
    """What the header says about the engine."""

    #: "in-process" (this console), "service" (``orderdeck sync``), "console"
    #: (another console's), "failed" (ours stopped on an error), "none".
    mode: str
    #: Where the engine runs, for "service" and "console".
    hosts: tuple[str, ...] = ()
    #: Ours: its state ("running", "draining", with errors); failed: why.
    detail: str = ""
    read_only: bool = False

    @property
    def text(self) -> str:
        if self.mode == "in-process":
            return "engine: in-process" + (
                f" ({self.detail})" if self.detail and self.detail != "running" else ""
            )
        if self.mode in ("service", "console"):
            kind = "service" if self.mode == "service" else "another console"
            if len(self.hosts) > 1 and self.mode == "service":
                kind = f"{len(self.hosts)} services"
            return f"engine: {kind} on {', '.join(dict.fromkeys(self.hosts))}"
        if self.mode == "failed":
            return f"engine: in-process failed: {self.detail}"
        return "engine: not running"


def others(
    rows: Iterable[Mapping[str, Any]], me: str, *, host: str | None = None
) -> list[Mapping[str, Any]]:
    """Fresh engine heartbeats of someone else; a dead process on this host is nobody."""
    host = host or socket.gethostname()
    found = []
    for row in rows:
        if row["worker_id"] == me or row["role"] not in (SERVICE_ROLE, ENGINE_ROLE):
            continue
        if row.get("pid") != os.getpid() and process_gone(
            row.get("host"), row.get("pid"), local_host=host
        ):
            continue  # crashed without saying so; its heartbeat has not gone stale yet
        found.append(row)
    return found


def _seniority(row: Mapping[str, Any]) -> tuple[Any, str]:
    return (row.get("started_at"), str(row["worker_id"]))


class EngineKeeper:
    """Starts and stops the console's engine as heartbeats come and go.

    :meth:`check` and :meth:`stop` block (starting a thread, draining one), so the
    console calls them from worker threads; a lock keeps them apart.
    """

    def __init__(
        self,
        factory: Callable[[], EngineRunner] | None,
        *,
        read_only: bool = False,
        retry_seconds: float = 30.0,
        me: str | None = None,
    ) -> None:
        from store.heartbeat import new_worker_id

        self.factory = factory
        self.read_only = read_only
        self.retry_seconds = retry_seconds
        #: Our heartbeat's worker id: the same for every engine this process starts.
        self.me = me or new_worker_id(ENGINE_ROLE)
        self.runner: EngineRunner | None = None
        self._lock = threading.Lock()
        self._retry_at = 0.0
        self._failure = ""
        self.closed = False

    @property
    def may_run(self) -> bool:
        return self.factory is not None and not self.read_only

    def check(self, rows: Iterable[Mapping[str, Any]]) -> tuple[EngineState, list[News]]:
        """Decide from the fresh heartbeats ``rows``; returns the state and news
        worth telling the operator (an engine that failed, a hand-over)."""
        with self._lock:
            news: list[News] = []
            rows = list(rows)
            alive = others(rows, self.me)
            if self.runner is not None and self.runner.worker_id not in (None, self.me):
                alive = [r for r in alive if r["worker_id"] != self.runner.worker_id]
            services = [r for r in alive if r["role"] == SERVICE_ROLE]
            consoles = [r for r in alive if r["role"] == ENGINE_ROLE]
            runner = self.runner
            if runner is not None and not runner.running:
                # It stopped without being asked: an error the engine could not survive.
                self.runner = None
                error = runner.error
                self._failure = _one_line(error) if error else "stopped"
                self._retry_at = time.monotonic() + self.retry_seconds
                news.append(
                    News(
                        "error",
                        f"The sync engine stopped: {self._failure}. "
                        f"Trying again in {self.retry_seconds:.0f} s.",
                    )
                )
            if self.closed or not self.may_run:
                return self._state(services, consoles), news
            if services or (consoles and self.runner is None):
                if self.runner is not None:
                    who = "a sync service" if services else "another console"
                    self._stop_runner()
                    news.append(
                        News(
                            "information",
                            f"The sync engine moved to {who}; this console stopped its own.",
                        )
                    )
                return self._state(services, consoles), news
            if consoles and self.runner is not None:
                mine = {"worker_id": self.me, "started_at": self._started_at(rows)}
                if min([*consoles, mine], key=_seniority) is not mine:
                    self._stop_runner()
                    news.append(
                        News(
                            "information",
                            "Another console started the sync engine first; this one stopped its own.",
                        )
                    )
                return self._state(services, consoles), news
            if self.runner is None and time.monotonic() >= self._retry_at:
                assert self.factory is not None
                try:
                    runner = self.factory()
                    runner.start()
                except Exception as exc:
                    self._failure = _one_line(exc)
                    self._retry_at = time.monotonic() + self.retry_seconds
                    news.append(News("error", f"Cannot run the sync engine here: {self._failure}"))
                else:
                    self.runner = runner
                    self._failure = ""
            return self._state(services, consoles), news

    def _started_at(self, rows: Iterable[Mapping[str, Any]]) -> Any:
        for row in rows:
            if row["worker_id"] == self.me:
                return row.get("started_at")
        return None

    def _stop_runner(self) -> None:
        runner, self.runner = self.runner, None
        if runner is not None:
            runner.stop()

    def _state(
        self, services: list[Mapping[str, Any]], consoles: list[Mapping[str, Any]]
    ) -> EngineState:
        ro = self.read_only
        if self.runner is not None:
            return EngineState("in-process", detail=self.runner.status, read_only=ro)
        if services:
            hosts = tuple(str(r.get("host") or "?") for r in services)
            return EngineState("service", hosts, read_only=ro)
        if consoles:
            hosts = tuple(str(r.get("host") or "?") for r in consoles)
            return EngineState("console", hosts, read_only=ro)
        if self._failure and self.may_run:
            return EngineState("failed", detail=self._failure, read_only=ro)
        return EngineState("none", read_only=ro)

    def stop(self) -> None:
        """On exit: drain our engine and never start another."""
        with self._lock:
            self.closed = True
            self._stop_runner()

    @property
    def running(self) -> bool:
        return self.runner is not None


def _one_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


# -- the engine's log, as notifications ----------------------------------------------

#: Loggers the engine's parts write to.
ENGINE_LOGGERS = ("orderdeck", "sync", "notifiers")
#: Warnings worth a person's eyes (a part restarting, a carrier that cannot be used);
#: everything else below ERROR is routine (a carrier's odd scan, a retry).
WARNING_LOGGERS = ("orderdeck.service", "orderdeck.poller")


class EngineLogHandler(logging.Handler):
    """Hands the engine's errors to the console, one line each, secrets masked.

    Installed while the console runs an engine, so nothing goes to stderr (which
    would scribble over the screen); ``emit`` never blocks on the UI.
    """

    def __init__(
        self,
        post: Callable[[str, str], Any],
        secrets: Iterable[str] = (),
        *,
        quiet_seconds: float = 60.0,
    ) -> None:
        super().__init__(logging.WARNING)
        self.post = post
        self.secrets = tuple(secrets)
        self.quiet_seconds = quiet_seconds
        self._last: dict[str, float] = {}
        self._installed: list[tuple[logging.Logger, bool]] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno < logging.ERROR and not record.name.startswith(WARNING_LOGGERS):
            return
        try:
            message = record.getMessage().strip().splitlines()[0]
        except Exception:  # a bad format string in someone's log call
            message = str(record.msg)
        if record.exc_info and record.exc_info[1] is not None:
            why = _one_line(record.exc_info[1])
            if why not in message:
                message = f"{message} ({why})"
        message = mask_secrets(message, self.secrets)
        now = time.monotonic()
        # (``handle`` holds the handler's lock around ``emit``.)
        if now - self._last.get(message, -1e9) < self.quiet_seconds:
            return  # the same trouble again: once a minute is enough
        self._last[message] = now
        self.post("error" if record.levelno >= logging.ERROR else "warning", message)

    def install(self) -> None:
        if self._installed:
            return
        # Not to a handler that prints (stderr would scribble over the screen); a
        # configured log file still gets everything.
        printing = any(
            isinstance(h, logging.StreamHandler) and not isinstance(h, logging.FileHandler)
            for h in logging.getLogger().handlers
        )
        for name in ENGINE_LOGGERS:
            logger = logging.getLogger(name)
            logger.addHandler(self)
            self._installed.append((logger, logger.propagate))
            if printing:
                logger.propagate = False

    def uninstall(self) -> None:
        for logger, propagate in self._installed:
            logger.removeHandler(self)
            logger.propagate = propagate
        self._installed.clear()
