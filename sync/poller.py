"""The poller: asks tracking providers about due shipments and stores what they say.

One pass (:meth:`Poller.run_once`) works like this:

1. **Claim** due shipments (``next_poll_at <= now``) with a lease
   (``lease_owner`` / ``lease_until``; ``FOR UPDATE SKIP LOCKED`` on PostgreSQL), a
   page at a time, so several workers never poll the same parcel.
2. **Plan** each one: carrier detection when the carrier is unknown, then the
   provider (:mod:`sync.providers`). No provider, or an invalid number, goes
   straight to the attention queue.
3. **Ask**: per provider, batches of the adapter's batch size wait for a
   connection slot, a concurrency slot and a rate-limit slot
   (:mod:`sync.ratelimit`), in that order, so a request leaves when its slot comes. Temporary errors
   are retried with exponential backoff and full jitter, ``Retry-After`` is
   honoured, a circuit breaker per provider (:mod:`sync.circuit`) stops a dead
   one from slowing the rest, and an ``AuthError`` stops that provider until
   its configuration changes (``carrier_state.auth_error``).
4. **Store**: a single writer commits the outcomes in groups, a transaction
   each, with bulk statements (:mod:`sync.tracking_writer`): a shipment's
   events, status, estimate, attention items, next poll and the ``on_changes``
   hook's work (the notification rules) commit together or not at all. A group
   that fails is stored again one shipment per transaction, so one bad
   shipment cannot hold the others back.

HTTP runs on the event loop (httpx async); database work runs in threads.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import logging
import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import OperationalError

from notifiers.changes import Change
from store import changes as change_feed
from store import summary
from store.engine import Store
from store.errors import StoreError
from store.heartbeat import new_worker_id
from store.models import Shipment
from sync import leases, sharedlimit, tracking_attention, tracking_writer
from sync.carriers.base import (
    AuthError,
    ConfigurationError,
    NotFound,
    RateLimited,
    TrackingError,
    TrackRequest,
    TrackResult,
)
from sync.carriers.detect import detect
from sync.circuit import CLOSED, OPEN, CircuitBreaker, full_jitter
from sync.clock import Clock, SystemClock, real_seconds
from sync.providers import Providers, record_health
from sync.ratelimit import RateLimiter
from sync.runtime import tune_for_service
from sync.settings import SyncSettings
from sync.tracking_writer import (
    FAILED,
    INVALID,
    NO_PROVIDER,
    NOT_FOUND,
    RESULT,
    SKIPPED,
    Outcome,
    ShipmentReport,
    WriteContext,
)

log = logging.getLogger("orderdeck.poller")

_shipments = Shipment.__table__  # type: ignore[attr-defined]

OnChanges = Callable[[Connection, list[Change]], None]

#: Outcomes committed together in one transaction, at most.
WRITE_GROUP = 200
#: How long the writer waits for more outcomes while requests are in flight.
WRITE_LINGER = 0.05
#: Candidate orders per transaction of the ``unfulfilled`` sweep.
SWEEP_BATCH = 200
#: Provider health is written when it changes, and its request count at least this often.
HEALTH_EVERY = 5.0
#: An auth-stopped provider is tried again after this long, in case the key was
#: fixed on the provider's side; changing the configuration needs a restart anyway.
AUTH_RECHECK_SECONDS = 900.0


@dataclass
class PollCounters(Mapping[str, float]):
    """What a pass did; also a read-only mapping (``dict(counters)``) for heartbeats."""

    claimed: int = 0
    requests: int = 0
    #: Shipments the provider answered for (found or not).
    polled: int = 0
    events_new: int = 0
    status_changes: int = 0
    not_found: int = 0
    failed: int = 0
    skipped: int = 0
    no_provider: int = 0
    invalid: int = 0
    retries: int = 0
    rate_limited: int = 0
    attention_raised: int = 0
    attention_cleared: int = 0
    store_errors: int = 0
    #: Seconds spent in store transactions (in the writer's thread), and its CPU seconds.
    store_seconds: float = 0.0
    store_cpu_seconds: float = 0.0

    def add(self, other: PollCounters) -> None:
        for name, value in asdict(other).items():
            setattr(self, name, getattr(self, name) + value)

    def __getitem__(self, key: str) -> float:
        if key not in self.__dataclass_fields__:
            raise KeyError(key)
        value: float = getattr(self, key)
        return value

    def __iter__(self) -> Iterator[str]:
        return iter(self.__dataclass_fields__)

    def __len__(self) -> int:
        return len(self.__dataclass_fields__)

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["store_seconds"] = round(self.store_seconds, 3)
        data["store_cpu_seconds"] = round(self.store_cpu_seconds, 3)
        return data


@dataclass
class PassResult:
    counters: PollCounters
    #: Filled by :meth:`Poller.poll_shipments` (what ``orderdeck track`` prints).
    reports: list[ShipmentReport] = field(default_factory=list)
    #: Shipments asked for that another worker holds right now.
    busy: list[int] = field(default_factory=list)


class _Provider:
    """The poller's live view of one provider: its adapter, breaker and health."""

    def __init__(self, code: str, providers: Providers, poller_settings: Any) -> None:
        self.code = code
        self.adapter = providers.adapters[code]
        self.name = getattr(self.adapter, "name", code) or code
        self.batch_size = providers.batch_size(code)
        self.rate = providers.rate_limit(code)
        self.breaker = CircuitBreaker(
            poller_settings.circuit_failures, poller_settings.circuit_cooldown_seconds
        )
        self.auth_error: str | None = None
        self.auth_failed_at: float | None = None
        self.last_error: str | None = None
        self.last_error_at: datetime | None = None
        self.last_success_at: datetime | None = None
        self.opened_at: datetime | None = None
        self._lock = threading.Lock()
        self._unflushed_requests = 0
        self.dirty = True
        connections = getattr(self.adapter, "max_connections", None)
        limit = poller_settings.concurrency
        self.max_in_flight = min(limit, connections) if connections else limit
        self.start_pass()

    def start_pass(self) -> None:
        """Fresh asyncio primitives for a pass (a pass may run on another event loop)."""
        #: Set whenever no probe is out (a half-open circuit's verdict is in).
        self.settled = asyncio.Event()
        self.settled.set()
        #: Requests to this provider in flight at once: no more than its adapter
        #: keeps connections for (a request waiting for a connection after its
        #: rate-limit slot would leave late and bunch up with the next ones).
        self.in_flight = asyncio.Semaphore(self.max_in_flight)

    def blocked(self) -> bool:
        """Nothing may be sent now (checked without taking a half-open probe)."""
        if self.auth_error is not None:
            assert self.auth_failed_at is not None
            if time.monotonic() - self.auth_failed_at < AUTH_RECHECK_SECONDS:
                return True
        return self.breaker.state == OPEN and self.breaker.retry_in() > 0

    def sent(self) -> None:
        with self._lock:
            self._unflushed_requests += 1

    def take_requests(self) -> int:
        with self._lock:
            return self._unflushed_requests

    def flushed(self, requests: int) -> None:
        with self._lock:
            self._unflushed_requests -= requests


@dataclass
class _Batch:
    provider: _Provider
    items: list[Outcome]
    attempt: int = 0


class _ProviderQueue:
    """Batches waiting for one provider, each ready at a monotonic time."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, _Batch]] = []
        self._seq = itertools.count()
        self._event = asyncio.Event()
        self.closed = False

    def put(self, batch: _Batch, ready_at: float = 0.0) -> None:
        heapq.heappush(self._heap, (ready_at, next(self._seq), batch))
        self._event.set()

    def close(self) -> None:
        self.closed = True
        self._event.set()

    def drain(self) -> list[_Batch]:
        batches = [b for _, _, b in self._heap]
        self._heap.clear()
        return batches

    async def get(self) -> _Batch | None:
        while True:
            now = time.monotonic()
            if self._heap and (self._heap[0][0] <= now or self.closed):
                return heapq.heappop(self._heap)[2]
            if self.closed:
                return None
            self._event.clear()
            timeout = self._heap[0][0] - now if self._heap else None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._event.wait(), timeout)


class _Pass:
    def __init__(self, *, force: bool, want_report: bool) -> None:
        self.counters = PollCounters()
        self.reports: list[ShipmentReport] = []
        self.force = force
        self.want_report = want_report
        self.write_queue: asyncio.Queue[Outcome | None] = asyncio.Queue()
        self.queues: dict[str, _ProviderQueue] = {}
        self.dispatchers: dict[str, asyncio.Task[None]] = {}
        self.tasks: set[asyncio.Task[None]] = set()
        #: Claimed shipments not yet written.
        self.outstanding = 0
        #: Claimed shipments per provider not yet sent.
        self.backlog: Counter[str] = Counter()
        self.progress = asyncio.Event()
        self.aborting = False
        #: Every shipment claimed in this pass.
        self.seen: set[int] = set()
        #: Claimed and not yet written: their leases are renewed while the pass runs.
        self.held: set[int] = set()
        #: Shipments whose lease another worker took (this one was stalled): not sent.
        self.lost: set[int] = set()


class Poller:
    """Polls due shipments. Use as ``async with Poller(store, settings) as poller:``.

    One pass at a time per Poller (``run_once``, ``poll_shipments`` or ``run``).

    ``on_changes(conn, changes)`` is called inside the transaction that stores
    them, with the :class:`~notifiers.changes.ShipmentChange` records (status or
    estimate moved, or first information) and
    :class:`~notifiers.changes.AttentionRaised` records of the shipments in it;
    the order-level ``unfulfilled`` sweep calls it with its own raised items.
    """

    def __init__(
        self,
        store: Store,
        settings: SyncSettings,
        *,
        providers: Providers | None = None,
        clock: Clock | None = None,
        on_changes: OnChanges | None = None,
        rate_limiter: RateLimiter | None = None,
        worker_id: str | None = None,
        rng: random.Random | None = None,
        claim_size: int = 500,
    ) -> None:
        self.name = "poller"
        self.store = store
        self.settings = settings
        self.poll_settings = settings.tracking.poll
        self.providers = providers or Providers.from_settings(settings.tracking)
        self.clock: Clock = clock or SystemClock()
        self.on_changes = on_changes
        self.worker_id = worker_id or f"{new_worker_id('poller')}:{uuid.uuid4().hex[:6]}"
        self.rng = rng or random.Random()
        self.claim_size = claim_size
        self._providers = {
            code: _Provider(code, self.providers, self.poll_settings)
            for code in self.providers.adapters
        }
        self.rate_limiter: RateLimiter = rate_limiter or sharedlimit.rate_limiter(
            store, settings.tracking, {code: p.rate for code, p in self._providers.items()}
        )
        self.totals = PollCounters()
        self._semaphore: asyncio.Semaphore | None = None
        self._started = False
        self._wake: asyncio.Event | None = None
        self._health_written = 0.0

    async def __aenter__(self) -> Poller:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self.providers.aclose()

    # --- public API -------------------------------------------------------------------

    async def run_once(self, *, stop: asyncio.Event | None = None) -> PollCounters:
        """One pass over everything due now; returns what it did."""
        result = await self._run_pass(ids=None, force=False, want_report=False, stop=stop)
        return result.counters

    async def poll_shipments(self, shipment_ids: Sequence[int]) -> PassResult:
        """Poll these shipments now, due or not (``orderdeck track``), with reports."""
        return await self._run_pass(ids=list(shipment_ids), force=True, want_report=True, stop=None)

    async def run(
        self,
        stop: asyncio.Event,
        *,
        max_idle: float = 30.0,
        min_idle: float = 0.5,
        on_pass: Callable[[PollCounters], None] | None = None,
    ) -> None:
        """Poll until ``stop`` is set, sleeping until the next shipment falls due.

        Being the long-running loop, it tunes the process's garbage collector for
        a service once (:func:`sync.runtime.tune_for_service`).
        """
        tune_for_service()
        self._wake = asyncio.Event()
        while not stop.is_set():
            try:
                counters = await self.run_once(stop=stop)
                if on_pass is not None:
                    on_pass(counters)
                wait = await asyncio.to_thread(self._idle_seconds, max_idle)
            except Exception:
                log.exception("poll pass failed; trying again in %.0f s", max_idle)
                wait = max_idle
            wait = min(max(wait, min_idle), max_idle)
            await _wait_any(stop, self._wake, wait)
            self._wake.clear()

    def wake(self) -> None:
        """Start the next pass now (someone asked to poll)."""
        if self._wake is not None:
            self._wake.set()

    def provider_health(self) -> dict[str, dict[str, Any]]:
        return {
            code: {
                "circuit": p.breaker.state,
                "consecutive_failures": p.breaker.consecutive_failures,
                "auth_error": p.auth_error,
                "last_error": p.last_error,
                "rate_limit": p.rate,
                "batch_size": p.batch_size,
            }
            for code, p in self._providers.items()
        }

    # --- a pass --------------------------------------------------------------------

    async def _run_pass(
        self,
        *,
        ids: list[int] | None,
        force: bool,
        want_report: bool,
        stop: asyncio.Event | None,
    ) -> PassResult:
        if not self._started:
            await asyncio.to_thread(self._startup)
            self._started = True
        self._semaphore = asyncio.Semaphore(self.poll_settings.concurrency)
        for provider in self._providers.values():
            provider.start_pass()
        ps = _Pass(force=force, want_report=want_report)
        busy: list[int] = []
        pass_start = self.clock.now()
        writer = asyncio.create_task(self._writer(ps))
        renewer = asyncio.create_task(self._renew_leases(ps))
        watcher = asyncio.create_task(self._watch_stop(stop, ps)) if stop is not None else None
        try:
            if ids is not None:
                rows, busy = await asyncio.to_thread(self._claim_ids, ids)
                self._plan(rows, ps)
            else:
                await asyncio.to_thread(self._adopt_unscheduled, pass_start)
                exhausted = False
                while not ps.aborting:
                    room = 0 if exhausted else self._room(ps)
                    rows = []
                    if room > 0:
                        excluded = self._excluded(ps)
                        rows = await asyncio.to_thread(self._claim_due, room, excluded, pass_start)
                        # Fewer than asked, with nobody held back: nothing else is due.
                        exhausted = len(rows) < room and not excluded
                    fresh = [r for r in rows if r["id"] not in ps.seen]
                    if len(fresh) < len(rows):
                        # Skipped earlier in this pass (a paused provider) and due again:
                        # the next pass will take them.
                        again = [r["id"] for r in rows if r["id"] in ps.seen]
                        await asyncio.to_thread(self._release, again)
                    if fresh:
                        self._plan(fresh, ps)
                        continue
                    if rows:
                        break
                    if ps.outstanding == 0:
                        break
                    ps.progress.clear()
                    await ps.progress.wait()
            while ps.outstanding > 0:
                ps.progress.clear()
                await ps.progress.wait()
        finally:
            if ps.outstanding > 0:
                self._abort(ps)
                while ps.outstanding > 0 and not writer.done():
                    ps.progress.clear()
                    await ps.progress.wait()
            for queue in ps.queues.values():
                queue.close()
            await asyncio.gather(*ps.dispatchers.values(), *ps.tasks, return_exceptions=True)
            ps.write_queue.put_nowait(None)
            try:
                await writer
            finally:
                renewer.cancel()
                if watcher is not None:
                    watcher.cancel()
        if ids is None and not ps.aborting:
            await asyncio.to_thread(self._sweep, ps)
        await asyncio.to_thread(self._flush_health)
        self.totals.add(ps.counters)
        return PassResult(ps.counters, ps.reports, busy)

    async def _renew_leases(self, ps: _Pass) -> None:
        """Every third of a lease, extend the leases of what this pass still holds.

        A pass may hold claimed shipments longer than one lease: several workers
        share a provider's rate limit, so each sends slower than the claim sizes
        assume. A dead worker renews nothing, so its leases still run out.
        """
        every = self.poll_settings.lease_seconds / 3
        while True:
            await asyncio.sleep(every)
            ids = list(ps.held)
            if not ids:
                continue
            try:
                kept = await asyncio.to_thread(self._renew, ids)
            except Exception as exc:  # the leases may lapse; the writer drops lost answers
                log.warning("renewing %d leases failed: %s", len(ids), exc)
                continue
            lost = (set(ids) - kept) & ps.held
            if lost:
                log.warning("%d shipments were taken over by another worker", len(lost))
                ps.lost |= lost

    async def _watch_stop(self, stop: asyncio.Event, ps: _Pass) -> None:
        await stop.wait()
        self._abort(ps)

    def _abort(self, ps: _Pass) -> None:
        """Stop early: nothing new is claimed or sent; queued shipments are released."""
        if ps.aborting:
            return
        ps.aborting = True
        for code, queue in ps.queues.items():
            for batch in queue.drain():
                ps.backlog[code] -= len(batch.items)
                self._finish(ps, batch, SKIPPED)
        ps.progress.set()

    def _room(self, ps: _Pass) -> int:
        """How many to claim now: nothing until the backlog fell to half the ceiling,
        then a good page, so claims (write transactions) stay few and large."""
        ceiling = max(self.claim_size, self.poll_settings.concurrency * 50)
        if ps.outstanding > ceiling // 2:
            return 0
        return min(self.claim_size, ceiling - ps.outstanding)

    def _excluded(self, ps: _Pass) -> list[str]:
        """Providers not to claim for: paused, or with enough waiting already."""
        lease = self.poll_settings.lease_seconds
        out = []
        for code, p in self._providers.items():
            cap = max(
                p.batch_size * self.poll_settings.concurrency, p.rate * p.batch_size * lease / 2
            )
            if p.blocked() or ps.backlog[code] >= cap:
                out.append(code)
        return out

    def _plan(self, rows: list[dict[str, Any]], ps: _Pass) -> None:
        ps.seen.update(r["id"] for r in rows)
        ps.held.update(r["id"] for r in rows)
        ps.outstanding += len(rows)
        ps.counters.claimed += len(rows)
        groups: dict[str, list[Outcome]] = {}
        for row in rows:
            outcome = self._plan_one(row)
            if outcome.kind != RESULT:
                ps.write_queue.put_nowait(outcome)
                continue
            assert outcome.provider is not None
            provider = self._providers[outcome.provider]
            if not ps.force and (ps.aborting or provider.blocked()):
                outcome.kind = SKIPPED
                ps.write_queue.put_nowait(outcome)
                continue
            groups.setdefault(outcome.provider, []).append(outcome)
        for code, items in groups.items():
            provider = self._providers[code]
            queue = self._queue(ps, code)
            for start in range(0, len(items), provider.batch_size):
                chunk = items[start : start + provider.batch_size]
                ps.backlog[code] += len(chunk)
                queue.put(_Batch(provider, chunk))

    def _plan_one(self, row: dict[str, Any]) -> Outcome:
        """Carrier (detected if unknown) and provider; ``kind`` RESULT means "ask"."""
        carrier = row["carrier"]
        candidates: list[str] | None = None
        if carrier is None:
            detection = detect(row["tracking_number"])
            candidates = list(detection.candidates)
            if not detection.valid:
                why = detection.reason or "it fits no carrier's format"
                return Outcome(
                    row,
                    INVALID,
                    candidates=candidates,
                    detail=f"{row['tracking_number']} is not a valid tracking number: {why}",
                )
            if len(candidates) == 1:
                carrier = candidates[0]
        choice = self.providers.choose(carrier, candidates or row["carrier_candidates"] or ())
        if choice.provider is None:
            return Outcome(
                row, NO_PROVIDER, carrier=carrier, candidates=candidates, detail=choice.problem
            )
        name = self._providers[choice.provider].name
        return Outcome(
            row,
            RESULT,
            provider=choice.provider,
            carrier=carrier,
            candidates=candidates,
            provider_name=name,
        )

    def _queue(self, ps: _Pass, code: str) -> _ProviderQueue:
        queue = ps.queues.get(code)
        if queue is None:
            queue = ps.queues[code] = _ProviderQueue()
            ps.dispatchers[code] = asyncio.create_task(self._dispatch(ps, code, queue))
        return queue

    async def _dispatch(self, ps: _Pass, code: str, queue: _ProviderQueue) -> None:
        provider = self._providers[code]
        assert self._semaphore is not None
        while True:
            batch = await queue.get()
            if batch is None:
                return
            ps.backlog[code] -= len(batch.items)
            if ps.lost:
                self._drop_lost(ps, batch)
                if not batch.items:
                    continue
            # Slots first (the provider's own, then the poller's), then the verdict:
            # what was in flight has told us how the provider is doing before this
            # batch decides to go; the rate-limit slot comes last, so the request
            # leaves the moment it is granted.
            await provider.in_flight.acquire()
            try:
                await self._semaphore.acquire()
            except BaseException:
                provider.in_flight.release()
                raise
            try:
                go = await self._may_send(ps, provider)
                if go:
                    await self.rate_limiter.acquire(code)
            except BaseException:
                self._semaphore.release()
                provider.in_flight.release()
                raise
            if not go:
                self._semaphore.release()
                provider.in_flight.release()
                self._finish(ps, batch, SKIPPED)
                continue
            task = asyncio.create_task(self._send(ps, batch, queue))
            ps.tasks.add(task)
            task.add_done_callback(ps.tasks.discard)

    def _drop_lost(self, ps: _Pass, batch: _Batch) -> None:
        """Another worker holds these now and polls them: asking again would poll twice."""
        lost = [o for o in batch.items if o.shipment["id"] in ps.lost]
        if lost:
            batch.items = [o for o in batch.items if o.shipment["id"] not in ps.lost]
            self._finish(ps, _Batch(batch.provider, lost), SKIPPED)

    async def _may_send(self, ps: _Pass, provider: _Provider) -> bool:
        """Whether this batch may go; while a probe is out, wait for its verdict."""
        while not ps.aborting:
            if ps.force:
                return True
            if provider.auth_error is not None and provider.blocked():
                return False
            if provider.breaker.allow():
                if provider.breaker.probing:
                    provider.settled.clear()
                return True
            if not provider.breaker.probing:
                return False  # open and cooling down
            await provider.settled.wait()
        return False

    async def _send(self, ps: _Pass, batch: _Batch, queue: _ProviderQueue) -> None:
        provider = batch.provider
        assert self._semaphore is not None
        try:
            requests = [
                TrackRequest(
                    tracking_number=o.shipment["tracking_number"],
                    carrier=o.carrier,
                    provider_ref=o.shipment["provider_ref"],
                )
                for o in batch.items
            ]
            provider.sent()
            ps.counters.requests += 1
            guard = self.poll_settings.timeout_seconds * 2 + 5
            try:
                results = await asyncio.wait_for(provider.adapter.track(requests), guard)
            except (AuthError, ConfigurationError) as exc:
                self._auth_failed(provider, str(exc))
                self._finish(ps, batch, FAILED, detail=str(exc))
                return
            except RateLimited as exc:
                ps.counters.rate_limited += 1
                wait = exc.retry_after
                if wait is None:
                    wait = full_jitter(
                        batch.attempt + 1,
                        self.poll_settings.backoff_base_seconds,
                        self.poll_settings.backoff_max_seconds,
                        self.rng,
                    )
                self.rate_limiter.pause(provider.code, wait)
                self._retry_or_fail(ps, batch, queue, str(exc), wait)
                return
            except (TrackingError, TimeoutError) as exc:
                self._failed(ps, batch, queue, str(exc) or "timed out")
                return
            except Exception as exc:  # an adapter bug must not stop the poller
                log.exception("%s: the adapter failed", provider.code)
                self._failed(ps, batch, queue, f"{provider.name}: {type(exc).__name__}: {exc}")
                return
            if provider.breaker.success():
                log.info("%s answers again: circuit closed", provider.code)
                provider.dirty = True
            if provider.last_success_at is None:
                provider.dirty = True
            # Written with the next health flush (a change, or every HEALTH_EVERY seconds).
            provider.last_success_at = self.clock.now()
            if provider.auth_error is not None:
                provider.auth_error = None
                provider.auth_failed_at = None
                provider.dirty = True
            self._deliver(ps, batch, results)
        finally:
            if provider.breaker.probing:
                provider.breaker.abandon()  # no verdict (429, credentials): let another try
            provider.settled.set()
            self._semaphore.release()
            provider.in_flight.release()

    def _failed(self, ps: _Pass, batch: _Batch, queue: _ProviderQueue, message: str) -> None:
        provider = batch.provider
        provider.last_error = message
        provider.last_error_at = self.clock.now()
        provider.dirty = True
        if provider.breaker.failure():
            provider.opened_at = self.clock.now()
            log.warning(
                "%s failed %d times in a row: pausing it for %.0f s (%s)",
                provider.code,
                provider.breaker.consecutive_failures,
                provider.breaker.cooldown,
                message,
            )
        if provider.breaker.state != CLOSED and not ps.force:
            self._finish(ps, batch, FAILED, detail=message)
            return
        wait = full_jitter(
            batch.attempt + 1,
            self.poll_settings.backoff_base_seconds,
            self.poll_settings.backoff_max_seconds,
            self.rng,
        )
        self._retry_or_fail(ps, batch, queue, message, wait)

    def _retry_or_fail(
        self, ps: _Pass, batch: _Batch, queue: _ProviderQueue, message: str, wait: float
    ) -> None:
        batch.attempt += 1
        if batch.attempt > self.poll_settings.max_retries or ps.aborting:
            self._finish(ps, batch, FAILED, detail=message)
            return
        ps.counters.retries += 1
        ps.backlog[batch.provider.code] += len(batch.items)
        queue.put(batch, time.monotonic() + wait)

    def _auth_failed(self, provider: _Provider, message: str) -> None:
        if provider.auth_error is None:
            log.error(
                "%s: %s; it is stopped until its configuration is fixed", provider.code, message
            )
        provider.auth_error = message
        provider.auth_failed_at = time.monotonic()
        provider.last_error = message
        provider.last_error_at = self.clock.now()
        provider.dirty = True

    def _finish(self, ps: _Pass, batch: _Batch, kind: str, detail: str | None = None) -> None:
        for outcome in batch.items:
            outcome.kind = kind
            outcome.detail = detail
            ps.write_queue.put_nowait(outcome)

    def _deliver(self, ps: _Pass, batch: _Batch, results: list[TrackResult]) -> None:
        by_number = {_norm(r.tracking_number): r for r in results}
        positional = len(results) == len(batch.items)
        for index, outcome in enumerate(batch.items):
            number = outcome.shipment["tracking_number"]
            result = by_number.get(_norm(number))
            if result is None and positional:
                result = results[index]
            if result is None:
                outcome.kind = FAILED
                outcome.detail = f"{batch.provider.name} gave no answer for {number}"
            elif isinstance(result.error, NotFound):
                outcome.kind = NOT_FOUND
                outcome.detail = str(result.error)
            elif result.error is not None:
                outcome.kind = FAILED
                outcome.detail = str(result.error)
            else:
                outcome.kind = RESULT
                outcome.result = result
            ps.write_queue.put_nowait(outcome)

    # --- the writer -------------------------------------------------------------------

    async def _writer(self, ps: _Pass) -> None:
        done = False
        while not done:
            first = await ps.write_queue.get()
            if first is None:
                return
            if ps.tasks and ps.write_queue.qsize() < WRITE_GROUP:
                # More answers are on their way: one transaction for them all is far
                # cheaper than one each, and a poll can wait a few milliseconds.
                await asyncio.sleep(WRITE_LINGER)
            group = [first]
            while len(group) < WRITE_GROUP:
                try:
                    item = ps.write_queue.get_nowait()
                except asyncio.QueueEmpty:
                    break
                if item is None:
                    done = True
                    break
                group.append(item)
            try:
                written = await asyncio.to_thread(self._write, group, ps.want_report)
            except Exception:  # the store is down or locked: the leases lapse, all is retried
                log.exception("storing %d poll results failed; their leases will lapse", len(group))
                ps.counters.store_errors += 1
                written = _Written()
            self._count(ps, group, written)
            ps.held.difference_update(o.shipment["id"] for o in group)
            ps.outstanding -= len(group)
            ps.progress.set()

    def _count(self, ps: _Pass, group: list[Outcome], written: _Written) -> None:
        c = ps.counters
        kinds = Counter(o.kind for o in group)
        c.polled += kinds[RESULT] + kinds[NOT_FOUND]
        c.not_found += kinds[NOT_FOUND]
        c.failed += kinds[FAILED]
        c.skipped += kinds[SKIPPED]
        c.no_provider += kinds[NO_PROVIDER]
        c.invalid += kinds[INVALID]
        c.events_new += written.events_new
        c.status_changes += written.status_changes
        c.attention_raised += written.raised
        c.attention_cleared += written.cleared
        c.store_errors += written.errors
        c.store_seconds += written.seconds
        c.store_cpu_seconds += written.cpu_seconds
        ps.reports.extend(written.reports)

    def _write(self, group: list[Outcome], want_report: bool) -> _Written:
        started, cpu = time.perf_counter(), time.thread_time()
        ctx = WriteContext(
            settings=self.settings,
            now=self.clock.now(),
            owner=self.worker_id,
            rng=self.rng,
            want_report=want_report,
        )
        try:
            written = self._write_group(group, ctx)
        except (StoreError, OperationalError):
            raise  # the store itself is in trouble: splitting the group would not help
        except Exception as exc:
            if len(group) > 1:
                # One bad apple must not spoil the group: store them one by one.
                log.warning("storing %d poll results failed (%s); one by one now", len(group), exc)
                written = _Written()
                for outcome in group:
                    written.merge(self._write([outcome], want_report))
            else:
                self._store_failed(group[0], ctx, exc)
                written = _Written(errors=1)
        written.seconds = time.perf_counter() - started
        written.cpu_seconds = time.thread_time() - cpu
        return written

    def _write_group(self, group: list[Outcome], ctx: WriteContext) -> _Written:
        written = _Written()
        with self.store.write_connection() as conn:
            result = tracking_writer.write_group(conn, group, ctx)
            changes = result.changes
            if changes and self.on_changes is not None:
                self.on_changes(conn, changes)
            orders = result.visible_orders
            if orders:
                summary.refresh_orders(conn, orders, now=ctx.now)
                change_feed.record(conn, "tracking", orders)
            flushed = self._write_health(conn)
        for provider, requests in flushed:
            provider.flushed(requests)
        for sid in result.lost:
            log.info("shipment %s: lease lost to another worker; its answer is dropped", sid)
        for applied in result.applied:
            written.add(applied)
        return written

    def _store_failed(self, outcome: Outcome, ctx: WriteContext, exc: BaseException) -> None:
        """Its transaction rolled back: note why on the shipment and try it again later."""
        sid = outcome.shipment["id"]
        log.error("storing the poll of shipment %s failed: %s", sid, exc, exc_info=exc)
        failures = int(outcome.shipment["poll_failures"] or 0) + 1
        try:
            with self.store.write_connection() as conn:
                conn.execute(
                    sa.update(_shipments)
                    .where(_shipments.c.id == sid, _shipments.c.lease_owner == ctx.owner)
                    .values(
                        lease_owner=None,
                        lease_until=None,
                        poll_failures=failures,
                        last_error=f"could not store the poll: {type(exc).__name__}: {exc}"[:500],
                        next_poll_at=ctx.now + timedelta(minutes=min(240, 2**failures)),
                    )
                )
        except Exception:
            log.exception("noting the failure on shipment %s failed too; its lease will lapse", sid)

    # --- database work (threads) -------------------------------------------------------

    def _startup(self) -> None:
        """Clear stale auth errors of providers that now load, note broken ones,
        and look again at shipments that had no provider (the config may have changed)."""
        now = self.clock.now()
        with self.store.write_connection() as conn:
            for code in self._providers:
                record_health(conn, code, auth_error=None, circuit=CLOSED, consecutive_failures=0)
            for code, problem in self.providers.broken.items():
                record_health(conn, code, auth_error=problem, last_error=problem, last_error_at=now)
            leases.recheck_no_provider(conn, now)

    def _adopt_unscheduled(self, now: datetime) -> None:
        with self.store.write_connection() as conn:
            leases.adopt_unscheduled(conn, now)

    def _claim_due(
        self, limit: int, excluded: list[str], due_before: datetime
    ) -> list[dict[str, Any]]:
        with self.store.write_connection() as conn:
            return leases.claim_due(
                conn,
                owner=self.worker_id,
                now=self.clock.now(),
                lease=timedelta(seconds=self.poll_settings.lease_seconds),
                limit=limit,
                due_before=due_before,
                excluded_providers=excluded,
            )

    def _claim_ids(self, ids: list[int]) -> tuple[list[dict[str, Any]], list[int]]:
        with self.store.write_connection() as conn:
            return leases.claim_ids(
                conn,
                ids,
                owner=self.worker_id,
                now=self.clock.now(),
                lease=timedelta(seconds=self.poll_settings.lease_seconds),
            )

    def _renew(self, ids: list[int]) -> set[int]:
        with self.store.write_connection() as conn:
            return leases.renew(
                conn,
                ids,
                owner=self.worker_id,
                until=self.clock.now() + timedelta(seconds=self.poll_settings.lease_seconds),
            )

    def _release(self, ids: list[int]) -> None:
        with self.store.write_connection() as conn:
            leases.release(conn, ids, owner=self.worker_id)

    def _sweep(self, ps: _Pass) -> None:
        """The order-level ``unfulfilled`` sweep, one committed transaction per batch
        (a first sweep over thousands of old orders must not hold the write lock for
        long, nor start over from nothing after every crash)."""
        after: int | None = 0
        while after is not None:
            with self.store.write_connection() as conn:
                now = self.clock.now()
                result = tracking_attention.sweep_unfulfilled(
                    conn, self.settings, now, after_id=after, limit=SWEEP_BATCH
                )
                if result.raised and self.on_changes is not None:
                    self.on_changes(conn, list(result.raised))
                if result.order_ids:
                    summary.refresh_orders(conn, result.order_ids, now=now)
                    change_feed.record(conn, "attention", result.order_ids)
            ps.counters.attention_raised += len(result.raised)
            ps.counters.attention_cleared += result.cleared
            after = result.next_after

    def _flush_health(self) -> None:
        if not any(p.dirty or p.take_requests() for p in self._providers.values()):
            return
        with self.store.write_connection() as conn:
            flushed = self._write_health(conn, force=True)
        for provider, requests in flushed:
            provider.flushed(requests)

    def _write_health(
        self, conn: Connection, *, force: bool = False
    ) -> list[tuple[_Provider, int]]:
        """Write what changed in each provider's health (and, now and then, its request count)."""
        flushed = []
        due = force or time.monotonic() - self._health_written >= HEALTH_EVERY
        if due:
            self._health_written = time.monotonic()
        for code, p in self._providers.items():
            if not (p.dirty or (due and p.take_requests())):
                continue
            p.dirty = False
            requests = p.take_requests()
            record_health(
                conn,
                code,
                circuit=p.breaker.state,
                consecutive_failures=p.breaker.consecutive_failures,
                opened_at=p.opened_at if p.breaker.state != CLOSED else None,
                auth_error=p.auth_error,
                last_error=p.last_error,
                last_error_at=p.last_error_at,
                last_success_at=p.last_success_at,
                requests_delta=requests,
            )
            flushed.append((p, requests))
        return flushed

    def _idle_seconds(self, max_idle: float) -> float:
        """Real seconds until the next shipment falls due (or a paused provider may be probed)."""
        now = self.clock.now()
        with self.store.read_connection() as conn:
            next_due = leases.next_due(conn, now)
        if next_due is None:
            return max_idle
        if next_due > now:
            return real_seconds(self.clock, (next_due - now).total_seconds(), frozen=max_idle)
        blocked = [p for p in self._providers.values() if p.blocked()]
        if not blocked:
            return 0.0  # fell due while the pass ran: go again
        # Due, but for paused providers: look again when the first may be probed.
        probes = [p.breaker.retry_in() for p in blocked if p.breaker.state == OPEN]
        return min([*probes, 5.0])


@dataclass
class _Written:
    events_new: int = 0
    status_changes: int = 0
    raised: int = 0
    cleared: int = 0
    errors: int = 0
    seconds: float = 0.0
    cpu_seconds: float = 0.0
    reports: list[ShipmentReport] = field(default_factory=list)

    def add(self, applied: tracking_writer.Applied) -> None:
        self.events_new += applied.events_new
        self.status_changes += int(applied.status_changed)
        self.raised += applied.raised
        self.cleared += applied.cleared
        if applied.report is not None:
            self.reports.append(applied.report)

    def merge(self, other: _Written) -> None:
        self.events_new += other.events_new
        self.status_changes += other.status_changes
        self.raised += other.raised
        self.cleared += other.cleared
        self.errors += other.errors
        self.reports.extend(other.reports)


def _norm(number: str) -> str:
    return "".join(number.split()).replace("-", "").upper()


async def _wait_any(stop: asyncio.Event, wake: asyncio.Event, timeout: float) -> None:
    waiters = [asyncio.create_task(stop.wait()), asyncio.create_task(wake.wait())]
    try:
        await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in waiters:
            task.cancel()


__all__ = ["OnChanges", "PassResult", "PollCounters", "Poller", "ShipmentReport"]
