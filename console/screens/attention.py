"""The attention queue: what needs a person, most urgent reason first, oldest first."""

from __future__ import annotations

from dataclasses import replace
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Label, Static

from console import actions
from console.format import ATTENTION_STYLE, age, safe, status_label
from console.live import StoreChanged
from console.screens.base import OrderdeckScreen
from console.screens.modals import ChoiceScreen
from console.sources import SqlSource
from console.widgets.header import StatusHeader
from console.widgets.keybar import KeyBar
from console.widgets.virtual_list import Column, VirtualList
from store import lists
from store.lists import AttentionQuery, AttentionRow
from store.models import AttentionItem
from store.statuses import AttentionReason

_attention = AttentionItem.__table__  # type: ignore[attr-defined]


class AttentionScreen(OrderdeckScreen):
    VIEW_TITLE = "attention"
    MUTATING = frozenset({"resolve", "snooze", "note"})
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back", id="attention.back"),
        Binding("f", "filter_reason", "Reason", id="attention.filter_reason"),
        Binding("x", "resolve", "Resolve", id="attention.resolve"),
        Binding("z", "snooze", "Snooze", id="attention.snooze"),
        Binding("n", "note", "Note", id="attention.note"),
        Binding("S", "toggle_snoozed", "Snoozed", id="attention.snoozed"),
    ]
    DEFAULT_CSS = """
    #abar { height: 1; background: $boost; padding: 0 1; }
    """

    def __init__(self) -> None:
        super().__init__()
        self.query_state = AttentionQuery()
        self.counts: dict[str, int] = {}

    def compose(self) -> ComposeResult:
        yield StatusHeader("attention")
        yield Label(id="abar")
        yield Static(classes="list-header", id="aheader")
        yield VirtualList(self._columns(), empty="nothing needs a person", id="alist")
        yield KeyBar()

    def on_mount(self) -> None:
        self._apply(self.query_state)
        self.alist.focus()

    @property
    def alist(self) -> VirtualList[AttentionRow]:
        return self.query_one("#alist", VirtualList)

    def _columns(self) -> list[Column[AttentionRow]]:
        ctx = self.ctx
        return [
            Column("REASON", lambda r: safe(status_label(r.reason), ATTENTION_STYLE), width=19),
            Column("AGE", lambda r: Text(age(r.raised_at, ctx.now())), width=5),
            Column("ORDER", lambda r: safe(r.order_number, "bold"), width=9),
            Column("CUSTOMER", lambda r: safe(r.customer_name), width=12, flex=1, drop=1),
            Column("DETAIL", lambda r: safe(r.detail), width=16, flex=2),
            Column(
                "SNOOZED",
                lambda r: Text(
                    "until " + age(ctx.now(), r.snoozed_until)
                    if r.snoozed_until and r.snoozed_until > ctx.now()
                    else ""
                ),
                width=10,
                drop=2,
            ),
        ]

    def _apply(self, query: AttentionQuery) -> None:
        self.query_state = query
        listing = lists.attention_listing(replace(query, now=self.ctx.now()))
        self.alist.set_source(
            SqlSource(self.ctx.store, listing, lists.attention_row, _attention.c.id)
        )
        self._load_counts()

    def _load_counts(self) -> None:
        now = self.ctx.now()
        self.oapp.run_read(lambda conn: lists.attention_counts(conn, now), self._counts_loaded)

    def _counts_loaded(self, counts: dict[str, int]) -> None:
        self.counts = counts
        self._indicator()

    def _indicator(self) -> None:
        q = self.query_state
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append("most urgent first, oldest first  ", style="dim")
        if q.reason:
            text.append(safe(status_label(q.reason), "bold reverse"))
            text.append("  ")
        if q.snoozed:
            text.append("with snoozed", style="bold reverse")
            text.append("  ")
        for reason, n in sorted(self.counts.items(), key=lambda kv: lists.urgency(kv[0])):
            text.append(f"{status_label(reason)} ", style="bold" if reason == q.reason else "")
            text.append(f"{n:,}  ", style=ATTENTION_STYLE)
        self.query_one("#abar", Label).update(text)

    @on(VirtualList.Loaded, "#alist")
    def _loaded(self, event: VirtualList.Loaded) -> None:
        self.query_one("#aheader", Static).update(
            self.alist.header_text(self.alist.scrollable_content_region.width)
        )

    @on(VirtualList.Selected, "#alist")
    def _open(self, event: VirtualList.Selected) -> None:
        self.oapp.open_order(event.row.order_id)

    def action_back(self) -> None:
        if self.query_state.reason or self.query_state.snoozed:
            self._apply(AttentionQuery())
            return
        self.app.pop_screen()

    def action_filter_reason(self) -> None:
        options: list[tuple[Text | str, str | None]] = [("every reason", None)]
        options += [
            (f"{status_label(r.value)} ({self.counts.get(r.value, 0)})", r.value)
            for r in sorted(AttentionReason, key=lists.urgency)
        ]
        self.app.push_screen(
            ChoiceScreen("Show items raised for", options),
            lambda reason: self._apply(replace(self.query_state, reason=reason)),
        )

    def action_toggle_snoozed(self) -> None:
        self._apply(replace(self.query_state, snoozed=not self.query_state.snoozed))

    def _target(self) -> list[actions.AttentionTarget]:
        row = self.alist.current
        if row is None:
            return []
        return [actions.AttentionTarget(row.id, row.reason, row.detail, row.raised_at)]

    def action_resolve(self) -> None:
        actions.resolve(self.oapp, self._target())

    def action_snooze(self) -> None:
        actions.snooze(self.oapp, self._target())

    def action_note(self) -> None:
        row = self.alist.current
        if row is not None:
            actions.add_note(self.oapp, row.order_id, row.order_number)

    def refresh_data(self, message: StoreChanged | None) -> None:
        self.alist.reload(set(message.order_ids) if message and message.order_ids else None)
        self._load_counts()
