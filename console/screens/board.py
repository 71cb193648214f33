"""The board: every order, one per line, sorted and filtered, live."""

from __future__ import annotations

from dataclasses import replace
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.widgets import Input, Static

from console.format import (
    ATTENTION_STYLE,
    age,
    cell,
    eta_cell,
    safe,
    status_cell,
    status_label,
    status_text,
)
from console.live import StoreChanged
from console.screens.base import OrderdeckScreen
from console.screens.modals import ChoiceScreen
from console.sources import SqlSource
from console.widgets.header import StatusHeader
from console.widgets.keybar import KeyBar
from console.widgets.virtual_list import PAGE, Column, ListSource, VirtualList
from store import board
from store.board import BoardQuery, BoardRow
from store.models import Order
from store.statuses import AttentionReason
from store.text import one_line

_orders = Order.__table__  # type: ignore[attr-defined]
SORT_ORDER = list(board.SORTS)


class BoardScreen(OrderdeckScreen):
    VIEW_TITLE = "board"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("slash", "search", "Search", id="board.search"),
        Binding("escape", "clear", "Clear search and filters", id="board.clear", show=False),
        Binding("s", "cycle_sort", "Sort", id="board.sort"),
        Binding("f", "filter_status", "Status", id="board.filter_status"),
        Binding("c", "filter_carrier", "Carrier", id="board.filter_carrier"),
        Binding("a", "filter_attention", "Attention", id="board.filter_attention"),
    ]

    DEFAULT_CSS = """
    #filter-bar { height: 1; background: $boost; }
    #filter-indicator { width: 1fr; height: 1; padding: 0 1; background: $boost; }
    #search { display: none; height: 1; border: none; padding: 0 1; width: 1fr; }
    #search.active { display: block; }
    .list-header { height: 1; color: $text-muted; text-style: bold; }
    """

    def __init__(self) -> None:
        super().__init__()
        self.query_state = BoardQuery()
        self.total: int | None = None
        self._header_width = -1
        self._indicator_text: Text | None = None

    def compose(self) -> ComposeResult:
        yield StatusHeader("board")
        # One line of text until the search box is first wanted (a container and a
        # box cost a first paint more than all the board's rows).
        yield Static(id="filter-indicator")
        yield Static(classes="list-header", id="board-header")
        yield VirtualList(self._columns(), empty="no orders match", id="board")
        yield KeyBar()

    def on_mount(self) -> None:
        self._apply_query(self.query_state, first_paint=True)
        self.query_one(VirtualList).focus()
        # Column titles on the first frame: the list is as wide as the screen less its
        # scrollbar (a screenful and one more row were read); a resize redraws them.
        self._show_header(self.app.size.width - 1)

    @property
    def board(self) -> VirtualList[BoardRow]:
        return self.query_one("#board", VirtualList)

    # -- columns --------------------------------------------------------------

    def _columns(self) -> list[Column[BoardRow]]:
        ctx = self.ctx

        def parcels(r: BoardRow) -> tuple[str, str]:
            if r.shipment_count > 1:
                return f"{one_line(r.tracking_number)} +{r.shipment_count - 1}", ""
            return cell(r.tracking_number)

        return [
            Column("ORDER", lambda r: cell(r.number, "bold"), width=9),
            Column("CUSTOMER", lambda r: cell(r.customer_name), width=12, flex=2),
            Column("STATUS", lambda r: status_cell(r.status), width=14),
            Column("CARRIER", lambda r: cell(r.carrier), width=10, drop=2),
            Column("TRACKING", parcels, width=12, flex=1, drop=3),
            Column(
                "ETA",
                lambda r: eta_cell(r.estimated_delivery, r.status, ctx.now(), ctx.timezone),
                width=15,
            ),
            Column("SCAN", lambda r: (age(r.last_scan_at, ctx.now()), ""), width=5, drop=1),
            Column(
                "ATTENTION", lambda r: cell(status_label(r.attention), ATTENTION_STYLE), width=11
            ),
        ]

    # -- query ---------------------------------------------------------------

    def source_for(self, query: BoardQuery) -> ListSource[BoardRow]:
        """Where the rows of ``query`` come from: the store, by key."""
        dialect = self.ctx.store.dialect
        return SqlSource(
            self.ctx.store,
            lambda conn: board.listing(query, dialect, conn),
            board.to_row,
            _orders.c.id,
        )

    def _apply_query(self, query: BoardQuery, *, first_paint: bool = False) -> None:
        self.query_state = query
        self.total = None
        source = self.source_for(query)
        first = None
        # A screenful (one more, so the scrollbar is there from the start), read
        # here by key: the first frame already shows orders. The page ahead, the
        # count and everything after are read in workers once the frame is out.
        asked = min(PAGE, self.app.size.height + 1)
        if first_paint:
            try:
                first = source.first(asked)
            except Exception as exc:
                self.oapp.show_error(exc, "Cannot read the store")
        self.board.empty_text = "no orders match" if query.filtered else "no orders yet"
        self.board.set_source(source, first=first, asked=asked)
        self._show_indicator()

    def _show_indicator(self) -> None:
        q = self.query_state
        sort = board.SORTS[q.sort]
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append("sort ", style="dim")
        text.append(f"{sort.label} {'▼' if sort.descending else '▲'}", style="bold")
        for label, value in (
            ("status", status_label(q.status) if q.status else None),
            ("carrier", q.carrier),
            ("attention", status_label(q.attention) if q.attention else None),
        ):
            if value:
                text.append(f"  {label} ", style="dim")
                text.append(value, style="bold reverse")
        if q.search and q.search.strip():
            text.append("  search ", style="dim")
            text.append(f"/{q.search.strip()}", style="bold reverse")
        if self.total is not None:
            text.append(f"  {self.total:,} {'match' if q.filtered else 'orders'}", style="dim")
        if text != self._indicator_text:
            self._indicator_text = text
            self.query_one("#filter-indicator", Static).update(text)

    def on_resize(self) -> None:
        self.call_after_refresh(self._show_header)

    def _show_header(self, width: int | None = None) -> None:
        if width is None:
            width = self.board.scrollable_content_region.width
        if width != self._header_width:
            self._header_width = width
            self.query_one("#board-header", Static).update(self.board.header_text(width))

    @on(VirtualList.Loaded)
    def _loaded(self, event: VirtualList.Loaded) -> None:
        self.call_after_refresh(self.oapp.start_background)
        self.total = event.total
        self._show_indicator()
        self._show_header()

    @on(VirtualList.Selected, "#board")
    def _open(self, event: VirtualList.Selected) -> None:
        self.oapp.open_order(event.row.id)

    # -- actions -------------------------------------------------------------

    def _search_box(self) -> Input | None:
        found = self.query("#search")
        return found.first(Input) if found else None

    async def action_search(self) -> None:
        search = self._search_box()
        if search is None:
            search = Input(placeholder="search number, name, email, phone, tracking", id="search")
            old = self.query_one("#filter-indicator", Static)
            bar = Horizontal(
                Static(self._indicator_text or "", id="filter-indicator"), search, id="filter-bar"
            )
            with self.app.batch_update():  # the line is replaced in one frame
                await self.mount(bar, before=old)
                await old.remove()
        search.add_class("active")
        self.query_one("#filter-indicator").styles.width = "auto"
        search.focus()

    @on(Input.Changed, "#search")
    def _search_changed(self, event: Input.Changed) -> None:
        if event.value != (self.query_state.search or ""):
            self._apply_query(_replace(self.query_state, search=event.value))

    @on(Input.Submitted, "#search")
    def _search_done(self, event: Input.Submitted) -> None:
        self.board.focus()

    def action_clear(self) -> None:
        search = self._search_box()
        if search is None:
            if self.query_state.filtered:
                self._apply_query(BoardQuery(sort=self.query_state.sort))
            return
        if search.has_focus and search.value:
            search.value = ""
            return
        if search.has_focus or search.value:
            search.value = ""
            search.remove_class("active")
            self.query_one("#filter-indicator").styles.width = "1fr"
            self.board.focus()
            return
        if self.query_state.filtered:
            self._apply_query(BoardQuery(sort=self.query_state.sort))

    def action_cycle_sort(self) -> None:
        index = SORT_ORDER.index(self.query_state.sort)
        self._apply_query(
            _replace(self.query_state, sort=SORT_ORDER[(index + 1) % len(SORT_ORDER)])
        )

    def action_filter_status(self) -> None:
        options: list[tuple[Text | str, str | None]] = [("all statuses", None)]
        options += [(status_text(s), s) for s in board.STATUSES]
        self.app.push_screen(
            ChoiceScreen("Show orders whose status is", options),
            lambda value: self._set_filter(status=value),
        )

    def action_filter_carrier(self) -> None:
        def pick(carriers: list[str]) -> None:
            options: list[tuple[Text | str, str | None]] = [("all carriers", None)]
            options += [(safe(c), c) for c in carriers]
            self.app.push_screen(
                ChoiceScreen("Show orders shipped with", options),
                lambda value: self._set_filter(carrier=value),
            )

        self.oapp.run_read(board.carriers, pick)

    def action_filter_attention(self) -> None:
        options: list[tuple[Text | str, str | None]] = [
            ("everything", None),
            ("any attention reason", "any"),
        ]
        options += [(status_label(r.value), r.value) for r in AttentionReason]
        self.app.push_screen(
            ChoiceScreen("Show orders needing attention for", options),
            lambda value: self._set_filter(attention=value),
        )

    def _set_filter(self, **changes: str | None) -> None:
        self._apply_query(_replace(self.query_state, **changes))

    # -- live ----------------------------------------------------------------

    def refresh_data(self, message: StoreChanged | None) -> None:
        changed = set(message.order_ids) if message and message.order_ids is not None else None
        self.board.reload(changed)


def _replace(query: BoardQuery, **changes: str | None) -> BoardQuery:
    return replace(query, **changes)  # type: ignore[arg-type]
