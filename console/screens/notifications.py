"""Notifications: the outbox and the log, filterable, with bulk resend."""

from __future__ import annotations

from dataclasses import replace
from typing import ClassVar

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.widgets import Input, Label, ProgressBar, Static
from textual.worker import get_current_worker

from console import actions
from console.format import STATE_STYLE, local, safe, status_label
from console.live import StoreChanged
from console.screens.base import OrderdeckScreen
from console.screens.modals import ChoiceScreen, InfoScreen, PromptScreen
from console.sources import SqlSource
from console.widgets.header import StatusHeader
from console.widgets.keybar import KeyBar
from console.widgets.virtual_list import Column, VirtualList
from store import lists, queries
from store.lists import NotificationQuery, NotificationRow
from store.models import Notification
from store.statuses import NotificationState

_notifications = Notification.__table__  # type: ignore[attr-defined]


class NotificationsScreen(OrderdeckScreen):
    VIEW_TITLE = "notifications"
    MUTATING = frozenset({"resend", "bulk_resend", "mark"})
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back", id="notifications.back"),
        Binding("slash", "search", "Recipient", id="notifications.search"),
        Binding("f", "filter_state", "State", id="notifications.filter_state"),
        Binding("c", "filter_channel", "Channel", id="notifications.filter_channel"),
        Binding("o", "filter_order", "Order", id="notifications.filter_order"),
        Binding("r", "resend", "Resend", id="notifications.resend"),
        Binding("space", "mark", "Mark", id="notifications.mark"),
        Binding("R", "bulk_resend", "Resend marked", id="notifications.bulk_resend"),
        Binding("d", "open_order", "Order detail", id="notifications.open_order"),
    ]
    DEFAULT_CSS = """
    #nbar { height: 1; background: $boost; }
    #nfilter { width: 1fr; height: 1; padding: 0 1; }
    #nsearch { display: none; height: 1; border: none; padding: 0 1; width: 1fr; }
    #nsearch.active { display: block; }
    #nprogress { display: none; width: 40; height: 1; }
    #nprogress.active { display: block; }
    """

    def __init__(self, order_id: int | None = None, order_number: str | None = None) -> None:
        super().__init__()
        self.query_state = NotificationQuery(order_id=order_id)
        self.order_number = order_number
        self.total: int | None = None

    def compose(self) -> ComposeResult:
        yield StatusHeader("notifications")
        with Horizontal(id="nbar"):
            yield Label(id="nfilter")
            yield Input(placeholder="recipient contains…", id="nsearch")
            yield ProgressBar(id="nprogress", show_eta=False)
        yield Static(classes="list-header", id="nheader")
        yield VirtualList(
            self._columns(), empty="no notifications match", markable=True, id="nlist"
        )
        yield KeyBar()

    def on_mount(self) -> None:
        self._apply(self.query_state)
        self.nlist.focus()

    @property
    def nlist(self) -> VirtualList[NotificationRow]:
        return self.query_one("#nlist", VirtualList)

    def _columns(self) -> list[Column[NotificationRow]]:
        tz = self.ctx.timezone
        return [
            Column("#", lambda r: Text(str(r.id)), width=7, justify="right"),
            Column("ORDER", lambda r: safe(r.order_number), width=9),
            Column("EVENT", lambda r: safe(r.event), width=12, drop=1),
            Column("CHANNEL", lambda r: safe(r.channel), width=8),
            Column("TO", lambda r: safe(r.recipient), width=14, flex=2),
            Column(
                "STATE",
                lambda r: Text(status_label(r.state), style=STATE_STYLE.get(r.state, "")),
                width=10,
            ),
            Column("TRIES", lambda r: Text(str(r.attempts)), width=5, drop=2),
            Column(
                "WHEN",
                lambda r: Text(local(r.sent_at or r.created_at, tz, "%m-%d %H:%M")),
                width=11,
            ),
            Column("RESULT", lambda r: safe(r.last_error), width=10, flex=1, drop=3),
        ]

    def _apply(self, query: NotificationQuery) -> None:
        self.query_state = query
        self.total = None
        listing = lists.notification_listing(query)
        self.nlist.set_source(
            SqlSource(self.ctx.store, listing, lists.notification_row, _notifications.c.id)
        )
        self._indicator()

    def _indicator(self) -> None:
        q = self.query_state
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append("newest first", style="dim")
        for label, value in (
            ("state", status_label(q.state) if q.state else None),
            ("channel", q.channel),
            ("order", self.order_number if q.order_id is not None else None),
        ):
            if value:
                text.append(f"  {label} ", style="dim")
                text.append(safe(value, "bold reverse"))
        if q.recipient and q.recipient.strip():
            text.append("  to ", style="dim")
            text.append(safe(f"/{q.recipient.strip()}", "bold reverse"))
        if self.total is not None:
            text.append(f"  {self.total:,} shown", style="dim")
        if self.nlist.marked:
            text.append(f"  {len(self.nlist.marked)} marked", style="bold yellow")
        self.query_one("#nfilter", Label).update(text)

    @on(VirtualList.Loaded, "#nlist")
    def _loaded(self, event: VirtualList.Loaded) -> None:
        self.total = event.total
        self._indicator()
        self.query_one("#nheader", Static).update(
            self.nlist.header_text(self.nlist.scrollable_content_region.width)
        )

    def on_resize(self) -> None:
        self.call_after_refresh(
            lambda: self.query_one("#nheader", Static).update(
                self.nlist.header_text(self.nlist.scrollable_content_region.width)
            )
        )

    @on(VirtualList.Selected, "#nlist")
    def _show(self, event: VirtualList.Selected) -> None:
        row: NotificationRow = event.row

        def load(conn: object) -> tuple[dict[str, object] | None, list[dict[str, object]]]:
            found = (
                conn.execute(  # type: ignore[attr-defined]
                    _notifications.select().where(_notifications.c.id == row.id)
                )
                .mappings()
                .first()
            )
            return (dict(found) if found else None, lists.attempts_of(conn, row.id))  # type: ignore[arg-type]

        self.oapp.run_read(load, lambda got: self._attempts(row, *got))

    def _attempts(
        self,
        row: NotificationRow,
        full: dict[str, object] | None,
        attempts: list[dict[str, object]],
    ) -> None:
        tz = self.ctx.timezone
        head = Text()
        head.append(f"#{row.id} ", style="bold")
        head.append(safe(row.event, "bold"))
        head.append(f" · {row.channel} · ")
        head.append(safe(row.recipient))
        head.append(" · ")
        head.append(status_label(row.state), style=STATE_STYLE.get(row.state, ""))
        parts: list[object] = [head]
        if full and full.get("subject"):
            parts.append(Text("subject: ", style="dim") + safe(full.get("subject")))
        if full and full.get("state_reason"):
            parts.append(Text("why: ", style="dim") + safe(full.get("state_reason")))
        table = Table(box=None, pad_edge=False, header_style="bold dim")
        for column in ("TRY", "STARTED", "OUTCOME", "PROVIDER SAID"):
            table.add_column(column, overflow="fold")
        for a in attempts:
            said = a.get("error") or ""
            if a.get("result"):
                said = f"{said} {a['result']}".strip()
            table.add_row(
                str(a["attempt"]),
                local(a["started_at"], tz),  # type: ignore[arg-type]
                safe(a.get("outcome")),
                safe(said),
            )
        parts.append(table if attempts else Text("no attempts yet", style="dim"))
        self.app.push_screen(InfoScreen("Notification", Group(*parts)))  # type: ignore[arg-type]

    # -- filters ----------------------------------------------------------------

    def action_back(self) -> None:
        search = self.query_one("#nsearch", Input)
        if search.has_focus or search.value:
            search.value = ""
            search.remove_class("active")
            self.nlist.focus()
            return
        if self.query_state != NotificationQuery():
            self.order_number = None
            self._apply(NotificationQuery())
            return
        self.app.pop_screen()

    def action_search(self) -> None:
        search = self.query_one("#nsearch", Input)
        search.add_class("active")
        self.query_one("#nfilter").styles.width = "auto"
        search.focus()

    @on(Input.Changed, "#nsearch")
    def _search(self, event: Input.Changed) -> None:
        self._apply(replace(self.query_state, recipient=event.value))

    @on(Input.Submitted, "#nsearch")
    def _search_done(self, event: Input.Submitted) -> None:
        self.nlist.focus()

    def action_filter_state(self) -> None:
        options: list[tuple[Text | str, str | None]] = [("all states", None)]
        options += [
            (Text(status_label(s), style=STATE_STYLE.get(s, "")), s.value)
            for s in NotificationState
        ]
        self.app.push_screen(
            ChoiceScreen("Show notifications that are", options),
            lambda state: self._apply(replace(self.query_state, state=state)),
        )

    def action_filter_channel(self) -> None:
        def pick(channels: list[str]) -> None:
            options: list[tuple[Text | str, str | None]] = [("all channels", None)]
            options += [(safe(c), c) for c in channels]
            self.app.push_screen(
                ChoiceScreen("Show notifications sent on", options),
                lambda channel: self._apply(replace(self.query_state, channel=channel)),
            )

        self.oapp.run_read(lists.notification_channels, pick)

    def action_filter_order(self) -> None:
        def find(number: str | None) -> None:
            if number is None:
                return
            if not number.strip():
                self.order_number = None
                self._apply(replace(self.query_state, order_id=None))
                return

            def look(conn: object) -> tuple[int, str]:
                from sqlmodel import Session

                with Session(bind=conn) as session:  # type: ignore[arg-type]
                    order = queries.find_order(session, number)
                    return order.id or 0, order.number

            def show(found: tuple[int, str]) -> None:
                self.order_number = found[1]
                self._apply(replace(self.query_state, order_id=found[0]))

            self.oapp.run_read(look, show)

        self.app.push_screen(
            PromptScreen("Only the notifications of order", placeholder="#1001"), find
        )

    def action_open_order(self) -> None:
        row = self.nlist.current
        if row is not None and row.order_id is not None:
            self.oapp.open_order(row.order_id)

    # -- resend -------------------------------------------------------------------

    def action_mark(self) -> None:
        self.nlist.toggle_mark()
        self.nlist.action_cursor(1)
        self._indicator()

    def action_resend(self) -> None:
        row = self.nlist.current
        if row is None:
            return
        actions.resend_one(
            self.oapp,
            [actions.ResendTarget(row.id, row.event, row.channel, row.recipient, row.state)],
        )

    def action_bulk_resend(self) -> None:
        actions.resend_many(self.oapp, sorted(self.nlist.marked), self._bulk)  # type: ignore[arg-type]

    def _bulk(self, ids: list[int]) -> None:
        bar = self.query_one("#nprogress", ProgressBar)
        bar.update(total=len(ids), progress=0)
        bar.add_class("active")
        self._bulk_worker(ids)

    @work(thread=True, group="bulk-resend", exit_on_error=False)
    def _bulk_worker(self, ids: list[int]) -> None:
        worker = get_current_worker()
        done, failed = 0, []
        for nid in ids:
            if worker.is_cancelled:
                break
            try:
                with self.ctx.store.write_connection() as conn:
                    actions._resend(conn, self.oapp, nid, None)
                done += 1
            except Exception as exc:
                failed.append((nid, exc))
            self.app.call_from_thread(self.query_one("#nprogress", ProgressBar).advance, 1)
        self.app.call_from_thread(self._bulk_done, done, failed)

    def _bulk_done(self, done: int, failed: list[tuple[int, BaseException]]) -> None:
        self.query_one("#nprogress", ProgressBar).remove_class("active")
        self.nlist.clear_marks()
        self._indicator()
        if done:
            self.app.notify(f"{done} notifications queued again", title="Resend requested")
        for nid, error in failed[:5]:
            self.oapp.show_error(error, f"Resend of #{nid} failed")
        if len(failed) > 5:
            self.app.notify(f"…and {len(failed) - 5} more failed", severity="error")

    def refresh_data(self, message: StoreChanged | None) -> None:
        self.nlist.reload(None)
