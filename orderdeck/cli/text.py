"""Printing data from orders safely: customer text is data, never markup or escapes."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from rich.console import Console
from rich.table import Table
from rich.text import Text

from store.text import clean

__all__ = ["age", "clean", "console", "local_time", "plain", "table"]


def plain(value: object, style: str = "") -> Text:
    return Text(clean(value), style=style)


def console() -> Console:
    return Console(highlight=False, soft_wrap=False)


def table(*columns: str) -> Table:
    grid = Table(box=None, pad_edge=False, header_style="bold", show_edge=False)
    for column in columns:
        grid.add_column(column, overflow="fold")
    return grid


def local_time(value: datetime | None, zone: str, fmt: str = "%Y-%m-%d %H:%M") -> str:
    if value is None:
        return ""
    return value.astimezone(ZoneInfo(zone)).strftime(fmt)


def age(value: datetime | None, now: datetime | None = None) -> str:
    """'3m', '5h', '2d' — how long ago."""
    if value is None:
        return ""
    seconds = ((now or datetime.now(UTC)) - value).total_seconds()
    if seconds < 0:
        return "now"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit}"
    return f"{int(seconds)}s"
