"""What every screen of the console shares: the store, settings, clock and operator."""

from __future__ import annotations

import getpass
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from console.engine import EngineRunner
from console.settings import ConsoleSettings
from notifiers.settings import NotifySettings
from store.engine import Store
from store.types import utcnow

if TYPE_CHECKING:
    from orderdeck.config import Config


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


def from_config(
    config: Config,
    store: Store,
    *,
    settings: ConsoleSettings | None = None,
    engine_options: Mapping[str, Any] | None = None,
    **options: Any,
) -> ConsoleContext:
    """The console over ``store`` as ``config`` describes it (``orderdeck console`` and the
    demo): with an engine it runs in-process when no sync service is alive, unless the
    settings say read-only or no engine. ``engine_options`` go to the engine's parts,
    ``options`` (a clock, ...) to the context."""
    from console.engine import in_process
    from store import __version__

    settings = settings or config.console
    engine = None
    if settings.run_engine and not settings.read_only:
        engine = in_process(
            store,
            config.sync,
            config.notify,
            version=__version__,
            heartbeat_seconds=config.sync.heartbeat_seconds,
            **(engine_options or {}),
        )
    return ConsoleContext(
        store=store,
        settings=settings,
        notify=config.notify,
        heartbeat_fresh=config.sync.heartbeat_fresh,
        engine=engine,
        engine_check_seconds=config.sync.heartbeat_seconds,
        secrets=tuple(config.secrets()),
        **options,
    )
