"""The seam for running the sync engine inside the console.

When no sync service heartbeat is fresh, a solo operator's console should run
the engine itself (ingest, poll, dispatch). The console owns an
:class:`EngineRunner`: it starts it on mount when nobody else is alive, stops it
on exit, and shows :attr:`EngineRunner.status` in the header. The sync service
builds the real runner; until it exists, the console runs without one and the
header says that no sync service is alive.

:class:`EngineThread` adapts the sync room's :class:`sync.service.Engine` to this
seam. ``orderdeck console`` passes none yet: the command that assembles the
engine's parts from the configuration belongs to the sync service.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from typing import Any, Protocol


class EngineRunner(Protocol):
    """An engine the console can start in-process (built by ``sync``)."""

    #: Shown in the header, e.g. "engine in-process: 3 due, 1 sending".
    @property
    def status(self) -> str: ...

    def start(self) -> None:
        """Start working in the background; must return at once."""

    def stop(self) -> None:
        """Finish in-flight work and stop; called once, on exit."""


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
        self.error: BaseException | None = None

    @property
    def worker_id(self) -> str | None:
        return getattr(self.engine, "worker_id", None)

    @property
    def status(self) -> str:
        if self.error is not None:
            return f"engine in-process failed: {self.error}"
        state = getattr(self.engine, "state", "starting")
        failing = [
            name for name, part in getattr(self.engine, "states", {}).items() if part.last_error
        ]
        text = f"engine in-process ({state})"
        return text + (f", errors in {', '.join(failing)}" if failing else "")

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
            await self.engine.run(self._stop)

        try:
            asyncio.run(main())
        except Exception as exc:  # shown in the header; the console keeps working
            self.error = exc
        finally:
            self._ready.set()

    def stop(self) -> None:
        if self._thread is None:
            return
        if self._loop is not None and self._stop is not None and not self._loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop ended on its own
                self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(self.join_seconds)
