"""The shared time reading (offsets kept, naive times placed) and endpoint pacing."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from sync.carriers.pacing import Pacer
from sync.carriers.times import country_iso2, location_zone, offset_zone, parse_time


def test_offset_is_kept_and_instant_is_utc() -> None:
    parsed = parse_time("2024-05-02T14:34:00-04:00")
    assert parsed is not None
    assert parsed.at == datetime(2024, 5, 2, 18, 34, tzinfo=UTC)
    assert parsed.utc_offset_minutes == -240


def test_z_and_basic_offsets() -> None:
    assert parse_time("2024-05-02T18:34:00Z").utc_offset_minutes == 0  # type: ignore[union-attr]
    assert parse_time("2024-05-02T18:34:00+0530").utc_offset_minutes == 330  # type: ignore[union-attr]


def test_naive_time_read_in_the_given_zone_with_its_summer_offset() -> None:
    parsed = parse_time("2024-07-01 10:00:00", zone=ZoneInfo("Europe/Berlin"))
    assert parsed is not None
    assert parsed.at == datetime(2024, 7, 1, 8, 0, tzinfo=UTC)
    assert parsed.utc_offset_minutes == 120


def test_naive_time_without_a_zone_is_utc_and_says_it_had_no_offset() -> None:
    parsed = parse_time("2024-07-01T10:00:00")
    assert parsed is not None
    assert parsed.at == datetime(2024, 7, 1, 10, 0, tzinfo=UTC)
    assert parsed.utc_offset_minutes is None


def test_a_date_means_the_end_of_that_day_for_estimates() -> None:
    parsed = parse_time("2024-05-03", zone=ZoneInfo("America/New_York"), end_of_day=True)
    assert parsed is not None and parsed.date_only
    assert parsed.at == datetime(2024, 5, 4, 3, 59, 59, tzinfo=UTC)


@pytest.mark.parametrize("value", [None, "", "soon", "2024-13-45", 12345, "2024-02-30"])
def test_unreadable_times_are_none(value: object) -> None:
    assert parse_time(value) is None


def test_a_space_before_the_offset() -> None:
    parsed = parse_time("2024-05-02 14:34:00 +0800")
    assert parsed is not None and parsed.utc_offset_minutes == 480
    assert parsed.at == datetime(2024, 5, 2, 6, 34, tzinfo=UTC)


def test_slashed_dates_are_read() -> None:
    assert parse_time("2024/05/02 09:05").at == datetime(2024, 5, 2, 9, 5, tzinfo=UTC)  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("country", "state", "zone"),
    [
        ("DE", None, "Europe/Berlin"),
        ("DEU", None, "Europe/Berlin"),
        ("Germany", None, "Europe/Berlin"),
        ("GBR", "", "Europe/London"),
        ("US", "CA", "America/Los_Angeles"),
        ("USA", "Texas", "America/Chicago"),
        ("CA", "QC", "America/Toronto"),
        ("AU", "WA", "Australia/Perth"),
        ("JPN", None, "Asia/Tokyo"),
        ("ES", None, "Europe/Madrid"),
        ("CN", None, "Asia/Shanghai"),
        ("AR", None, "America/Argentina/Buenos_Aires"),
    ],
)
def test_location_zone(country: str, state: str | None, zone: str) -> None:
    assert location_zone(country, state) == ZoneInfo(zone)


@pytest.mark.parametrize(
    ("country", "state"),
    [
        ("US", None),
        ("US", "ZZ"),
        ("RU", None),
        ("BR", None),
        ("ID", None),
        ("XX", None),
        (None, "CA"),
        ("", None),
    ],
)
def test_location_zone_refuses_to_guess(country: str | None, state: str | None) -> None:
    assert location_zone(country, state) is None


def test_country_codes() -> None:
    assert country_iso2("usa") == "US"
    assert country_iso2("GB") == "GB"
    assert country_iso2("Atlantis") is None


def test_offset_zone() -> None:
    assert offset_zone("+08:00").utcoffset(None).total_seconds() == 8 * 3600  # type: ignore[union-attr]
    assert offset_zone("-0430").utcoffset(None).total_seconds() == -(4 * 3600 + 1800)  # type: ignore[union-attr]
    assert offset_zone("Asia/Shanghai") == ZoneInfo("Asia/Shanghai")
    assert offset_zone("nowhere") is None


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


async def test_pacer_spaces_requests_per_endpoint() -> None:
    clock = FakeClock()
    pacer = Pacer({"read": 5.0, "create": 20.0}, clock=clock, sleep=clock.sleep)
    for _ in range(3):
        await pacer.wait("read")
    await pacer.wait("create")
    # read: free, then 0.2 s apart; create has its own budget and waits for nothing
    # but the time already spent on reads.
    assert clock.slept == pytest.approx([0.2, 0.2])
    await pacer.wait("unlisted")
    assert len(clock.slept) == 2


async def test_pacer_hold_after_a_429() -> None:
    clock = FakeClock()
    pacer = Pacer({"api": 3.0}, clock=clock, sleep=clock.sleep)
    await pacer.wait("api")
    pacer.hold("api", 7.0)
    await pacer.wait("api")
    assert clock.slept == pytest.approx([7.0])


def test_mexico_without_a_state_keeps_mexico_city_time() -> None:
    """Every Mexican state not in the table keeps Central time, so that is a safe answer."""
    zone = location_zone("MX", None)
    assert zone is not None and zone.key == "America/Mexico_City"
    assert location_zone("MX", "SON").key == "America/Hermosillo"  # type: ignore[union-attr]
