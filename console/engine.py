"""The seam for running the sync engine inside the console.

When no sync service heartbeat is fresh, a solo operator's console should run
the engine itself (ingest, poll, dispatch). The console owns an
:class:`EngineRunner`: it starts it on mount when nobody else is alive, stops it
on exit, and shows :attr:`EngineRunner.status` in the header. The sync service
builds the real runner; until it exists, the console runs without one and the
header says that no sync service is alive.
"""

from __future__ import annotations

from typing import Protocol


class EngineRunner(Protocol):
    """An engine the console can start in-process (built by ``sync``)."""

    #: Shown in the header, e.g. "engine in-process: 3 due, 1 sending".
    @property
    def status(self) -> str: ...

    def start(self) -> None:
        """Start working in the background; must return at once."""

    def stop(self) -> None:
        """Finish in-flight work and stop; called once, on exit."""
