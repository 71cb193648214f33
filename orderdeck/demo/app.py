"""The console over a demo: the real app, on the demo's store and clock."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from typing import ClassVar

from textual.binding import Binding, BindingType

from console.app import OrderdeckApp
from console.context import ConsoleContext, from_config
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


def demo_app(session: DemoSession) -> DemoApp:
    """The console over ``session``, running the engine in-process on the sandbox's clock."""
    config, store, clock = session.config, session.store, session.clock
    assert config is not None and store is not None and clock is not None
    context = from_config(config, store, engine_options=session.part_options(), clock=clock.now)
    assert context.engine is not None, "the demo's configuration runs the engine"
    return DemoApp(context, session)
