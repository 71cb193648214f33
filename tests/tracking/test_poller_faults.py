"""Every fault the sandbox can throw, survived: retries with backoff, Retry-After,
the circuit breaker, bad credentials, and a rate limit that is never exceeded."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from store import queries
from store.engine import Store
from store.models import CarrierState, Shipment
from sync.carriers.sandbox import SandboxAdapter
from sync.poller import Poller
from sync.providers import Providers
from sync.sandbox import SandboxClock, SandboxServer
from sync.sandbox.faults import max_in_window
from sync.settings import CarrierSettings

from .conftest import FAST_POLL, T0, add_shipments, events, shipment, sync_settings, with_poll


def carrier_state(store: Store, code: str = "sandbox") -> dict[str, Any]:
    with store.read() as s:
        state = s.get(CarrierState, code)
        assert state is not None
        return state.model_dump()


def all_shipments(store: Store) -> list[Shipment]:
    with store.read() as s:
        rows = list(s.execute(sa.select(Shipment).order_by(Shipment.id)).scalars())  # type: ignore[arg-type]
        for row in rows:
            s.expunge(row)
        return rows


@pytest.mark.parametrize(
    "knob",
    [
        {"error_rate": 1.0},
        {"timeout_rate": 1.0, "hang_seconds": 10.0},
        {"drop_rate": 1.0},
        {"malformed_rate": 1.0},
    ],
    ids=["5xx", "timeout", "dropped", "malformed"],
)
async def test_a_fault_is_survived_and_the_next_pass_recovers(
    store: Store, sandbox: SandboxServer, clock: SandboxClock, knob: dict[str, float]
) -> None:
    ids = add_shipments(store, ["SBDELIVERED1", "SBDELIVERED2", "SBDELIVERED3"])
    settings = with_poll(sync_settings(sandbox, batch_size=1), timeout_seconds=0.3, concurrency=1)
    sandbox.faults.update(**knob)
    async with Poller(store, settings, clock=clock) as p:
        broken = await p.run_once()
        assert broken.polled == 0
        assert broken.failed + broken.skipped == 3
        assert broken.failed >= 1 and broken.retries >= 1
        for s in all_shipments(store):
            assert s.lease_owner is None
            assert s.next_poll_at is not None
            if s.poll_failures:
                assert s.last_error
                assert T0 < s.next_poll_at <= T0 + timedelta(minutes=2.5)
        assert carrier_state(store)["last_error"]
        assert all(events(store, sid) == [] for sid in ids)

        sandbox.faults.update(**dict.fromkeys(knob, 0.0))
        await asyncio.sleep(FAST_POLL.circuit_cooldown_seconds)  # let a paused circuit probe
        clock.set(T0 + timedelta(hours=1))
        mended = await p.run_once()
    assert mended.polled == 3
    for s in all_shipments(store):
        assert (s.status, s.poll_failures, s.last_error) == ("info_received", 0, None)
    assert carrier_state(store)["circuit"] == "closed"


async def test_some_faults_are_retried_within_the_pass(
    store: Store, sandbox: SandboxServer, clock: SandboxClock
) -> None:
    add_shipments(store, [f"SBDELIVERED{i}" for i in range(12)])
    settings = with_poll(
        sync_settings(sandbox, batch_size=1),
        max_retries=8,
        circuit_failures=100,
        timeout_seconds=0.3,
    )
    sandbox.faults.update(error_rate=0.2, drop_rate=0.1, malformed_rate=0.1)
    async with Poller(store, settings, clock=clock) as p:
        counters = await p.run_once()
    assert counters.retries >= 1
    assert counters.polled + counters.failed == 12
    assert counters.polled >= 10
    answers = sandbox.stats.answers
    assert answers["200"] == counters.polled
    assert sum(answers.values()) == counters.requests


async def test_the_circuit_opens_and_recovers(
    store: Store, sandbox: SandboxServer, clock: SandboxClock
) -> None:
    add_shipments(store, [f"SBDELIVERED{i}" for i in range(10)])
    cooldown = 1.5  # long enough that the first pass ends before a probe may go
    settings = with_poll(
        sync_settings(sandbox, batch_size=1), concurrency=1, circuit_cooldown_seconds=cooldown
    )
    sandbox.faults.update(error_rate=1.0)
    async with Poller(store, settings, clock=clock) as p:
        first = await p.run_once()
        # Three failures in a row (a try and two retries) open it; the rest wait.
        assert first.requests == 3 == sandbox.stats.as_dict()["requests"]
        assert (first.failed, first.skipped) == (1, 9)
        assert carrier_state(store)["circuit"] == "open"
        assert carrier_state(store)["consecutive_failures"] == 3
        # While it is open nothing is claimed or sent, however often we look.
        again = await p.run_once()
        assert (again.claimed, again.requests) == (0, 0)
        with store.read() as s:
            status = queries.status_summary(s, heartbeat_fresh=timedelta(seconds=15))
        assert status["carriers"][0]["circuit"] == "open"

        sandbox.faults.update(error_rate=0.0)
        await asyncio.sleep(cooldown)
        mended = await p.run_once()
        # The probe went, then the nine that waited; the one that failed waits out its backoff.
        assert mended.polled == 9
        clock.set(T0 + timedelta(minutes=5))
        assert (await p.run_once()).polled == 1
    assert carrier_state(store)["circuit"] == "closed"


class OtherAdapter(SandboxAdapter):
    """A second provider, for a second carrier, on a second sandbox."""

    code = "other"
    name = "Other carrier"
    covers = frozenset({"other"})


async def test_a_dead_provider_does_not_hold_up_the_others(
    store: Store, sandbox: SandboxServer, clock: SandboxClock
) -> None:
    healthy = SandboxServer(seed=2, clock=clock, spread_hours=0).start()
    try:
        sandbox.faults.update(timeout_rate=1.0, hang_seconds=10.0)
        dead_ids = add_shipments(store, [f"SBDELIVERED{i}" for i in range(6)])
        live_ids = add_shipments(store, [f"SBFAILED{i}" for i in range(6)], carrier="other")
        settings = with_poll(sync_settings(sandbox), timeout_seconds=0.3)
        providers = Providers(
            {
                "sandbox": SandboxAdapter(
                    CarrierSettings("sandbox", {"base_url": sandbox.url, "batch_size": 1}),
                    timeout=0.3,
                ),
                "other": OtherAdapter(
                    CarrierSettings("other", {"base_url": healthy.url, "batch_size": 1}),
                    timeout=0.3,
                ),
            }
        )
        async with Poller(store, settings, clock=clock, providers=providers) as p:
            counters = await p.run_once()
        assert all(shipment(store, sid).status == "info_received" for sid in live_ids)
        assert all(shipment(store, sid).status == "pending" for sid in dead_ids)
        assert counters.polled == 6
        # The dead one had its few tries (those already in flight when the circuit
        # opened included), no more.
        tries = FAST_POLL.circuit_failures + FAST_POLL.concurrency - 1
        assert sandbox.stats.answers["timeout"] <= tries
    finally:
        healthy.stop()


# The two below are about time on the wire, not about the database: SQLite only.


async def test_retry_after_is_honoured(
    sqlite_store: Store, sandbox: SandboxServer, clock: SandboxClock
) -> None:
    store = sqlite_store
    add_shipments(store, [f"SBDELIVERED{i}" for i in range(5)])
    # We believe 50 a second is fine; the sandbox allows 2.
    settings = with_poll(
        sync_settings(sandbox, batch_size=1, rate_limit=50.0), max_retries=6, concurrency=1
    )
    sandbox.faults.update(rate_limit=2)
    async with Poller(store, settings, clock=clock) as p:
        counters = await p.run_once()
    assert counters.polled == 5
    assert counters.rate_limited >= 1
    log = sorted(sandbox.stats.log)
    limited = [(i, t) for i, (t, answer) in enumerate(log) if answer == "429"]
    assert limited
    for i, t in limited:
        if i + 1 < len(log):
            # Retry-After said one second: nothing was sent before it passed.
            assert log[i + 1][0] - t >= 0.95


async def test_the_rate_limit_is_never_exceeded(
    sqlite_store: Store, sandbox: SandboxServer, clock: SandboxClock
) -> None:
    store = sqlite_store
    add_shipments(store, [f"SBDELIVERED{i}" for i in range(36)])
    # The sandbox shares this process (and its busy threads) with the poller: a wider
    # margin than a real carrier would need absorbs the jitter that adds at its door.
    settings = with_poll(
        sync_settings(sandbox, batch_size=1, rate_limit=20.0), concurrency=8, rate_headroom=0.15
    )
    sandbox.faults.update(rate_limit=20, latency_ms=20)
    async with Poller(store, settings, clock=clock) as p:
        counters = await p.run_once()
    assert counters.polled == 36
    assert sandbox.stats.answers["429"] == 0
    assert max_in_window(sandbox.stats.arrivals(), 1.0) <= 20


async def test_bad_credentials_stop_the_provider_and_show_as_configuration(
    store: Store, sandbox: SandboxServer, clock: SandboxClock
) -> None:
    add_shipments(store, [f"SBDELIVERED{i}" for i in range(4)])
    sandbox.faults.update(api_key="right")
    wrong = with_poll(sync_settings(sandbox, batch_size=1, api_key="wrong"), concurrency=1)
    async with Poller(store, wrong, clock=clock) as p:
        first = await p.run_once()
        assert first.requests == 1  # one refusal is enough
        assert (first.failed, first.skipped) == (1, 3)
        again = await p.run_once()
        assert again.requests == 0
    state = carrier_state(store)
    assert "refused the credentials" in state["auth_error"]
    assert "[carriers.sandbox]" in state["auth_error"]
    with store.read() as s:
        status = queries.status_summary(s, heartbeat_fresh=timedelta(seconds=15))
    assert status["carriers"][0]["auth_error"] == state["auth_error"]
    assert "wrong" not in state["auth_error"]

    # Fixed configuration, restarted poller: the problem is gone and polling resumes.
    right = sync_settings(sandbox, batch_size=1, api_key="right")
    clock.set(T0 + timedelta(hours=1))
    async with Poller(store, right, clock=clock) as p:
        fixed = await p.run_once()
    assert fixed.polled == 4
    assert carrier_state(store)["auth_error"] is None


async def test_a_broken_section_is_a_configuration_problem(
    store: Store, sandbox: SandboxServer, clock: SandboxClock
) -> None:
    [sid] = add_shipments(store, ["SBDELIVERED1"])
    settings = sync_settings(sandbox, batch_size=500)
    async with Poller(store, settings, clock=clock) as p:
        counters = await p.run_once()
    assert counters.no_provider == 1
    assert "batch_size" in carrier_state(store)["auth_error"]
    s = shipment(store, sid)
    assert s.attention == "no_provider"
    assert "[carriers.sandbox] cannot be used" in (s.last_error or "")
