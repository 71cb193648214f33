"""The rate limit shared through the store: two limiters on two engines stand in for
two workers; the checks read the slot times they were granted (database clock)."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from store.engine import Store
from store.migrate import open_store
from store.models import CarrierState
from store.settings import StoreSettings
from sync.ratelimit import LocalRateLimiter
from sync.sandbox.faults import max_in_window
from sync.settings import TrackingSettings
from sync.sharedlimit import SharedRateLimiter, lateness_budget, rate_limiter

LIMIT = 40.0
HEADROOM = 0.05


@pytest.fixture
def workers(store_url: str) -> Iterator[tuple[Store, Store]]:
    """Two stores on one database, as two worker processes would have."""
    a = open_store(StoreSettings(url=store_url))
    b = open_store(StoreSettings(url=store_url))
    try:
        yield a, b
    finally:
        a.dispose()
        b.dispose()


def _limiter(store: Store, granted: list[tuple[str, float]]) -> SharedRateLimiter:
    return SharedRateLimiter(
        store,
        {"sandbox": LIMIT},
        headroom=HEADROOM,
        on_grant=lambda provider, at: granted.append((provider, at)),
    )


async def _send(limiter: SharedRateLimiter, count: int, who: str, log: list[str]) -> None:
    for _ in range(count):
        await limiter.acquire("sandbox")
        log.append(who)


def _state(store: Store) -> CarrierState:
    with store.read() as s:
        row = s.get(CarrierState, "sandbox")
        assert row is not None
        return row


async def test_two_workers_share_one_schedule(workers: tuple[Store, Store]) -> None:
    granted: list[tuple[str, float]] = []
    a, b = _limiter(workers[0], granted), _limiter(workers[1], granted)
    who: list[str] = []
    # Each "worker" sends from two tasks at once, as the poller's dispatchers may.
    await asyncio.gather(
        _send(a, 30, "a", who),
        _send(a, 30, "a", who),
        _send(b, 30, "b", who),
        _send(b, 30, "b", who),
    )
    assert len(granted) == 120 and {"a", "b"} == set(who)
    times = sorted(at for _, at in granted)
    interval = 1.0 / (LIMIT * (1 - HEADROOM))
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    # No two slots of either worker closer than one interval: one bucket for both.
    assert min(gaps) >= interval - 2e-6
    assert max_in_window(times, 1.0) <= int(LIMIT * (1 - HEADROOM)) + 1 <= LIMIT
    # Blocks of slots: far fewer transactions than requests.
    assert a.reservations + b.reservations < len(granted) * 0.75
    # The schedule lives in the provider's row.
    state = _state(workers[0])
    assert state.next_slot_at is not None and state.next_slot_at.timestamp() >= times[-1]


async def test_a_pause_taken_by_one_worker_holds_the_other(workers: tuple[Store, Store]) -> None:
    granted_a: list[tuple[str, float]] = []
    granted_b: list[tuple[str, float]] = []
    a, b = _limiter(workers[0], granted_a), _limiter(workers[1], granted_b)
    await b.acquire("sandbox")
    refill = b.bucket("sandbox").refill
    if refill is not None:
        await refill  # the next block, reserved in the background before the pause
    b.bucket("sandbox").slots.clear()  # as if b's blocks ran out meanwhile
    a.pause("sandbox", 0.4)  # a met a 429 with Retry-After
    await a.settle()
    paused_until = _state(workers[0]).paused_until
    assert paused_until is not None
    # A shorter pause never shortens a longer one.
    b.pause("sandbox", 0.01)
    await b.settle()
    assert _state(workers[1]).paused_until == paused_until
    await asyncio.gather(a.acquire("sandbox"), b.acquire("sandbox"))
    assert granted_a[-1][1] >= paused_until.timestamp()
    assert granted_b[-1][1] >= paused_until.timestamp()


async def test_one_worker_runs_on_without_gaps_between_blocks(sqlite_store: Store) -> None:
    granted: list[tuple[str, float]] = []
    limiter = _limiter(sqlite_store, granted)
    await _send(limiter, 60, "a", [])
    times = [at for _, at in granted]
    interval = 1.0 / (LIMIT * (1 - HEADROOM))
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    # Blocks were reserved ahead, each starting where the one before ended: every gap
    # is one interval, or a whole number of them where slots were thrown away (late
    # under load). A block reserved only once the hand is empty starts a round trip
    # and a grace later, off the grid.
    assert limiter.reservations >= 4
    steps = [gap / interval for gap in gaps]
    assert all(abs(step - round(step)) < 1e-4 for step in steps), steps
    assert sum(round(step) - 1 for step in steps) == limiter.bucket("sandbox").thrown


def test_late_and_paused_slots_are_thrown_away(sqlite_store: Store) -> None:
    limiter = SharedRateLimiter(sqlite_store, {"sandbox": LIMIT}, headroom=HEADROOM)
    assert limiter.grace == pytest.approx(lateness_budget(HEADROOM) / 2)
    bucket = limiter.bucket("sandbox")
    now = time.monotonic()
    bucket.slots.extend([(now - 1.0, 1.0), (now + 5.0, 2.0), (now + 20.0, 3.0)])
    bucket.paused_until = now + 10.0
    assert limiter._next_slot(bucket) == (now + 20.0, 3.0)
    assert bucket.stale == 2 and not bucket.slots


def test_headroom_is_required(sqlite_store: Store) -> None:
    with pytest.raises(ValueError, match="headroom"):
        SharedRateLimiter(sqlite_store, {"sandbox": LIMIT}, headroom=0.0)


def test_auto_shares_on_postgresql_only(store: Store) -> None:
    limiter = rate_limiter(store, TrackingSettings(), {"sandbox": LIMIT})
    expected = LocalRateLimiter if store.is_sqlite else SharedRateLimiter
    assert isinstance(limiter, expected)
    forced = rate_limiter(store, TrackingSettings(shared_rate_limits=True), {"sandbox": LIMIT})
    assert isinstance(forced, SharedRateLimiter)
    off = rate_limiter(store, TrackingSettings(shared_rate_limits=False), {"sandbox": LIMIT})
    assert isinstance(off, LocalRateLimiter)


async def test_the_row_is_created_when_missing(sqlite_store: Store) -> None:
    with sqlite_store.write_connection() as conn:
        conn.execute(sa.delete(CarrierState.__table__))  # type: ignore[attr-defined]
    granted: list[tuple[str, float]] = []
    await _limiter(sqlite_store, granted).acquire("sandbox")
    assert _state(sqlite_store).next_slot_at is not None and len(granted) == 1
