"""How values look on screen: safe text, status badges, ages and local times.

Everything from orders, customers and carriers goes through :func:`safe`, which
returns a plain :class:`~rich.text.Text` (never parsed as markup) with control
characters stripped, so ``[bold]`` or an escape sequence shows as typed.
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from rich.style import Style
from rich.text import Text

from store.text import clean, one_line

#: Badge colours per summary status (256-colour safe; NO_COLOR turns them to bold/dim).
STATUS_STYLE: dict[str, str] = {
    "exception": "bold red",
    "failed_attempt": "bold dark_orange",
    "unfulfilled": "yellow",
    "pending": "grey62",
    "info_received": "cyan",
    "in_transit": "blue",
    "out_for_delivery": "bold green",
    "available_for_pickup": "magenta",
    "expired": "grey50",
    "delivered": "green",
    "cancelled": "grey50 strike",
}

STATE_STYLE: dict[str, str] = {
    "pending": "cyan",
    "sending": "bold cyan",
    "sent": "green",
    "dead": "bold red",
    "unknown": "bold dark_orange",
    "suppressed": "grey62",
    "cancelled": "grey50",
}

ATTENTION_STYLE = "bold red"


def safe(value: object, style: str | Style = "") -> Text:
    """Data as plain text: no markup, no control characters, one line."""
    return Text(one_line(value), style=style)


def safe_block(value: object, style: str | Style = "") -> Text:
    """Data as plain text, keeping its line breaks (notes, message bodies)."""
    return Text(clean(value).replace("\r", ""), style=style)


def status_label(status: str | None) -> str:
    return (status or "").replace("_", " ")


def cell(value: object, style: str = "") -> tuple[str, str]:
    """A list cell: data as one clean line and a style (no Text built)."""
    return one_line(value), style


def status_cell(status: str | None) -> tuple[str, str]:
    return status_label(status), STATUS_STYLE.get(status or "", "")


def status_text(status: str | None) -> Text:
    return Text(status_label(status), style=STATUS_STYLE.get(status or "", ""))


@lru_cache(maxsize=32)
def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def local(value: datetime | None, tz: str, fmt: str = "%Y-%m-%d %H:%M") -> str:
    if value is None:
        return ""
    return value.astimezone(zone(tz)).strftime(fmt)


def span(seconds: float) -> str:
    """A duration as '45s', '12m', '5h', '3d'."""
    seconds = abs(seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit}"
    return f"{int(seconds)}s"


def age(value: datetime | None, now: datetime) -> str:
    if value is None:
        return ""
    delta = (now - value).total_seconds()
    return "now" if delta < 1 else span(delta)


def eta_text(eta: datetime | None, status: str, now: datetime, tz: str) -> Text:
    """The estimated delivery date, with 'late 2d' when it passed and it is not here yet."""
    if eta is None:
        return Text("")
    text = Text(local(eta, tz, "%b %d"))
    if status not in ("delivered", "expired", "cancelled") and eta < now:
        text.append(f" late {span((now - eta).total_seconds())}", style="bold red")
    return text


def eta_cell(eta: datetime | None, status: str, now: datetime, tz: str) -> Text | tuple[str, str]:
    if eta is None:
        return "", ""
    if status not in ("delivered", "expired", "cancelled") and eta < now:
        return eta_text(eta, status, now, tz)
    return local(eta, tz, "%b %d"), ""
