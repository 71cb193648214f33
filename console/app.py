"""The orderdeck console: a Textual app over the store.

The app owns what outlives a view: the store context, the change-feed follower,
the header's health figures, the in-process engine (when nobody else runs one),
and the one place where errors become notifications. Each view is a screen in its own module.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from sqlalchemy.engine import Connection
from textual import on
from textual.app import App
from textual.binding import Binding, BindingType
from textual.css.query import NoMatches
from textual.message import Message
from textual.reactive import reactive
from textual.screen import Screen
from textual.worker import Worker, WorkerState

from console.commands import ActionsProvider, OrdersProvider, ViewsProvider
from console.context import ConsoleContext
from console.engine import EngineKeeper, EngineLogHandler, EngineState, News
from console.live import FeedFailed, Follower, StoreChanged
from console.screens.base import OrderdeckScreen
from console.watchdog import Watchdog, on_hangup
from console.widgets.header import Health
from console.widgets.virtual_list import VirtualList
from store import board, heartbeat
from store.errors import OrderdeckError
from store.types import utcnow

T = TypeVar("T")

#: Seconds between header refreshes while the store is quiet, and at most while busy.
HEALTH_IDLE = 30.0
HEALTH_BUSY = 3.0


class EngineChecked(Message):
    """Who runs the engine, and what the operator should hear about it."""

    def __init__(self, state: EngineState | None, news: list[News]) -> None:
        self.state = state
        self.news = news
        super().__init__()


class EngineLog(Message):
    """An error (or a warning worth reading) from the in-process engine."""

    def __init__(self, level: str, text: str) -> None:
        self.level = level
        self.text = text
        super().__init__()


def describe(error: BaseException) -> str:
    """An error as one line for a notification, never a traceback."""
    if isinstance(error, OrderdeckError):
        return str(error)
    message = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return f"{type(error).__name__}: {message}" if message else type(error).__name__


class OrderdeckApp(App[None]):
    TITLE = "orderdeck"
    CSS_PATH = Path(__file__).parent / "console.tcss"
    COMMANDS: ClassVar[set[Any]] = App.COMMANDS | {ViewsProvider, OrdersProvider, ActionsProvider}
    ENABLE_COMMAND_PALETTE = True
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("1", "view('board')", "Board", id="app.board", show=False),
        Binding("2", "view('attention')", "Attention queue", id="app.attention", show=False),
        Binding("3", "view('notifications')", "Notifications", id="app.notifications", show=False),
        Binding("colon", "command_palette", "Commands", id="app.commands"),
        Binding("question_mark", "help", "Help", id="app.help"),
        Binding("q", "quit", "Quit", id="app.quit"),
    ]

    health: reactive[Health | None] = reactive(None, always_update=True)

    def __init__(self, context: ConsoleContext) -> None:
        super().__init__()
        self.context = context
        self._follower: Follower | None = None
        self._watchdog: Watchdog | None = None
        self._health_busy = False
        self._health_due = 0.0
        self._health_dirty = False
        self._health_timer_set = False
        self.keeper = EngineKeeper(context.engine, read_only=context.read_only)
        self.engine_state: EngineState | None = None
        self._engine_checking = False
        self._engine_log: EngineLogHandler | None = None

    # -- lifecycle --------------------------------------------------------------

    def on_load(self) -> None:
        # Building the first frame allocates a great many objects that live as long
        # as the app; no collector passes over them until it is out (then they are
        # frozen out of its way for good, see start_background).
        gc.disable()

    def get_default_screen(self) -> Screen[Any]:
        """The board is the first screen: no blank default screen to build and leave."""
        from console.screens.board import BoardScreen

        return BoardScreen()

    def on_mount(self) -> None:
        if self.context.settings.theme:
            try:
                self.theme = self.context.settings.theme
            except Exception:
                themes = ", ".join(sorted(self.available_themes))
                self.notify(
                    f"[console] theme {self.context.settings.theme!r} is not a theme; "
                    f"one of {themes}",
                    severity="error",
                    markup=False,
                )
        if self.context.settings.keymap:
            self.set_keymap(dict(self.context.settings.keymap))
        # Live updates and the header start once the first view has painted its rows
        # (or after a second), so they do not compete with the first paint.
        self.set_timer(1.0, self.start_background)
        self._watchdog = Watchdog(lambda: self.call_from_thread(self.exit))
        self._watchdog.start()
        on_hangup(asyncio.get_running_loop(), self.exit)

    def start_background(self) -> None:
        if self._follower is not None:
            return
        # Everything built so far lives as long as the app: keep the collector from
        # walking it again and again (long pauses on a busy board otherwise).
        gc.freeze()
        gc.enable()
        self._follower = Follower(self.context.store, self.context.feed_interval, self.post_message)
        self.run_worker(self._follower.run, thread=True, group="feed", exit_on_error=False)
        self.refresh_health()
        self.set_interval(HEALTH_IDLE, self.refresh_health)
        if self.keeper.may_run:
            self._engine_log = EngineLogHandler(
                lambda level, text: self.post_message(EngineLog(level, text)),
                self.context.secrets,
            )
            self._engine_log.install()
        self.check_engine()
        self.set_interval(self.context.engine_check_seconds, self.check_engine)

    async def action_quit(self) -> None:
        if self.keeper.running:
            self.notify("Finishing the sync engine's work…", title="Quitting", timeout=30)
            self.engine_state = EngineState("in-process", detail="stopping")
            self._show_engine()
            await asyncio.to_thread(self.keeper.stop)
        self.exit()

    async def on_unmount(self) -> None:
        gc.unfreeze()
        gc.enable()
        if self._follower is not None:
            self._follower.stop.set()
        if self._watchdog is not None:
            self._watchdog.stop.set()
        # However the console ends (q, SIGHUP, the terminal gone): drain the engine,
        # so its leases are released and its heartbeat says "stopped".
        await asyncio.to_thread(self.keeper.stop)
        if self._engine_log is not None:
            self._engine_log.uninstall()

    # -- views ----------------------------------------------------------------

    def action_view(self, name: str) -> None:
        from console.screens.attention import AttentionScreen
        from console.screens.notifications import NotificationsScreen

        factories: dict[str, Callable[[], OrderdeckScreen]] = {
            "attention": AttentionScreen,
            "notifications": NotificationsScreen,
        }
        if getattr(self.screen, "VIEW_TITLE", "") == name:
            return
        # Views sit side by side on the board: going to one closes what is above it.
        while len(self.screen_stack) > 1:
            self.pop_screen()
        if name in factories:
            self.push_screen(factories[name]())

    def open_order(self, order_id: int) -> None:
        from console.screens.detail import DetailScreen

        self.push_screen(DetailScreen(order_id))

    def action_help(self) -> None:
        from console.screens.help import HelpScreen

        if isinstance(self.screen, HelpScreen):
            return
        self.push_screen(HelpScreen(self.screen))

    # -- store work off the UI thread ---------------------------------------------

    def run_read(self, work: Callable[[Connection], T], then: Callable[[T], Any]) -> None:
        def job() -> None:
            try:
                with self.context.store.read_connection() as conn:
                    result = work(conn)
            except Exception as exc:
                self.call_from_thread(self.show_error, exc)
                return
            self.call_from_thread(then, result)

        self.run_worker(job, thread=True, group="read", exit_on_error=False)

    def run_write(
        self,
        work: Callable[[Connection], T],
        *,
        done: Callable[[T], Any] | str | None = None,
        title: str = "",
    ) -> None:
        """Run one write transaction in a worker; errors become notifications."""

        def job() -> None:
            try:
                with self.context.store.write_connection() as conn:
                    result = work(conn)
            except Exception as exc:
                self.call_from_thread(self.show_error, exc, title)
                return
            if isinstance(done, str):
                self.call_from_thread(self.notify, done, title=title or "Done")
            elif done is not None:
                self.call_from_thread(done, result)

        self.run_worker(job, thread=True, group="write", exit_on_error=False)

    def show_error(self, error: BaseException, title: str = "") -> None:
        self.notify(describe(error), title=title or "Error", severity="error", timeout=8)

    @on(Worker.StateChanged)
    def _worker_failed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR and event.worker.error is not None:
            self.show_error(event.worker.error)

    @on(VirtualList.Failed)
    def _list_failed(self, event: VirtualList.Failed) -> None:
        self.show_error(event.error, "Cannot read the store")

    # -- live -----------------------------------------------------------------

    @on(StoreChanged)
    def _store_changed(self, message: StoreChanged) -> None:
        for screen in self.screen_stack:
            if isinstance(screen, OrderdeckScreen):
                with contextlib.suppress(NoMatches):  # a view being torn down
                    screen.store_changed(message)
        self._health_dirty = True
        self.refresh_health(soon=True)

    @on(FeedFailed)
    def _feed_failed(self, message: FeedFailed) -> None:
        self.show_error(message.error, "Live updates paused")

    def refresh_health(self, soon: bool = False) -> None:
        """Reload the header figures; never two at once, at most every few seconds."""
        now = time.monotonic()
        if self._health_busy:
            self._health_dirty = True
            return
        if soon and now < self._health_due:
            if not self._health_timer_set:
                self._health_timer_set = True
                self.set_timer(self._health_due - now, self._health_timer)
            return
        self._health_busy = True
        self._health_dirty = False
        self._health_due = now + HEALTH_BUSY
        self.run_worker(self._load_health, thread=True, group="health", exit_on_error=False)

    def _health_timer(self) -> None:
        self._health_timer_set = False
        self.refresh_health()

    def _load_health(self) -> None:
        ctx = self.context
        try:
            with ctx.store.read_connection() as conn:
                summary = board.health(conn, heartbeat_fresh=ctx.heartbeat_fresh, now=utcnow())
                statuses = board.status_counts(conn)
            health = Health.from_summary(summary, statuses, self.engine_state)
        except Exception as exc:
            self.call_from_thread(self.show_error, exc, "Cannot read the store's health")
            health = None
        self.call_from_thread(self._health_loaded, health)

    def _health_loaded(self, health: Health | None) -> None:
        self._health_busy = False
        if health is not None:
            self.health = replace(health, engine=self.engine_state)
        if self._health_dirty:
            self.refresh_health(soon=True)

    # -- the engine -----------------------------------------------------------------

    def check_engine(self) -> None:
        """Who runs the engine? Start or stop ours (in a thread: both can block)."""
        if self._engine_checking or self.keeper.closed:
            return
        self._engine_checking = True
        self.run_worker(self._check_engine, thread=True, group="engine", exit_on_error=False)

    def _check_engine(self) -> None:
        try:
            with self.context.store.read_connection() as conn:
                rows = heartbeat.alive(conn, self.context.heartbeat_fresh)
            state, news = self.keeper.check(rows)
        except Exception as exc:
            state = None
            news = [News("error", f"Cannot tell who runs the sync engine: {describe(exc)}")]
        self.post_message(EngineChecked(state, news))

    @on(EngineChecked)
    def _engine_checked(self, message: EngineChecked) -> None:
        self._engine_checking = False
        for item in message.news:
            self.notify(
                item.text,
                title="Sync engine",
                severity=item.severity,  # type: ignore[arg-type]
                timeout=10,
                markup=False,
            )
        if message.state is not None and message.state != self.engine_state:
            self.engine_state = message.state
            self._show_engine()

    def _show_engine(self) -> None:
        if self.health is not None:
            self.health = replace(self.health, engine=self.engine_state)

    @on(EngineLog)
    def _engine_logged(self, message: EngineLog) -> None:
        self.notify(
            message.text,
            title="Sync engine",
            severity="error" if message.level == "error" else "warning",
            timeout=10,
            markup=False,
        )
