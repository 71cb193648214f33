"""The console over a demo: the real app, on the demo's store and clock."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from datetime import timedelta
from typing import Any, ClassVar

from textual.binding import Binding, BindingType

from console.app import OrderdeckApp
from console.context import ConsoleContext
from console.engine import in_process
from orderdeck import __version__
from orderdeck.demo.session import DemoSession

WELCOME = (
    "{orders} made-up orders are arriving in the drop folder. Parcels move on the "
    "sandbox carrier's clock ({speed:g}x); e-mails and chat posts go to local sinks.\n"
    "Enter: an order's timeline · 2: attention queue · 3: notifications · "
    "1: board · ?: every key · q: quit and clean up"
)


class DemoApp(OrderdeckApp):
    """The console, plus what a demo needs: the files start arriving once it is up;
    ctrl+c, SIGINT and SIGTERM quit like q (so the demo always cleans up)."""

    TITLE = "orderdeck demo"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+c", "quit", "Quit", id="demo.quit", show=False, priority=True),
    ]

    def __init__(self, context: ConsoleContext, session: DemoSession) -> None:
        super().__init__(context)
        self.session = session

    def on_mount(self) -> None:
        # (OrderdeckApp's own on_mount runs too: Textual calls each class's handler.)
        self.sub_title = "throwaway store"
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):  # not on Windows
                loop.add_signal_handler(signum, self.exit)
        self.session.start_drip()
        self.notify(
            WELCOME.format(orders=len(self.session.orders), speed=self.session.options.speed),
            title="orderdeck demo",
            timeout=20,
            markup=False,
        )


def demo_app(session: DemoSession, **context_options: Any) -> DemoApp:
    """The console over ``session``, running the engine in-process on the sandbox's clock."""
    config, store, clock = session.config, session.store, session.clock
    assert config is not None and store is not None and clock is not None
    engine = in_process(
        store,
        config.sync,
        config.notify,
        version=__version__,
        heartbeat_seconds=config.sync.heartbeat_seconds,
        **session.part_options(),
    )
    context = ConsoleContext(
        store=store,
        settings=config.console,
        notify=config.notify,
        heartbeat_fresh=timedelta(seconds=max(15.0, config.sync.heartbeat_seconds * 3)),
        clock=clock.now,
        engine=engine,
        engine_check_seconds=config.sync.heartbeat_seconds,
        secrets=tuple(config.secrets()),
        **context_options,
    )
    return DemoApp(context, session)
