"""A list over a table too large to hold: Textual's Line API on a ``ScrollView``.

Like toolong's log view, the widget's virtual height is the row count and
:meth:`VirtualList.render_line` serves each visible line from a small cache of
rows. The cache holds a few pages around the cursor; a background thread fills
it by key (:mod:`store.keyset`) a page ahead of where the user is going, so
scrolling and paging never wait on SQL and memory does not grow with the table.

Only one fetch runs at a time; requests made meanwhile are folded into the next
one. A live reload re-reads the window around the cursor and keeps the cursor on
the same row by its id, wherever the row moved.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, ClassVar, Generic, Protocol, TypeVar

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from store.keyset import Key

R = TypeVar("R")

#: Rows fetched per page.
PAGE = 120
#: How long a changed row stays highlighted, in seconds.
HIGHLIGHT_SECONDS = 2.0


class ListSource(Protocol[R]):
    """Where a :class:`VirtualList` gets its rows; every method runs off the UI thread."""

    def count(self) -> int: ...
    def first(self, limit: int) -> list[R]: ...
    def last(self, limit: int) -> list[R]: ...
    def after(self, key: Key, limit: int) -> list[R]: ...
    def before(self, key: Key, limit: int) -> list[R]: ...
    def at(self, offset: int, limit: int) -> list[R]: ...
    def rank(self, key: Key) -> int: ...
    def find(self, row_id: Hashable) -> R | None: ...
    def key(self, row: R) -> Key: ...
    def row_id(self, row: R) -> Hashable: ...


@dataclass(frozen=True)
class Column(Generic[R]):
    title: str
    #: A cell: plain text and a style (fast), or a Text when it mixes styles.
    render: Callable[[R], Text | tuple[str, str]]
    width: int = 0
    #: Flexible columns share what is left; 0 means fixed at ``width``.
    flex: int = 0
    #: Columns with the highest number are dropped first on narrow terminals.
    drop: int = 0
    justify: str = "left"


@dataclass
class _Window:
    start: int
    rows: list[Any] = field(default_factory=list)


class VirtualList(ScrollView, Generic[R], can_focus=True):
    """Rows of a :class:`ListSource`, one per line, with a cursor and marks."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up,k", "cursor(-1)", "Up", show=False, id="list.up"),
        Binding("down,j", "cursor(1)", "Down", show=False, id="list.down"),
        Binding("pageup,ctrl+b", "page(-1)", "Page up", show=False, id="list.page_up"),
        Binding("pagedown,ctrl+d", "page(1)", "Page down", show=False, id="list.page_down"),
        Binding("home,g", "home", "First", show=False, id="list.home"),
        Binding("end,G", "end", "Last", show=False, id="list.end"),
        Binding("enter", "select", "Open", id="list.open"),
    ]

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "virtual-list--cursor",
        "virtual-list--marked",
        "virtual-list--changed",
        "virtual-list--loading",
        "virtual-list--empty",
    }

    DEFAULT_CSS = """
    VirtualList {
        height: 1fr;
        overflow-x: hidden;
        scrollbar-size-vertical: 1;
    }
    VirtualList > .virtual-list--cursor { background: $accent 40%; text-style: bold; }
    VirtualList:focus > .virtual-list--cursor { background: $accent; color: $text; }
    VirtualList > .virtual-list--marked { color: $warning; text-style: bold; }
    VirtualList > .virtual-list--changed { background: $success 30%; }
    VirtualList > .virtual-list--loading { color: $text-muted; }
    VirtualList > .virtual-list--empty { color: $text-muted; text-style: italic; }
    """

    class _ListMessage(Message):
        def __init__(self, virtual_list: VirtualList[Any]) -> None:
            self.virtual_list = virtual_list
            super().__init__()

        @property
        def control(self) -> VirtualList[Any]:
            return self.virtual_list

    class Selected(_ListMessage):
        """Enter (or a double click) on a row."""

        def __init__(self, virtual_list: VirtualList[Any], row: Any) -> None:
            self.row = row
            super().__init__(virtual_list)

    class Loaded(_ListMessage):
        """A load finished; ``total`` rows match."""

        def __init__(self, virtual_list: VirtualList[Any], total: int) -> None:
            self.total = total
            super().__init__(virtual_list)

    class Failed(_ListMessage):
        def __init__(self, virtual_list: VirtualList[Any], error: BaseException) -> None:
            self.error = error
            super().__init__(virtual_list)

    def __init__(
        self,
        columns: Sequence[Column[R]],
        *,
        empty: str = "nothing here",
        markable: bool = False,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.columns = list(columns)
        self.empty_text = empty
        self.markable = markable
        self.source: ListSource[R] | None = None
        self.total = 0
        self.known = False
        self.cursor = 0
        self.marked: dict[Hashable, R] = {}
        self._rows: dict[int, R] = {}
        self._generation = 0
        self._lock = threading.Lock()
        self._busy = False
        self._counting = False
        self._count_again = False
        self._wanted: tuple[str, Any] | None = None
        self._highlight: dict[Hashable, float] = {}
        self._highlight_timer: Any = None
        self._cursor_id: Hashable | None = None
        self._layout: tuple[int, list[tuple[Column[R], int]]] | None = None
        self._style_cache: dict[str, Style] | None = None

    # -- public API -----------------------------------------------------------

    @property
    def current(self) -> R | None:
        return self._rows.get(self.cursor)

    def visible_rows(self) -> list[R]:
        top = self.scroll_offset.y
        return [
            self._rows[i]
            for i in range(top, min(self.total, top + self.size.height))
            if i in self._rows
        ]

    def set_source(
        self, source: ListSource[R], *, first: list[R] | None = None, asked: int = PAGE
    ) -> None:
        """Show ``source`` from its first row (a new sort, filter or search).

        ``first``: its first rows when the caller has them already (the first
        paint of a view), so the rows are on the very first frame; ``asked``: how
        many it asked for (fewer came: that is all of them)."""
        self.source = source
        self._generation += 1
        self._rows.clear()
        self.cursor = 0
        self._cursor_id = None
        self.known = False
        if self.scroll_offset.y:
            self.scroll_to(y=0, animate=False, immediate=True)
        if first is None:
            self._request(("reset", None))
            return
        complete = len(first) < asked
        self._apply_reset(self._generation, first, complete)
        if not complete:  # counting and reading ahead start once the first frame is out
            self.call_after_refresh(self._start_count, self._generation)

    def reload(self, changed: set[Hashable] | None = None) -> None:
        """Re-read the window around the cursor (another process committed)."""
        if self.source is not None:
            self._request(("reload", changed))

    def toggle_mark(self) -> None:
        row = self.current
        if row is None or self.source is None:
            return
        row_id = self.source.row_id(row)
        if row_id in self.marked:
            del self.marked[row_id]
        else:
            self.marked[row_id] = row
        self.refresh_line(self.cursor - self.scroll_offset.y)

    def clear_marks(self) -> None:
        self.marked.clear()
        self.refresh()

    def move_to_id(self, row_id: Hashable) -> None:
        """Put the cursor on the row with ``row_id`` (fetching its window)."""
        self._cursor_id = row_id
        self._request(("reload", None))

    # -- fetching -------------------------------------------------------------

    def _request(self, job: tuple[str, Any]) -> None:
        with self._lock:
            if self._busy:
                # Coalesce: a reset wins over a reload, a reload over a page.
                order = {"reset": 3, "reload": 2, "page": 1}
                if self._wanted is None or order[job[0]] >= order[self._wanted[0]]:
                    if job[0] == "reload" and self._wanted and self._wanted[0] == "reload":
                        job = ("reload", _union(self._wanted[1], job[1]))
                    self._wanted = job
                return
            self._busy = True
        generation = self._generation
        state = self._snapshot()
        self.run_worker(
            lambda: self._fetch(job, generation, state),
            thread=True,
            group=f"list-{id(self)}",
            exit_on_error=False,
        )

    def _snapshot(self) -> dict[str, Any]:
        cursor_row = self._rows.get(self.cursor)
        keys = {i: self.source.key(r) for i, r in self._rows.items()} if self.source else {}
        return {
            "cursor": self.cursor,
            "offset": self.cursor - self.scroll_offset.y,
            "height": max(self.size.height, 10),
            "cursor_id": self._cursor_id
            if self._cursor_id is not None
            else (
                self.source.row_id(cursor_row) if cursor_row is not None and self.source else None
            ),
            "keys": keys,
            "total": self.total,
            "known": self.known,
            "top": self.scroll_offset.y,
        }

    def _fetch(self, job: tuple[str, Any], generation: int, state: dict[str, Any]) -> None:
        source = self.source
        assert source is not None
        try:
            kind, arg = job
            if kind == "reset":
                rows = source.first(PAGE)
                complete = len(rows) < PAGE
                self.app.call_from_thread(self._apply_reset, generation, rows, complete)
                if not complete:
                    # Counting a broad search can take a while: it runs on its own so
                    # the next keystroke's first page never waits behind it.
                    self.app.call_from_thread(self._start_count, generation)
            elif kind == "reload":
                self._fetch_reload(source, generation, state, arg)
            else:
                start, rows = self._fetch_page(source, arg, state)
                self.app.call_from_thread(self._apply_page, generation, start, rows)
        except Exception as exc:  # shown as a notification, never a traceback
            self.app.call_from_thread(self.post_message, VirtualList.Failed(self, exc))
        finally:
            self.app.call_from_thread(self._done)

    def _fetch_page(
        self, source: ListSource[R], wanted: tuple[int, int], state: dict[str, Any]
    ) -> tuple[int, list[R]]:
        start, end = wanted
        keys: dict[int, Key] = state["keys"]
        if start <= 0:
            return 0, source.first(end)
        if start - 1 in keys:
            return start, source.after(keys[start - 1], end - start)
        if end in keys:
            rows = source.before(keys[end], end - start)
            return end - len(rows), rows
        if state["known"] and end >= state["total"]:
            rows = source.last(state["total"] - start)
            return state["total"] - len(rows), rows
        return start, source.at(start, end - start)

    def _fetch_reload(
        self,
        source: ListSource[R],
        generation: int,
        state: dict[str, Any],
        changed: set[Hashable] | None,
    ) -> None:
        total = source.count()
        row = source.find(state["cursor_id"]) if state["cursor_id"] is not None else None
        height = state["height"]
        if row is not None:
            key = source.key(row)
            position = source.rank(key)
            above = source.before(key, max(state["offset"], 0) + height)
            below = source.after(key, height * 2)
            rows = [*above, row, *below]
            start = position - len(above)
        else:
            position = min(state["cursor"], max(total - 1, 0))
            start = max(0, position - max(state["offset"], 0) - height)
            rows = source.at(start, height * 3)
        self.app.call_from_thread(
            self._apply_reload,
            generation,
            total,
            start,
            rows,
            position,
            state["offset"],
            changed,
            state["top"] == 0,
        )

    def _start_count(self, generation: int) -> None:
        if generation != self._generation:
            return
        if self._counting:
            self._count_again = True
            return
        self._counting = True
        self._count_again = False
        source = self.source
        assert source is not None

        def job() -> None:
            try:
                total = source.count()
                tail = source.last(PAGE)
                self.app.call_from_thread(self._apply_count, generation, total, tail)
            except Exception as exc:
                self.app.call_from_thread(self.post_message, VirtualList.Failed(self, exc))
            finally:
                self.app.call_from_thread(self._count_done)

        self.run_worker(job, thread=True, group=f"count-{id(self)}", exit_on_error=False)

    def _count_done(self) -> None:
        self._counting = False
        if self._count_again and not self.known:
            self._start_count(self._generation)

    # -- applying (UI thread) ---------------------------------------------------

    def _done(self) -> None:
        with self._lock:
            self._busy = False
            job, self._wanted = self._wanted, None
        if job is not None:
            self._request(job)

    def _apply_reset(self, generation: int, rows: list[R], complete: bool) -> None:
        if generation != self._generation:
            return
        self._rows = dict(enumerate(rows))
        self.total = len(rows)
        self.known = complete
        self.cursor = 0
        self._sync_size()
        self.refresh()
        if complete:
            self.post_message(VirtualList.Loaded(self, self.total))

    def _apply_count(self, generation: int, total: int, tail: list[R]) -> None:
        if generation != self._generation:
            return
        self.total = total
        self.known = True
        for offset, row in enumerate(tail):
            self._rows[total - len(tail) + offset] = row
        self._sync_size()
        self.refresh()
        self.post_message(VirtualList.Loaded(self, total))
        # A first paint read only the screenful: read the page ahead now.
        self.call_after_refresh(self._ensure_here)

    def _apply_page(self, generation: int, start: int, rows: list[R]) -> None:
        if generation != self._generation:
            return
        for offset, row in enumerate(rows):
            self._rows[start + offset] = row
        if not self.known and start + len(rows) > self.total:
            self.total = start + len(rows)
            self._sync_size()
        self._evict()
        self.refresh()

    def _apply_reload(
        self,
        generation: int,
        total: int,
        start: int,
        rows: list[R],
        position: int,
        offset: int,
        changed: set[Hashable] | None,
        at_top: bool,
    ) -> None:
        if generation != self._generation or self.source is None:
            return
        source = self.source
        old = {source.row_id(r): r for r in self._rows.values()}
        self._rows = {start + i: r for i, r in enumerate(rows)}
        self.total = total
        self.known = True
        self._cursor_id = None
        now = time.monotonic()
        for row in rows:
            row_id = source.row_id(row)
            before = old.get(row_id)
            if (changed is not None and row_id in changed) or (
                before is not None and before != row
            ):
                self._highlight[row_id] = now + HIGHLIGHT_SECONDS
        for row_id in list(self.marked):
            fresh = next((r for r in rows if source.row_id(r) == row_id), None)
            if fresh is not None:
                self.marked[row_id] = fresh
        self._sync_size()
        self.cursor = min(position, max(total - 1, 0))
        top = max(0, self.cursor - max(offset, 0))
        if at_top and self.cursor < max(self.size.height, 1):
            top = 0  # watching the head of the list: new rows arrive in view
        self.scroll_to(y=top, animate=False, immediate=True)
        self.refresh()
        if self._highlight and self._highlight_timer is None:
            self._highlight_timer = self.set_timer(HIGHLIGHT_SECONDS + 0.05, self._fade)
        self.post_message(VirtualList.Loaded(self, total))

    def _fade(self) -> None:
        self._highlight_timer = None
        now = time.monotonic()
        self._highlight = {k: t for k, t in self._highlight.items() if t > now}
        self.refresh()
        if self._highlight:
            soonest = min(self._highlight.values()) - now
            self._highlight_timer = self.set_timer(max(soonest, 0.05) + 0.05, self._fade)

    def _evict(self) -> None:
        keep = PAGE * 4
        if len(self._rows) <= keep * 2:
            return
        low, high = self.cursor - keep, self.cursor + keep
        self._rows = {i: r for i, r in self._rows.items() if low <= i <= high}

    def _sync_size(self) -> None:
        size = Size(self.scrollable_content_region.width, self.total)
        if size != self.virtual_size:
            self.virtual_size = size

    def _ensure(self, top: int) -> None:
        """Ask for the rows of the screen at ``top``, and a page ahead each way."""
        if self.source is None or self.total == 0:
            return
        height = max(self.size.height, 1)
        want = range(max(0, top - PAGE // 2), min(self.total, top + height + PAGE // 2))
        missing = [i for i in want if i not in self._rows]
        if not missing:
            return
        start = missing[0]
        end = min(self.total if self.known else start + PAGE, max(missing[-1] + 1, start + PAGE))
        self._request(("page", (start, end)))

    # -- rendering ------------------------------------------------------------

    def on_resize(self, event: events.Resize) -> None:
        self._layout = None
        self._sync_size()

    def layout(self, width: int) -> list[tuple[Column[R], int]]:
        if self._layout is not None and self._layout[0] == width:
            return self._layout[1]
        columns = list(self.columns)
        while True:
            fixed = sum(c.width for c in columns if not c.flex) + len(columns)
            flex = [c for c in columns if c.flex]
            room = width - fixed
            need = sum(c.width for c in flex)
            if room >= need or len(columns) <= 2:
                break
            worst = max(columns, key=lambda c: c.drop)
            if worst.drop == 0:
                break
            columns.remove(worst)
        total_flex = sum(c.flex for c in flex) or 1
        placed: list[tuple[Column[R], int]] = []
        spare = max(room, 0)
        for column in columns:
            if column.flex:
                size = max(column.width, spare * column.flex // total_flex)
            else:
                size = column.width
            placed.append((column, size))
        # Give rounding leftovers to the first flexible column.
        used = sum(w for _, w in placed) + len(placed)
        if placed and used < width:
            for i, (column, size) in enumerate(placed):
                if column.flex:
                    placed[i] = (column, size + width - used)
                    break
        self._layout = (width, placed)
        return placed

    def header_text(self, width: int) -> Text:
        text = Text(no_wrap=True, overflow="crop")
        for column, size in self.layout(width):
            text.append(" ")
            text.append(_fit(column.title, size, column.justify))
        return text

    def render_line(self, y: int) -> Strip:
        top = self.scroll_offset.y
        index = top + y
        width = self.scrollable_content_region.width
        base = self._styles()["base"]
        if index >= self.total:
            if self.total == 0 and y == 0 and self.known:
                style = self._styles()["empty"]
                return Strip([Segment(_fit(f" {self.empty_text}", width), base + style)])
            return Strip.blank(width, base)
        row = self._rows.get(index)
        if row is None:
            self._ensure(top)
            style = self._styles()["loading"]
            return Strip([Segment(_fit(" …", width), base + style)])
        return self._row_strip(index, row, width, base)

    def _styles(self) -> dict[str, Style]:
        """The widget's styles, computed once per CSS or theme change, not per line."""
        if self._style_cache is None:
            cache = {"base": self.rich_style}
            for name in ("empty", "loading", "changed", "marked", "cursor"):
                cache[name] = self.get_component_rich_style(f"virtual-list--{name}")
            self._style_cache = cache
        return self._style_cache

    def notify_style_update(self) -> None:
        self._style_cache = None
        super().notify_style_update()

    def _row_strip(self, index: int, row: R, width: int, base: Style) -> Strip:
        assert self.source is not None
        row_id = self.source.row_id(row)
        style = base
        if row_id in self._highlight:
            style += self._styles()["changed"]
        if row_id in self.marked:
            style += self._styles()["marked"]
        # The cursor goes on top of the cells' own colours, so its row stays legible.
        cursor = self._styles()["cursor"] if index == self.cursor else None
        # Neighbouring cells of the same style become one segment: a row is a few
        # segments, not two per column, and everything downstream is per segment.
        texts: list[str] = []
        styles: list[Style] = []
        gap = "●" if row_id in self.marked else " "
        placed = self.layout(width)
        for column, size in placed:
            cell = column.render(row)
            if isinstance(cell, tuple):  # the fast path: one string, one style
                plain, cell_style = cell
                cell_rich = style + _style(cell_style) if cell_style else style
                pieces = [(gap, style), (_fit(plain, size, column.justify), cell_rich)]
            else:
                cell.truncate(size, overflow="ellipsis")
                if cell.cell_len < size:
                    padding = " " * (size - cell.cell_len)
                    cell = Text(padding) + cell if column.justify == "right" else cell + padding
                pieces = [(gap, style)] + [
                    (segment.text, style + segment.style if segment.style else style)
                    for segment in cell.render(self.app.console)
                ]
            gap = " "
            for text, piece_style in pieces:
                if cursor is not None:
                    piece_style = piece_style + cursor
                if styles and styles[-1] is piece_style:
                    texts[-1] += text
                else:
                    texts.append(text)
                    styles.append(piece_style)
        segments = [Segment(text, s) for text, s in zip(texts, styles, strict=True)]
        if sum(size for _, size in placed) + len(placed) == width:
            return Strip(segments, width)  # every cell was cut to size: no re-measuring
        line_style = style + cursor if cursor else style
        return Strip(segments).adjust_cell_length(width, line_style)

    # -- cursor and keys ------------------------------------------------------

    def _move(self, index: int) -> None:
        if self.total == 0:
            return
        old = self.cursor
        self.cursor = max(0, min(index, self.total - 1))
        self._cursor_id = None
        top = self.scroll_offset.y
        height = max(self.size.height, 1)
        if self.cursor < top:
            self.scroll_to(y=self.cursor, animate=False, immediate=True)
        elif self.cursor >= top + height:
            self.scroll_to(y=self.cursor - height + 1, animate=False, immediate=True)
        self.refresh_line(old - self.scroll_offset.y)
        self.refresh_line(self.cursor - self.scroll_offset.y)

    def action_cursor(self, delta: int) -> None:
        self._move(self.cursor + delta)

    def action_page(self, direction: int) -> None:
        height = max(self.size.height, 1)
        top = self.scroll_offset.y
        self.scroll_to(y=max(0, top + direction * height), animate=False, immediate=True)
        self._move(self.cursor + direction * height)
        self.refresh()

    def action_home(self) -> None:
        self._move(0)
        self.refresh()

    def action_end(self) -> None:
        self._move(self.total - 1)
        self.refresh()

    def action_select(self) -> None:
        row = self.current
        if row is not None:
            self.post_message(VirtualList.Selected(self, row))

    def on_click(self, event: events.Click) -> None:
        index = self.scroll_offset.y + event.y
        if 0 <= index < self.total:
            self._move(index)
            if event.chain >= 2:
                self.action_select()

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        if round(old_value) != round(new_value):
            # Prefetch once this frame is out, so reading ahead never slows the frame.
            self.call_after_refresh(self._ensure_here)

    def _ensure_here(self) -> None:
        self._ensure(self.scroll_offset.y)


def _fit(text: str, width: int, justify: str = "left") -> str:
    """``text`` in exactly ``width`` cells (wide characters counted), '…' when cut."""
    if width <= 0:
        return ""
    length = cell_len(text)
    if length > width:
        return set_cell_size(text, width - 1) + "…"
    padding = " " * (width - length)
    return padding + text if justify == "right" else text + padding


@lru_cache(maxsize=256)
def _style(definition: str | Style) -> Style:
    return definition if isinstance(definition, Style) else Style.parse(definition)


def _union(a: set[Hashable] | None, b: set[Hashable] | None) -> set[Hashable] | None:
    if a is None or b is None:
        return None
    return a | b
