"""Per-provider rate limits shared by every worker of one store (scale-out).

Each provider's bucket is a GCRA schedule kept in its ``carrier_state`` row:
``next_slot_at`` is the first request slot nobody holds yet, ``paused_until`` a
``Retry-After`` that one worker was told. A worker reserves slots in a short
write transaction that locks the row (``SELECT ... FOR UPDATE`` on PostgreSQL;
``BEGIN IMMEDIATE`` holds the write lock on SQLite)::

    start        = max(db_now, next_slot_at, paused_until)
    slots        = start, start + I, ..., start + (k - 1) * I      (I = 1 / rate)
    next_slot_at = start + k * I

where ``rate`` is the provider's limit minus ``headroom``. Because every slot
of every worker comes out of the same row under its lock, no two slots anywhere
are closer than ``I``: together the workers are one GCRA bucket with a burst of
one, whatever their number.

**Why the combined rate stays under the limit.** A slot is used (its request
leaves) at most ``grace`` seconds after its time; a slot found later than that
is thrown away, never used, and so is a slot that falls in a pause. Take any
one-second window ``[t, t + 1)`` at the provider: the requests in it belong to
slots inside ``(t - g, t + 1)``, where ``g`` is the lateness of a slot plus
whatever the way to the provider adds. Slots ``I`` apart fit at most
``ceil((1 + g) * rate)`` times in that span, which is at most the limit ``L``
while ``(1 + g) * L * (1 - headroom) <= L``, i.e. ``g <= headroom / (1 -
headroom)`` — 52 ms at the default 5 % headroom. Half of that goes to
``grace``, half is left for the event loop, the network and the provider's own
clock.

**Few round trips.** When the rate is high a worker reserves a block of ``k``
slots at once, ``k`` growing from 1 (doubling while its blocks are used up,
halving when slots go stale) to ``rate * block_seconds`` (a quarter second of
the provider's rate). Unused slots are simply lost — they lower the rate, never
raise it — so the block size is a matter of cost, not of safety: at 100
requests a second the fleet needs about four reservations a second. A pause
written by one worker reaches the others at their next reservation, so each of
them sends at most the rest of one block (a quarter second's worth) into it.

**No gaps between blocks.** Once half of a block is used, the next one is
reserved in the background; it starts where this worker's block ends (the
row's ``next_slot_at``, still ahead), so a single worker's schedule runs on
without the round trip and ``grace`` a reservation from an empty hand costs
(that gap, four times a second, was a tenth of the rate).

**Bunching.** Slots used up to ``grace`` late can bunch a second's worth of
them closer than a second apart; each process also keeps, as the local limiter
does, at most ``rate`` + 1 slots in any one second of its own and throws away a slot
that would make more.

**Under load.** A worker whose event loop wakes late throws its late slots
away rather than bunching them; that costs throughput, not safety (four
limiters sharing one busy event loop got 85-90 % of the allowed rate).

**Clocks.** Slot times are wall-clock instants from the database server
(``clock_timestamp()`` on PostgreSQL; on SQLite, which lives on this machine,
``time.time()``), so workers on hosts whose clocks disagree still share one
schedule. Each reservation ties the database instant to this process's
monotonic clock (at the middle of the round trip), and waiting is done on the
monotonic clock.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from store import upsert
from store.engine import Store
from store.models import CarrierState
from sync.ratelimit import LocalRateLimiter, RateLimiter
from sync.settings import PollSettings, TrackingSettings

log = logging.getLogger("orderdeck.ratelimit")

_state = CarrierState.__table__  # type: ignore[attr-defined]

#: How long the offset of one quick round trip is trusted before any newer one replaces
#: it (the two clocks drift apart by a few milliseconds a day at most).
OFFSET_REFRESH = 60.0
#: The largest block of slots reserved at once, in seconds of the provider's rate.
BLOCK_SECONDS = 0.25


def lateness_budget(headroom: float) -> float:
    """Seconds a slot may be used late, in all, with the limit still kept (see above)."""
    return headroom / (1.0 - headroom)


@dataclass
class _Bucket:
    """This process's share of one provider's schedule."""

    rate: float
    interval: float
    max_block: int
    block: int = 1
    #: Reserved slots: (monotonic time here, database wall-clock time).
    slots: deque[tuple[float, float]] = field(default_factory=deque)
    #: Monotonic time before which nothing is sent (a pause seen here).
    paused_until: float = 0.0
    #: Slots of the current block thrown away (late, or in a pause).
    stale: int = 0
    #: Slots thrown away since the start (late, paused, or bunched).
    thrown: int = 0
    reserved: int = 0
    lock: asyncio.Lock | None = None
    loop: asyncio.AbstractEventLoop | None = None
    #: When this process used its latest slots (at most ``rate`` + 1 in any second here:
    #: on-time slots never meet that cap, bunched late ones do).
    recent: deque[float] = field(default_factory=deque)
    #: Database time minus monotonic time here, from the quickest recent round trip.
    offset: float = 0.0
    best_rtt: float = math.inf
    offset_at: float = -math.inf
    #: The next block, being reserved in the background.
    refill: asyncio.Task[None] | None = None

    def throw(self) -> None:
        """One reserved slot not used (late, paused, or bunched)."""
        self.stale += 1
        self.thrown += 1

    def turn(self) -> asyncio.Lock:
        """The lock that keeps this process's callers in order (one per event loop)."""
        loop = asyncio.get_running_loop()
        if self.lock is None or self.loop is not loop:
            self.lock, self.loop = asyncio.Lock(), loop
        return self.lock


class SharedRateLimiter:
    """A :class:`~sync.ratelimit.RateLimiter` whose buckets live in ``carrier_state``.

    ``on_grant(provider, at)`` is called with the database time of every slot
    used (tests check the combined schedule with it). ``grace`` defaults to half
    the lateness budget of ``headroom``; a reservation starts at least ``grace``
    from now, so that the hop back from the database thread does not make the
    first slot late.
    """

    def __init__(
        self,
        store: Store,
        rates: Mapping[str, float],
        *,
        headroom: float = 0.05,
        grace: float | None = None,
        block_seconds: float = BLOCK_SECONDS,
        on_grant: Callable[[str, float], None] | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if not 0.0 < headroom < 1.0:
            raise ValueError(
                "a shared rate limit needs some headroom, a share above 0 and below 1, "
                f"got {headroom!r}"
            )
        self.store = store
        self.headroom = headroom
        self.grace = lateness_budget(headroom) / 2 if grace is None else grace
        self.on_grant = on_grant
        self._monotonic = monotonic
        self._buckets: dict[str, _Bucket] = {}
        for code, limit in rates.items():
            if limit <= 0:
                raise ValueError(f"{code}: a rate limit must be above 0, got {limit!r}")
            rate = limit * (1.0 - headroom)
            self._buckets[code] = _Bucket(
                rate=rate,
                interval=1.0 / rate,
                max_block=max(1, math.floor(rate * block_seconds)),
                recent=deque(maxlen=math.floor(rate) + 1),
            )
        self._writes: set[asyncio.Task[None]] = set()

    @property
    def reservations(self) -> int:
        """Reservation transactions made so far (what the limits cost the database)."""
        return sum(b.reserved for b in self._buckets.values())

    def bucket(self, provider: str) -> _Bucket:
        try:
            return self._buckets[provider]
        except KeyError:
            raise KeyError(f"no rate limit configured for provider {provider!r}") from None

    async def acquire(self, provider: str) -> None:
        bucket = self.bucket(provider)
        async with bucket.turn():  # callers in arrival order, one slot each
            while True:
                paused = bucket.paused_until - self._monotonic()
                if paused > 0:
                    await asyncio.sleep(paused)
                slot = self._next_slot(bucket)
                if slot is None:
                    await self._refill(provider, bucket)
                    continue
                here, at = slot
                if len(bucket.slots) < (bucket.block + 1) // 2:
                    self._refill_soon(provider, bucket)
                delay = here - self._monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                now = self._monotonic()
                if not self._usable(bucket, here, now):  # woke too late, or paused meanwhile
                    bucket.throw()
                    continue
                if len(bucket.recent) == bucket.recent.maxlen and now - bucket.recent[0] < 1.0:
                    # Late slots bunched up: this second is full here.
                    bucket.throw()
                    continue
                bucket.recent.append(now)
                if self.on_grant is not None:
                    self.on_grant(provider, at)
                return

    def _refill_soon(self, provider: str, bucket: _Bucket) -> None:
        """Reserve the next block in the background, unless that is under way."""
        if bucket.refill is None or bucket.refill.done():
            bucket.refill = asyncio.get_running_loop().create_task(
                asyncio.to_thread(self._reserve, provider, bucket)
            )

    async def _refill(self, provider: str, bucket: _Bucket) -> None:
        """Wait for the next block: the one under way, or a new one."""
        self._refill_soon(provider, bucket)
        task = bucket.refill
        assert task is not None
        try:
            await task
        finally:
            if bucket.refill is task:
                bucket.refill = None

    def _next_slot(self, bucket: _Bucket) -> tuple[float, float] | None:
        """The next usable reserved slot; late and paused ones are dropped."""
        now = self._monotonic()
        while bucket.slots:
            here, at = bucket.slots.popleft()
            if self._usable(bucket, here, now):
                return here, at
            bucket.throw()
        return None

    def _usable(self, bucket: _Bucket, here: float, now: float) -> bool:
        """A slot may be used: not more than ``grace`` late, and not inside a pause."""
        return now - here <= self.grace and here >= bucket.paused_until

    def pause(self, provider: str, seconds: float) -> None:
        """Pause here at once, and for every worker once it is written (in the background)."""
        bucket = self.bucket(provider)
        seconds = max(0.0, seconds)
        bucket.paused_until = max(bucket.paused_until, self._monotonic() + seconds)
        task = asyncio.get_running_loop().create_task(
            asyncio.to_thread(self._write_pause, provider, seconds)
        )
        self._writes.add(task)
        task.add_done_callback(self._writes.discard)

    async def settle(self) -> None:
        """Wait until every pause taken here is in the database."""
        while self._writes:
            await asyncio.gather(*list(self._writes), return_exceptions=True)

    # --- database work (threads) -----------------------------------------------------

    def _reserve(self, provider: str, bucket: _Bucket) -> None:
        """Reserve the next block of slots for this process in one short transaction."""
        if bucket.stale:
            bucket.block = max(1, bucket.block // 2)
        elif bucket.reserved:
            bucket.block = min(bucket.max_block, bucket.block * 2)
        bucket.stale = 0
        count = bucket.block
        with self.store.write_connection() as conn:
            if not bucket.reserved:
                _ensure_row(conn, provider)
            row = _lock_row(conn, provider)
            asked = self._monotonic()
            now = _db_now(conn)
            self._tie_clocks(bucket, asked, now, self._monotonic())
            start = max(now + self.grace, _epoch(row.next_slot_at), _epoch(row.paused_until))
            conn.execute(
                sa.update(_state)
                .where(_state.c.carrier == provider)
                .values(next_slot_at=_instant(start + count * bucket.interval))
            )
        bucket.reserved += 1
        for i in range(count):
            at = start + i * bucket.interval
            bucket.slots.append((at - bucket.offset, at))

    def _tie_clocks(self, bucket: _Bucket, asked: float, db_now: float, answered: float) -> None:
        """Keep the database-to-monotonic offset of the quickest round trip lately seen.

        One offset for every block keeps the slots' spacing here exactly as in the
        database; an offset per reservation (each off by up to half its round trip)
        would let two blocks' slots move closer than ``I``."""
        rtt = answered - asked
        if rtt <= bucket.best_rtt or answered - bucket.offset_at > OFFSET_REFRESH:
            bucket.offset = db_now - (asked + answered) / 2
            bucket.best_rtt, bucket.offset_at = rtt, answered

    def _write_pause(self, provider: str, seconds: float) -> None:
        try:
            with self.store.write_connection() as conn:
                _ensure_row(conn, provider)
                row = _lock_row(conn, provider)
                until = _db_now(conn) + seconds
                if until > _epoch(row.paused_until):
                    conn.execute(
                        sa.update(_state)
                        .where(_state.c.carrier == provider)
                        .values(paused_until=_instant(until))
                    )
        except Exception as exc:  # this worker still honours it; the others meet their 429s
            log.warning("%s: could not share a pause of %.1f s: %s", provider, seconds, exc)


def rate_limiter(
    store: Store, tracking: TrackingSettings, rates: Mapping[str, float]
) -> RateLimiter:
    """The limiter ``[tracking] shared_rate_limits`` asks for ("auto": shared on PostgreSQL,
    where several workers may poll, and per process on SQLite, where one does)."""
    shared = tracking.shared_rate_limits
    if shared is None:
        shared = not store.is_sqlite
    headroom = tracking.poll.rate_headroom
    if shared:
        if headroom <= 0:
            log.warning(
                "[tracking] rate_headroom = 0 leaves shared rate limits no margin for "
                "network jitter; using %g",
                PollSettings().rate_headroom,
            )
            headroom = PollSettings().rate_headroom
        return SharedRateLimiter(store, rates, headroom=headroom)
    return LocalRateLimiter(rates, headroom=headroom)


def _ensure_row(conn: Connection, provider: str) -> None:
    conn.execute(
        upsert.insert(conn, _state)
        .values(carrier=provider)
        .on_conflict_do_nothing(index_elements=[_state.c.carrier])
    )


def _lock_row(conn: Connection, provider: str) -> Any:
    query = sa.select(_state.c.next_slot_at, _state.c.paused_until).where(
        _state.c.carrier == provider
    )
    if conn.dialect.name == "postgresql":
        query = query.with_for_update()
    return conn.execute(query).one()


def _db_now(conn: Connection) -> float:
    """The shared clock, read once the row is locked."""
    if conn.dialect.name == "postgresql":
        return float(
            conn.execute(sa.text("SELECT extract(epoch FROM clock_timestamp())")).scalar_one()
        )
    return time.time()


def _epoch(value: datetime | None) -> float:
    return value.timestamp() if value is not None else 0.0


def _instant(epoch: float) -> datetime:
    """Rounded up to the microsecond the column keeps, so slots never move closer."""
    return datetime.fromtimestamp(math.ceil(epoch * 1_000_000) / 1_000_000, UTC)
