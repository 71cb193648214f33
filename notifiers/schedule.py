"""When a message may go: quiet hours in the shop's time zone, and retry backoff."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from notifiers.settings import QuietHours


def in_quiet_hours(quiet: QuietHours, when: datetime, timezone: str) -> bool:
    local = when.astimezone(ZoneInfo(timezone)).time()
    if quiet.start == quiet.end:
        return False
    if quiet.start < quiet.end:
        return quiet.start <= local < quiet.end
    return local >= quiet.start or local < quiet.end  # the range spans midnight


def quiet_until(quiet: QuietHours | None, when: datetime, timezone: str) -> datetime:
    """``when``, or the end of the quiet hours it falls in (as UTC-aware)."""
    if quiet is None or not in_quiet_hours(quiet, when, timezone):
        return when
    zone = ZoneInfo(timezone)
    local = when.astimezone(zone)
    end_day = local.date()
    if local.time() >= quiet.end:
        end_day += timedelta(days=1)
    end = datetime.combine(end_day, quiet.end, tzinfo=zone)
    # A wall-clock time inside a DST gap does not exist; round-trip through UTC
    # to land on the first real instant after it.
    end = end.astimezone(when.tzinfo).astimezone(zone)
    return max(end.astimezone(when.tzinfo), when)


def backoff(
    attempt: int,
    *,
    base: float,
    maximum: float,
    rng: Callable[[], float] = random.random,
) -> timedelta:
    """Exponential backoff with full jitter: uniform in [0, min(max, base * 2^(n-1))]."""
    ceiling = min(maximum, base * (2 ** max(0, attempt - 1)))
    return timedelta(seconds=ceiling * rng())
