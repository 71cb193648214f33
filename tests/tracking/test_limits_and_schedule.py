"""Rate limiting, circuit breaking, backoff, business days and the poll schedule,
on clocks the tests move by hand."""

from __future__ import annotations

import itertools
import random
from datetime import UTC, datetime, timedelta

import pytest

from store.statuses import ShipmentStatus as S
from sync import schedule
from sync.circuit import CLOSED, HALF_OPEN, OPEN, CircuitBreaker, full_jitter
from sync.ratelimit import LocalRateLimiter, TokenBucket
from sync.sandbox.faults import max_in_window
from sync.settings import PollSettings


class FakeTime:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_token_bucket_spaces_requests_at_the_rate() -> None:
    t = FakeTime()
    bucket = TokenBucket(10.0, monotonic=t)
    sent = []
    for _ in range(50):
        t.now += bucket.reserve()  # wait exactly as told, then send
        sent.append(t.now)
    gaps = [b - a for a, b in itertools.pairwise(sent)]
    assert min(gaps) == pytest.approx(0.1)
    assert max_in_window(sent, 1.0) == 10


def test_token_bucket_burst_then_rate() -> None:
    t = FakeTime()
    bucket = TokenBucket(5.0, burst=3, monotonic=t)
    assert [bucket.reserve() for _ in range(3)] == pytest.approx([0.0, 0.0, 0.0], abs=1e-9)
    assert bucket.reserve() == pytest.approx(0.2)


def test_an_idle_bucket_does_not_save_up_beyond_its_burst() -> None:
    t = FakeTime()
    bucket = TokenBucket(10.0, monotonic=t)
    t.now += 60
    assert bucket.reserve() == 0.0
    assert bucket.reserve() == pytest.approx(0.1)


def test_a_late_sender_catches_up_but_never_beyond_the_cap() -> None:
    t = FakeTime()
    bucket = TokenBucket(10.0, burst=3, per_second=10, monotonic=t)
    sent = []
    for i in range(60):
        t.now += bucket.reserve()
        sent.append(t.now)
        if i % 7 == 0:
            t.now += 0.15  # the sender was busy for a moment
    assert max_in_window(sent, 1.0) <= 10
    # The slots missed while busy were mostly made up: about 10 a second overall.
    assert (len(sent) - 1) / (sent[-1] - sent[0]) > 9.5


def test_the_cap_holds_with_a_large_burst() -> None:
    t = FakeTime()
    bucket = TokenBucket(10.0, burst=50, per_second=10, monotonic=t)
    sent = []
    for _ in range(40):
        t.now += bucket.reserve()
        sent.append(t.now)
    assert max_in_window(sent, 1.0) == 10


def test_pause_holds_every_request() -> None:
    t = FakeTime()
    bucket = TokenBucket(100.0, monotonic=t)
    bucket.pause(2.0)
    assert bucket.reserve() == pytest.approx(2.0)
    assert bucket.next_free() == pytest.approx(2.01)


def test_local_limiter_keeps_headroom_per_provider() -> None:
    t = FakeTime()
    limiter = LocalRateLimiter({"a": 100.0, "b": 1.0}, headroom=0.1, monotonic=t)
    assert limiter.bucket("a").rate == pytest.approx(90.0)
    assert limiter.bucket("a").per_second == 90
    assert limiter.bucket("b").rate == pytest.approx(0.9)
    assert limiter.bucket("b").per_second is None
    # A third of the headroom may be burst; slow providers get none.
    assert limiter.bucket("a").tolerance == pytest.approx(2 / 90)
    assert limiter.bucket("b").tolerance == 0
    with pytest.raises(KeyError, match="no rate limit"):
        limiter.bucket("c")
    with pytest.raises(ValueError):
        LocalRateLimiter({}, headroom=1.0)


def test_circuit_opens_after_consecutive_failures_and_probes_after_cooldown() -> None:
    t = FakeTime()
    breaker = CircuitBreaker(3, 30.0, monotonic=t)
    assert breaker.allow()
    assert not breaker.failure()
    assert not breaker.failure()
    breaker.success()  # a success resets the count
    assert [breaker.failure() for _ in range(3)] == [False, False, True]
    assert breaker.state == OPEN and not breaker.allow()
    assert breaker.retry_in() == pytest.approx(30.0)
    t.now += 30
    assert breaker.allow()  # the probe
    assert breaker.state == HALF_OPEN
    assert not breaker.allow()  # only one probe at a time
    assert breaker.failure()  # the probe failed: open again, a fresh cool-down
    assert not breaker.allow()
    t.now += 30
    assert breaker.allow()
    assert breaker.success()
    assert breaker.state == CLOSED and breaker.allow()


def test_full_jitter_stays_within_the_exponential_ceiling() -> None:
    rng = random.Random(1)
    for attempt in range(8):
        ceiling = min(10.0, 0.5 * 2**attempt)
        draws = [full_jitter(attempt, 0.5, 10.0, rng) for _ in range(200)]
        assert all(0 <= d <= ceiling for d in draws)
        assert max(draws) > ceiling * 0.8  # the whole range is used


WEEKDAYS = (0, 1, 2, 3, 4)


@pytest.mark.parametrize(
    ("start", "days", "expected"),
    [
        (
            datetime(2026, 11, 9, 10, tzinfo=UTC),
            3,
            datetime(2026, 11, 12, 10, tzinfo=UTC),
        ),  # Mon -> Thu
        (
            datetime(2026, 11, 13, 10, tzinfo=UTC),
            1,
            datetime(2026, 11, 16, 10, tzinfo=UTC),
        ),  # Fri -> Mon
        (
            datetime(2026, 11, 14, 10, tzinfo=UTC),
            1,
            datetime(2026, 11, 16, 10, tzinfo=UTC),
        ),  # Sat -> Mon
        (
            datetime(2026, 11, 12, 10, tzinfo=UTC),
            3,
            datetime(2026, 11, 17, 10, tzinfo=UTC),
        ),  # Thu -> Tue
        (datetime(2026, 11, 12, 10, tzinfo=UTC), 0, datetime(2026, 11, 12, 10, tzinfo=UTC)),
    ],
)
def test_business_days(start: datetime, days: int, expected: datetime) -> None:
    assert (
        schedule.add_business_days(start, days, timezone="UTC", business_days=WEEKDAYS) == expected
    )


def test_business_days_count_in_the_shops_zone() -> None:
    # Friday 23:30 UTC is already Saturday in Tokyo: one business day is Monday there.
    start = datetime(2026, 11, 13, 23, 30, tzinfo=UTC)
    end = schedule.add_business_days(start, 1, timezone="Asia/Tokyo", business_days=WEEKDAYS)
    assert end == datetime(2026, 11, 15, 23, 30, tzinfo=UTC)  # Monday 08:30 in Tokyo
    # A six-day week counts Saturday.
    end = schedule.add_business_days(start, 1, timezone="UTC", business_days=(0, 1, 2, 3, 4, 5))
    assert end == datetime(2026, 11, 14, 23, 30, tzinfo=UTC)


def test_business_days_keep_the_local_hour_across_a_clock_change() -> None:
    start = datetime(2026, 10, 23, 9, 0, tzinfo=UTC)  # Friday 10:00 in London (BST)
    end = schedule.add_business_days(start, 1, timezone="Europe/London", business_days=WEEKDAYS)
    assert end == datetime(2026, 10, 26, 10, 0, tzinfo=UTC)  # Monday 10:00 GMT


POLL = PollSettings()
NOW = datetime(2026, 11, 9, 12, tzinfo=UTC)


def within(value: datetime | None, minutes: float) -> bool:
    assert value is not None
    wait = (value - NOW).total_seconds() / 60
    return minutes * (1 - schedule.JITTER) <= wait <= minutes * (1 + schedule.JITTER)


def test_the_interval_follows_the_status() -> None:
    for status, minutes in POLL.interval_minutes.items():
        assert within(schedule.next_poll(status, now=NOW, poll=POLL), minutes), status
    assert POLL.interval_minutes["out_for_delivery"] < POLL.interval_minutes["in_transit"]
    assert POLL.interval_minutes["in_transit"] < POLL.interval_minutes["pending"]


def test_sooner_when_the_promise_is_near() -> None:
    soon = NOW + timedelta(hours=6)
    assert within(schedule.next_poll(S.IN_TRANSIT, now=NOW, poll=POLL, estimated_delivery=soon), 30)
    far = NOW + timedelta(days=3)
    assert within(schedule.next_poll(S.IN_TRANSIT, now=NOW, poll=POLL, estimated_delivery=far), 120)


def test_never_again_after_delivered_expired_or_returned() -> None:
    assert schedule.next_poll(S.DELIVERED, now=NOW, poll=POLL) is None
    assert schedule.next_poll(S.EXPIRED, now=NOW, poll=POLL) is None
    assert schedule.next_poll(S.EXCEPTION, now=NOW, poll=POLL, returned=True) is None


def test_not_found_and_failures() -> None:
    assert within(schedule.after_not_found(NOW, invalid=False, poll=POLL), 240)
    assert within(schedule.after_not_found(NOW, invalid=True, poll=POLL), 24 * 60)
    waits = [schedule.after_failure(S.IN_TRANSIT, n, now=NOW, poll=POLL) for n in range(1, 10)]
    assert within(waits[0], 1) and within(waits[1], 2) and within(waits[2], 4)
    assert within(waits[-1], 120)  # never beyond the status interval
