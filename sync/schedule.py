"""When to poll a shipment next, and business-day arithmetic.

The interval depends on where the parcel is: often when it is out for
delivery or due within hours, rarely while only a label exists, never again
once it is delivered, expired or on its way back to the sender. A number the
carrier does not know yet is asked again at the pending interval; once it has
been unknown for ``not_found_days`` it is asked once a day until it expires.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from store.statuses import FINAL_STATUSES, ShipmentStatus
from sync.settings import PollSettings

S = ShipmentStatus

#: A promise due within this long makes the poller look as often as for out-for-delivery.
NEAR_DELIVERY = timedelta(hours=12)
#: How often an invalid number, or a carrier with no provider, is looked at again.
RECHECK = timedelta(days=1)
#: Each interval is stretched or shrunk by up to this share so that shipments
#: imported together do not stay in lock-step for ever.
JITTER = 0.1
#: Poll-level backoff after failed polls starts here and doubles, up to the status interval.
FAILURE_BACKOFF = timedelta(minutes=1)


def interval(status: str, poll: PollSettings) -> timedelta:
    minutes = poll.interval_minutes.get(status, poll.interval_minutes.get("in_transit", 120.0))
    return timedelta(minutes=minutes)


def next_poll(
    status: str,
    *,
    now: datetime,
    poll: PollSettings,
    estimated_delivery: datetime | None = None,
    returned: bool = False,
    rng: random.Random | None = None,
) -> datetime | None:
    """The next poll after a successful answer; None: never again."""
    if status in FINAL_STATUSES or returned:
        return None
    wait = interval(status, poll)
    if (
        estimated_delivery is not None
        and status in (S.IN_TRANSIT, S.INFO_RECEIVED)
        and timedelta(0) <= estimated_delivery - now <= NEAR_DELIVERY
    ):
        wait = min(wait, interval(S.OUT_FOR_DELIVERY, poll))
    return now + _jitter(wait, rng)


def after_not_found(
    now: datetime, *, invalid: bool, poll: PollSettings, rng: random.Random | None = None
) -> datetime:
    if invalid:
        return now + _jitter(RECHECK, rng)
    return now + _jitter(interval(S.PENDING, poll), rng)


def after_failure(
    status: str,
    failures: int,
    *,
    now: datetime,
    poll: PollSettings,
    rng: random.Random | None = None,
) -> datetime:
    """Failed polls back off exponentially, never waiting longer than the status interval."""
    backoff = FAILURE_BACKOFF * (2 ** max(0, failures - 1))
    return now + _jitter(min(backoff, interval(status, poll)), rng)


def _jitter(wait: timedelta, rng: random.Random | None) -> timedelta:
    factor = (rng or random).uniform(1.0 - JITTER, 1.0 + JITTER)
    return wait * factor


def add_business_days(
    start: datetime, days: int, *, timezone: str, business_days: tuple[int, ...]
) -> datetime:
    """``start`` plus ``days`` business days, at the same local time of day.

    From a weekend, the first business day after it counts as the first day;
    so Friday + 1 is Monday and Saturday + 1 is Monday too.
    """
    if days <= 0:
        return start
    zone = ZoneInfo(timezone)
    local = start.astimezone(zone)
    naive = local.replace(tzinfo=None)
    counted = 0
    day = naive
    while counted < days:
        day += timedelta(days=1)
        if day.weekday() in business_days:
            counted += 1
    return day.replace(tzinfo=zone).astimezone(start.tzinfo)
