"""What every screen of the console shares: the store, settings, clock and operator."""

from __future__ import annotations

import getpass
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from console.engine import EngineRunner
from console.settings import ConsoleSettings
from notifiers.settings import NotifySettings
from store.engine import Store
from store.types import utcnow


def default_operator() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no login name (a container without a passwd entry)
        return "console"


@dataclass
class ConsoleContext:
    store: Store
    settings: ConsoleSettings = field(default_factory=ConsoleSettings)
    notify: NotifySettings = field(default_factory=NotifySettings)
    #: How recent a sync heartbeat must be to count as alive.
    heartbeat_fresh: timedelta = timedelta(seconds=15)
    clock: Callable[[], datetime] = utcnow
    #: Builds an in-process engine, for when no sync service is alive (see
    #: console.engine); None: this console never runs one.
    engine: Callable[[], EngineRunner] | None = None
    #: Seconds between looks at the heartbeats (who runs the engine).
    engine_check_seconds: float = 5.0
    #: Secret values to mask in the engine's messages.
    secrets: tuple[str, ...] = ()
    #: Seconds between looks at the change feed.
    feed_interval: float = 0.25

    @property
    def read_only(self) -> bool:
        return self.settings.read_only

    @property
    def operator(self) -> str:
        return self.settings.operator or default_operator()

    @property
    def timezone(self) -> str:
        return self.settings.timezone

    def now(self) -> datetime:
        return self.clock()
