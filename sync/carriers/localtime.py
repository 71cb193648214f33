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

Zones come from the system tz database (``zone.tab``): a country with a single
zone there needs no table of ours.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta, timezone
from functools import cache
from pathlib import Path
from zoneinfo import TZPATH, ZoneInfo, ZoneInfoNotFoundError

#: US states and territories -> the zone where most of the state lives.
#: Split states (TX, FL, KY, TN, MI, IN, KS, NE, ND, SD, ID, OR) take the
#: zone of their larger part: a scan in El Paso is off by an hour, a scan in
#: Houston is right.
_US = {
    "AL": "America/Chicago", "AK": "America/Anchorage", "AZ": "America/Phoenix",
    "AR": "America/Chicago", "CA": "America/Los_Angeles", "CO": "America/Denver",
    "CT": "America/New_York", "DE": "America/New_York", "DC": "America/New_York",
    "FL": "America/New_York", "GA": "America/New_York", "HI": "Pacific/Honolulu",
    "ID": "America/Boise", "IL": "America/Chicago", "IN": "America/Indiana/Indianapolis",
    "IA": "America/Chicago", "KS": "America/Chicago", "KY": "America/New_York",
    "LA": "America/Chicago", "ME": "America/New_York", "MD": "America/New_York",
    "MA": "America/New_York", "MI": "America/Detroit", "MN": "America/Chicago",
    "MS": "America/Chicago", "MO": "America/Chicago", "MT": "America/Denver",
    "NE": "America/Chicago", "NV": "America/Los_Angeles", "NH": "America/New_York",
    "NJ": "America/New_York", "NM": "America/Denver", "NY": "America/New_York",
    "NC": "America/New_York", "ND": "America/Chicago", "OH": "America/New_York",
    "OK": "America/Chicago", "OR": "America/Los_Angeles", "PA": "America/New_York",
    "RI": "America/New_York", "SC": "America/New_York", "SD": "America/Chicago",
    "TN": "America/Chicago", "TX": "America/Chicago", "UT": "America/Denver",
    "VT": "America/New_York", "VA": "America/New_York", "WA": "America/Los_Angeles",
    "WV": "America/New_York", "WI": "America/Chicago", "WY": "America/Denver",
    "PR": "America/Puerto_Rico", "VI": "America/St_Thomas", "GU": "Pacific/Guam",
    "MP": "Pacific/Saipan", "AS": "Pacific/Pago_Pago",
    # APO/FPO "states" have no single zone: left out on purpose (read as UTC).
}  # fmt: skip

_CA = {
    "NL": "America/St_Johns", "NS": "America/Halifax", "PE": "America/Halifax",
    "NB": "America/Moncton", "QC": "America/Toronto", "ON": "America/Toronto",
    "MB": "America/Winnipeg", "SK": "America/Regina", "AB": "America/Edmonton",
    "BC": "America/Vancouver", "YT": "America/Whitehorse", "NT": "America/Yellowknife",
    "NU": "America/Iqaluit",
}  # fmt: skip

_AU = {
    "NSW": "Australia/Sydney", "ACT": "Australia/Sydney", "VIC": "Australia/Melbourne",
    "QLD": "Australia/Brisbane", "SA": "Australia/Adelaide", "WA": "Australia/Perth",
    "TAS": "Australia/Hobart", "NT": "Australia/Darwin",
}  # fmt: skip

_MX = {
    "BC": "America/Tijuana", "BCN": "America/Tijuana", "SON": "America/Hermosillo",
    "SO": "America/Hermosillo", "CHH": "America/Chihuahua", "CH": "America/Chihuahua",
    "SIN": "America/Mazatlan", "SI": "America/Mazatlan", "BCS": "America/Mazatlan",
    "NAY": "America/Mazatlan", "QR": "America/Cancun", "ROO": "America/Cancun",
}  # fmt: skip

#: Countries whose other zones cover a small, outlying part (Büsingen, the
#: Canaries, the Azores, Xinjiang, the Chathams...): the mainland zone.
_PRINCIPAL = {
    "DE": "Europe/Berlin", "ES": "Europe/Madrid", "PT": "Europe/Lisbon",
    "CN": "Asia/Shanghai", "NZ": "Pacific/Auckland", "CL": "America/Santiago",
    "EC": "America/Guayaquil", "UA": "Europe/Kyiv", "MY": "Asia/Kuala_Lumpur",
    "AR": "America/Argentina/Buenos_Aires", "UZ": "Asia/Tashkent", "CY": "Asia/Nicosia",
    "DK": "Europe/Copenhagen", "NO": "Europe/Oslo", "GB": "Europe/London",
}  # fmt: skip

#: Multi-zone countries: region table, and the zone used when the region is
#: not in it (None: no safe single answer).
_REGIONS: dict[str, tuple[dict[str, str], str | None]] = {
    "US": (_US, None),
    "CA": (_CA, None),
    "AU": (_AU, None),
    "MX": (_MX, "America/Mexico_City"),  # every state not listed keeps Mexico City time
}

_ISO = re.compile(
    r"^\s*(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?)?"
    r"\s*(Z|[+-]\d{2}:?\d{2}|[+-]\d{2})?\s*$",
    re.I,
)


@cache
def _country_zones() -> dict[str, tuple[str, ...]]:
    """ISO country code -> its zones in the system tz database."""
    zones: dict[str, list[str]] = {}
    for folder in TZPATH:
        path = Path(folder) / "zone.tab"
        if not path.is_file():
            continue
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line or line.startswith("#"):
                continue
            fields = line.split("\t")
            if len(fields) >= 3:
                zones.setdefault(fields[0].upper(), []).append(fields[2])
        break
    return {country: tuple(names) for country, names in zones.items()}


@cache
def zone_for(country: str | None, region: str | None = None) -> ZoneInfo | None:
    """The one zone a location is in, or None when we cannot tell."""
    if not country:
        return None
    country = country.strip().upper()
    name: str | None = None
    if country in _REGIONS:
        table, fallback = _REGIONS[country]
        name = table.get((region or "").strip().upper(), fallback)
    elif country in _PRINCIPAL:
        name = _PRINCIPAL[country]
    else:
        zones = _country_zones().get(country, ())
        if len(zones) == 1:
            name = zones[0]
    if name is None:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


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
