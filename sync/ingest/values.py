"""Reading one cell: text, amounts, quantities, timestamps, countries, tracking numbers.

Each reader returns the value or raises :class:`BadValue` with a reason written for
the person who will fix the file.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, tzinfo
from decimal import Decimal, InvalidOperation

from sync.ingest.errors import BadValue

_SPACES = re.compile(r"\s+")
_PLAIN_AMOUNT = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?")
_MONEY_JUNK = re.compile(r"[\s$€£¥₹]|^[A-Z]{3}\s*|\s*[A-Z]{3}$")
_OFFSET_SPACE = re.compile(
    r"^(\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?) ?([+-]\d{2}:?\d{2}|Z|UTC)$"
)
_TRACKING_SPLIT = re.compile(r"[,;\n|]+")
_TRACKING_STRIP = re.compile(r"[\s\-.]+")
_TRACKING_OK = re.compile(r"[A-Z0-9]{4,40}")
_BLANK_TRACKING = {"", "N/A", "NA", "NONE", "NULL", "-", "—", "0"}

CANCELLED_STATUSES = frozenset(
    {"cancelled", "canceled", "wc-cancelled", "wc-canceled", "voided", "void"}
)


def text(value: str | None) -> str | None:
    """Cell text as given, without the padding around it; blank becomes None."""
    if value is None:
        return None
    return value.strip() or None


def one_line(value: str | None) -> str | None:
    """Names and similar fields: inner runs of whitespace (newlines too) become one space."""
    if not value:
        return None
    value = value.strip()
    if not value:
        return None
    if value.isprintable() and "  " not in value:
        return value  # nothing to collapse (the common case, checked in C)
    return _SPACES.sub(" ", value)


def amount(value: str | None) -> str | None:
    """A money amount kept as decimal text: ``"1,234.50"``, ``"€12,50"``, ``"12.5"``."""
    raw = text(value)
    if raw is None:
        return None
    if _PLAIN_AMOUNT.fullmatch(raw):
        return raw  # already what Decimal would print
    cleaned = _MONEY_JUNK.sub("", raw.upper())
    negative = cleaned.startswith("(") and cleaned.endswith(")")
    if negative:
        cleaned = cleaned[1:-1]
    if "," in cleaned:
        if "." in cleaned:
            # 1,234.50 (or 1.234,50: whichever comes last is the decimal mark)
            if cleaned.rfind(",") > cleaned.rfind("."):
                cleaned = cleaned.replace(".", "").replace(",", ".")
            else:
                cleaned = cleaned.replace(",", "")
        else:
            head, _, tail = cleaned.rpartition(",")
            cleaned = (
                f"{head.replace(',', '')}.{tail}" if len(tail) != 3 else cleaned.replace(",", "")
            )
    try:
        number = Decimal(cleaned)
    except InvalidOperation:
        raise BadValue(f"{raw!r} is not an amount") from None
    if not number.is_finite():
        raise BadValue(f"{raw!r} is not an amount")
    if negative:
        number = -number
    return str(number)


def quantity(value: str | None, *, default: int = 1) -> int:
    raw = text(value)
    if raw is None:
        return default
    if raw.isdigit() and raw.isascii() and len(raw) < 10:
        return int(raw)
    try:
        number = Decimal(raw.replace(",", ""))
    except InvalidOperation:
        raise BadValue(f"{raw!r} is not a quantity") from None
    if not number.is_finite() or number != number.to_integral_value():
        raise BadValue(f"{raw!r} is not a whole number")
    if number < 0:
        raise BadValue(f"quantity {raw} is negative")
    if number > 1_000_000_000:
        raise BadValue(f"quantity {raw} is implausibly large")
    return int(number)


def timestamp(value: str | None, zone: tzinfo, date_format: str | None = None) -> datetime | None:
    """An aware UTC datetime from the many ways exports write one.

    ``2026-11-07 19:08:25 +0000`` (Shopify), ISO 8601 with ``T`` and ``Z``, a bare
    ``2026-11-07 19:08`` or ``2026-11-07`` (read in the shop's time zone), or the
    folder format's own ``date_format``.
    """
    raw = text(value)
    if raw is None:
        return None
    parsed: datetime | None = None
    if date_format:
        try:
            parsed = datetime.strptime(raw, date_format)
        except ValueError:
            raise BadValue(f"{raw!r} does not match the date format {date_format!r}") from None
    else:
        candidate = raw
        match = _OFFSET_SPACE.match(raw)
        if match:
            offset = match.group(2)
            if offset in ("Z", "UTC"):
                offset = "+00:00"
            candidate = match.group(1) + offset
        try:
            parsed = datetime.fromisoformat(candidate)
        except ValueError:
            parsed = _other_formats(raw)
        if parsed is None:
            raise BadValue(
                f"{raw!r} is not a date and time (expected e.g. 2026-11-07 19:08:25 +0000)"
            )
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=zone)
    if not 1970 <= parsed.year <= 2200:
        raise BadValue(f"{raw!r} is out of range")
    return parsed.astimezone(UTC)


_OTHER_FORMATS = (
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d %H:%M",
    "%Y/%m/%d",
    "%d.%m.%Y %H:%M:%S",
    "%d.%m.%Y %H:%M",
    "%d.%m.%Y",
    "%a, %d %b %Y %H:%M:%S %z",
    "%B %d, %Y %I:%M %p",
    "%B %d, %Y",
)


def _other_formats(raw: str) -> datetime | None:
    for fmt in _OTHER_FORMATS:
        try:
            return datetime.strptime(raw, fmt)
        except ValueError:
            continue
    return None


def country(value: str | None) -> str | None:
    """An ISO 3166 alpha-2 code when the cell holds one (``gb`` -> ``GB``), else None."""
    raw = text(value)
    if raw is None or len(raw) != 2 or not raw.isalpha() or not raw.isascii():
        return None
    return raw.upper()


def tracking_numbers(value: str | None) -> list[str]:
    """Tracking numbers in a cell, normalized: upper-case, no spaces, dashes or dots.

    One cell may list several (``1Z...; 1Z...``). "N/A" and the like mean none.
    """
    raw = text(value)
    if raw is None:
        return []
    found: list[str] = []
    for part in _TRACKING_SPLIT.split(raw):
        number = _TRACKING_STRIP.sub("", part.strip().upper())
        if number in _BLANK_TRACKING:
            continue
        if not _TRACKING_OK.fullmatch(number):
            raise BadValue(
                f"{part.strip()!r} is not a tracking number (4 to 40 letters and digits)"
            )
        if number not in found:
            found.append(number)
    return found


def is_cancelled_status(value: str | None) -> bool:
    raw = text(value)
    return raw is not None and raw.casefold() in CANCELLED_STATUSES
