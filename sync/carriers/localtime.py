"""Carrier timestamps to aware datetimes, keeping the offset the carrier gave.

Carriers write times three ways, and each is read by one rule:

1. **With an offset** (``2024-03-01T09:15:00-05:00``, or a separate GMT offset
   field): the instant is exact and ``utc_offset_minutes`` is the carrier's.
2. **In UTC** (``...Z``, UPS ``gmtDate``/``gmtTime``, USPS ``GMTTimestamp``):
   exact too; when the carrier also gives the local wall time, the offset is
   the difference between the two.
3. **Naive local wall time** ("the time at the scan location", as UPS, USPS
   and DHL document it): read in the event location's zone, found from its
   country and, for countries that span several zones, its state or province
   (US, CA, AU, MX, BR, RU... where we have a table). A location we cannot
   place in exactly one zone is read as UTC, and ``utc_offset_minutes`` stays
   None, so nobody mistakes the guess for the carrier's word.

Zones come from :func:`sync.carriers.times.location_zone` (the system tz database
plus state tables for the countries that span several zones).
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from sync.carriers.times import location_zone

_ISO = re.compile(
    r"^\s*(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?)?"
    r"\s*(Z|[+-]\d{2}:?\d{2}|[+-]\d{2})?\s*$",
    re.I,
)


def zone_for(country: str | None, region: str | None = None) -> ZoneInfo | None:
    """The one zone a location is in, or None when we cannot tell (see ``times.location_zone``)."""
    return location_zone(country, region)


def offset_minutes(moment: datetime) -> int | None:
    delta = moment.utcoffset()
    return None if delta is None else int(delta.total_seconds() // 60)


def parse_offset(text: str | None) -> int | None:
    """``-05:00`` / ``+0530`` / ``-5`` / ``Z`` -> minutes east of UTC."""
    if text is None:
        return None
    value = str(text).strip()
    if not value:
        return None
    if value.upper() == "Z":
        return 0
    match = re.fullmatch(r"([+-]?)(\d{1,2})(?::?(\d{2}))?", value)
    if not match:
        return None
    minutes = int(match.group(2)) * 60 + int(match.group(3) or 0)
    if minutes > 18 * 60:
        return None
    return -minutes if match.group(1) == "-" else minutes


def parse_iso(text: str | None) -> tuple[datetime, int | None] | None:
    """An ISO 8601 stamp -> (datetime, offset minutes).

    The datetime is aware when the text carries an offset (its own offset is
    kept), naive otherwise; None when the text is not a timestamp.
    """
    if not text:
        return None
    match = _ISO.match(str(text))
    if not match:
        return None
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    micro = int((fraction or "0")[:6].ljust(6, "0"))
    try:
        naive = datetime(
            int(year), int(month), int(day), int(hour or 0), int(minute or 0),
            int(second or 0), micro,
        )  # fmt: skip
    except ValueError:
        return None
    if zone is None:
        return naive, None
    minutes = parse_offset(zone)
    if minutes is None:
        return None
    return naive.replace(tzinfo=timezone(timedelta(minutes=minutes))), minutes


def localize(
    naive: datetime, country: str | None, region: str | None = None
) -> tuple[datetime, int | None]:
    """A naive wall time at a location -> (aware datetime, offset or None).

    Read in the location's zone when we can place it; otherwise as UTC with
    no offset claimed.
    """
    zone = zone_for(country, region)
    if zone is None:
        return naive.replace(tzinfo=UTC), None
    aware = naive.replace(tzinfo=zone)
    return aware, offset_minutes(aware)


def at_location(
    text: str | None, country: str | None, region: str | None = None
) -> tuple[datetime, int | None] | None:
    """An ISO stamp that may lack an offset, read by the module's rule."""
    parsed = parse_iso(text)
    if parsed is None:
        return None
    moment, minutes = parsed
    if moment.tzinfo is not None:
        return moment, minutes
    return localize(moment, country, region)


def end_of_day(day: date, zone: ZoneInfo | None) -> datetime:
    """A date-only promise ("delivered by the 16th") as the last second of that day."""
    return datetime.combine(day, time(23, 59, 59), tzinfo=zone or UTC)


def next_utc_midnight(now: datetime) -> float:
    """Seconds until 00:00 GMT, when daily carrier quotas reset."""
    tomorrow = (now.astimezone(UTC) + timedelta(days=1)).date()
    midnight = datetime.combine(tomorrow, time(0, 0), tzinfo=UTC)
    return max(1.0, (midnight - now).total_seconds())
