"""The time rule every direct adapter shares."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from sync.carriers.localtime import (
    at_location,
    end_of_day,
    next_utc_midnight,
    parse_iso,
    parse_offset,
    zone_for,
)


@pytest.mark.parametrize(
    "text,expected",
    [
        ("-05:00", -300), ("+0530", 330), ("Z", 0), ("-5", -300), ("+00:00", 0),
        ("", None), ("later", None), ("+25:00", None), (None, None),
    ],
)  # fmt: skip
def test_parse_offset(text: str | None, expected: int | None) -> None:
    assert parse_offset(text) == expected


def test_parse_iso_keeps_the_offset_and_leaves_naive_times_naive() -> None:
    moment, minutes = parse_iso("2024-03-01T09:15:30.250-05:00")
    assert moment == datetime(2024, 3, 1, 9, 15, 30, 250000, tzinfo=timezone(timedelta(hours=-5)))
    assert minutes == -300
    naive, none = parse_iso("2024-03-01 09:15")
    assert naive.tzinfo is None and none is None
    assert parse_iso("2024-02-30T00:00:00") is None
    assert parse_iso("yesterday") is None


@pytest.mark.parametrize(
    "country,region,zone",
    [
        ("US", "TX", "America/Chicago"), ("us", "ca", "America/Los_Angeles"),
        ("CA", "BC", "America/Vancouver"), ("AU", "WA", "Australia/Perth"),
        ("MX", "", "America/Mexico_City"), ("FR", None, "Europe/Paris"),
        ("DE", None, "Europe/Berlin"), ("JP", None, "Asia/Tokyo"),
        ("US", "", None), ("RU", None, None), ("BR", "SP", None), ("", None, None),
        ("XX", None, None),
    ],
)  # fmt: skip
def test_zone_for(country: str, region: str | None, zone: str | None) -> None:
    found = zone_for(country, region)
    assert (found.key if found else None) == zone


def test_daylight_saving_is_the_location_s_own() -> None:
    winter = at_location("2024-01-15T12:00:00", "US", "NY")
    summer = at_location("2024-07-15T12:00:00", "US", "NY")
    assert winter[1] == -300 and summer[1] == -240
    assert at_location("2024-07-15T12:00:00", "US", "AZ")[1] == -420  # Arizona keeps MST


def test_end_of_day_and_midnight() -> None:
    assert end_of_day(date(2024, 1, 16), None) == datetime(2024, 1, 16, 23, 59, 59, tzinfo=UTC)
    tokyo = end_of_day(date(2024, 1, 16), ZoneInfo("Asia/Tokyo"))
    assert tokyo.astimezone(UTC) == datetime(2024, 1, 16, 14, 59, 59, tzinfo=UTC)
    assert next_utc_midnight(datetime(2024, 1, 16, 23, 0, tzinfo=UTC)) == 3600
