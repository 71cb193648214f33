"""What every view shares: read-only hiding, live refresh hooks, writes in workers."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from sqlalchemy.engine import Connection
from textual import on
from textual.screen import Screen
from textual.worker import Worker, WorkerState

from console.live import StoreChanged

if TYPE_CHECKING:
    from console.app import OrderdeckApp
    from console.context import ConsoleContext

T = TypeVar("T")


class OrderdeckScreen(Screen[None]):
    #: Actions that change or send something: hidden in read-only mode.
    MUTATING: ClassVar[frozenset[str]] = frozenset()
    #: The view's name in the palette and the header.
    VIEW_TITLE: ClassVar[str] = ""

    def __init__(self) -> None:
        super().__init__()
        self._stale = False

    @property
    def oapp(self) -> OrderdeckApp:
        return self.app  # type: ignore[return-value]

    @property
    def ctx(self) -> ConsoleContext:
        return self.oapp.context

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return not (self.ctx.read_only and action in self.MUTATING)

    @on(Worker.StateChanged)
    def _worker_failed(self, event: Worker.StateChanged) -> None:
        """Worker messages do not bubble: every view reports its failed workers."""
        if event.state == WorkerState.ERROR and event.worker.error is not None:
            self.oapp.show_error(event.worker.error)

    # -- live -------------------------------------------------------------------

    def store_changed(self, message: StoreChanged) -> None:
        """Called by the app for every screen on the stack; only the visible one reads."""
        if self.is_current:
            self.refresh_data(message)
        else:
            self._stale = True

    def on_screen_resume(self) -> None:
        if self._stale:
            self._stale = False
            self.refresh_data(None)

    def refresh_data(self, message: StoreChanged | None) -> None:
        """Re-read what is on screen (override)."""

    # -- writes -------------------------------------------------------------------

    def write(
        self,
        work: Callable[[Connection], T],
        *,
        done: Callable[[T], Any] | str | None = None,
        title: str = "",
    ) -> None:
        self.oapp.run_write(work, done=done, title=title)
