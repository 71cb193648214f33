"""The header every view shows: orders per status, attention, and sync health."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from rich.text import Text
from textual.widgets import Static

from console.engine import EngineState
from console.format import ATTENTION_STYLE, STATUS_STYLE, age, status_label
from store.board import STATUSES


@dataclass(frozen=True)
class Health:
    """What the header shows; loaded off the UI thread by the app."""

    statuses: dict[str, int] = field(default_factory=dict)
    attention: dict[str, int] = field(default_factory=dict)
    last_poll_at: datetime | None = None
    pending_notifications: int = 0
    carrier_errors: tuple[str, ...] = ()
    #: Who runs the sync engine (None until the console has looked).
    engine: EngineState | None = None
    loaded: bool = False

    @classmethod
    def from_summary(
        cls, summary: dict[str, Any], statuses: dict[str, int], engine: EngineState | None
    ) -> Health:
        last = summary.get("last_poll_at")
        return cls(
            statuses=statuses,
            attention=dict(summary.get("attention") or {}),
            last_poll_at=datetime.fromisoformat(last) if last else None,
            pending_notifications=int(summary.get("pending_notifications") or 0),
            carrier_errors=tuple(
                c["carrier"]
                for c in summary.get("carriers") or []
                if c.get("circuit") != "closed" or c.get("auth_error")
            ),
            engine=engine,
            loaded=True,
        )


SHORT = {
    "exception": "exc",
    "failed_attempt": "failed",
    "unfulfilled": "unfulf",
    "pending": "pend",
    "info_received": "info",
    "in_transit": "transit",
    "out_for_delivery": "out",
    "available_for_pickup": "pickup",
    "expired": "expired",
    "delivered": "deliv",
    "cancelled": "cancel",
}


def engine_text(line: Text, engine: EngineState | None) -> None:
    """Who runs the engine: this console, a service (where), nobody; and read-only."""
    if engine is None:
        line.append("engine: …", style="dim")
        return
    if engine.mode == "in-process":
        ok = engine.detail == "running"
        line.append("● " + engine.text, style="bold green" if ok else "bold yellow")
        if "errors" in engine.detail:
            line.stylize("bold red", len(line) - len(engine.text) - 2)
    elif engine.mode in ("service", "console"):
        line.append("● " + engine.text, style="bold green")
    elif engine.mode == "failed":
        line.append("✗ " + engine.text, style="bold red")
    else:
        line.append("○ " + engine.text, style="bold yellow")
    if engine.read_only:
        line.append(" · read-only", style="bold")


class StatusHeader(Static):
    DEFAULT_CSS = """
    StatusHeader {
        height: 2;
        background: $panel;
        padding: 0 1;
    }
    """

    def __init__(self, title: str) -> None:
        super().__init__(id="status-header")
        self.title_text = title
        self.health = Health()
        self.now: datetime | None = None
        self.update(self.render_text())  # the view's name and "loading…" on the first frame

    def on_mount(self) -> None:
        self.watch(self.app, "health", self._on_health)

    def _on_health(self, health: Health | None) -> None:
        if health is not None:
            self.health = health
            self.now = self.app.context.now()  # type: ignore[attr-defined]
            self.update(self.render_text())

    def render_text(self) -> Text:
        h = self.health
        width = self.size.width or 80
        short = width < 120
        line = Text(no_wrap=True, overflow="ellipsis")
        # The app's title: "orderdeck", or "orderdeck demo" over a throwaway store.
        line.append(self.app.title or "orderdeck", style="bold")
        line.append(f" {self.title_text}  ", style="bold")
        if not h.loaded:
            line.append("loading…", style="dim")
        else:
            engine_text(line, h.engine)
            if h.last_poll_at and self.now:
                line.append(f" · poll {age(h.last_poll_at, self.now)} ago")
            line.append(f" · {h.pending_notifications} to send")
            if h.carrier_errors:
                line.append(" · carrier errors: ", style="bold red")
                line.append(", ".join(h.carrier_errors), style="bold red")
        first = line
        line = Text(no_wrap=True, overflow="ellipsis")
        if h.loaded:
            total = sum(h.statuses.values())
            attention = sum(h.attention.values())
            line.append(f"{total:,} orders", style="bold")
            line.append("  ")
            line.append(f"attention {attention:,}", style=ATTENTION_STYLE if attention else "")
            line.append("  │")
            for status in STATUSES:
                n = h.statuses.get(status)
                if not n:
                    continue
                line.append("  ")
                line.append(
                    f"{SHORT.get(status, status) if short else status_label(status)} {n:,}",
                    style=STATUS_STYLE.get(status, ""),
                )
        room = max(width - 2, 10)  # the padding
        first.truncate(room, overflow="ellipsis")
        line.truncate(room, overflow="ellipsis")
        return Text("\n").join([first, line])

    def on_resize(self) -> None:
        self.update(self.render_text())
