"""Each attention reason raised at its threshold and cleared when the shipment moves on."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from store import attention
from store.engine import Store
from store.models import AttentionItem, Order, Shipment
from sync.carriers.sandbox import SandboxAdapter
from sync.poller import Poller
from sync.providers import Providers
from sync.sandbox import SandboxClock, SandboxServer
from sync.schedule import add_business_days
from sync.settings import AttentionSettings, CarrierSettings

from .conftest import T0, add_order, add_shipments, at, open_reasons, shipment, sync_settings

BUSINESS = {"timezone": "UTC", "business_days": (0, 1, 2, 3, 4)}


async def poll(p: Poller, clock: SandboxClock, when: datetime, sid: int) -> None:
    clock.set(when)
    await p.poll_shipments([sid])


async def test_late_at_estimate_plus_grace_cleared_on_delivery(
    store: Store, sandbox: SandboxServer, clock: SandboxClock
) -> None:
    story = sandbox.story("SBMISSED1")
    eta = story.etas[0].eta
    assert eta is not None
    late_from = eta + timedelta(hours=12)
    [sid] = add_shipments(store, ["SBMISSED1"])
    async with Poller(store, sync_settings(sandbox), clock=clock) as p:
        await poll(p, clock, late_from - timedelta(minutes=1), sid)
        assert "late" not in open_reasons(store, sid)
        await poll(p, clock, at(late_from), sid)
        assert open_reasons(store, sid) == {"late"}
        s = shipment(store, sid)
        assert s.attention == "late" and s.attention_since == at(late_from)
        with store.read() as session:
            order = session.get(Order, s.order_id)
            assert order is not None and order.attention == "late"
        await poll(p, clock, story.first("DL").at, sid)
    assert open_reasons(store, sid) == set()
    assert shipment(store, sid).attention is None


async def test_stalled_after_business_days_without_a_scan(
    store: Store, sandbox: SandboxServer, clock: SandboxClock
) -> None:
    story = sandbox.story("SBSTALLED1")
    gap = max(
        zip(story.events, story.events[1:], strict=False), key=lambda pair: pair[1].at - pair[0].at
    )
    last_scan, resumed = gap
    due = add_business_days(last_scan.at, 3, **BUSINESS)
    [sid] = add_shipments(store, ["SBSTALLED1"])
    async with Poller(store, sync_settings(sandbox), clock=clock) as p:
        await poll(p, clock, due - timedelta(minutes=1), sid)
        assert "stalled" not in open_reasons(store, sid)
        await poll(p, clock, at(due), sid)
        assert "stalled" in open_reasons(store, sid)
        await poll(p, clock, resumed.at, sid)
    assert "stalled" not in open_reasons(store, sid)


async def test_not_picked_up_after_business_days_with_only_a_label(
    store: Store, sandbox: SandboxServer, clock: SandboxClock
) -> None:
    [sid] = add_shipments(store, ["SBNOPICKUP1"])
    due = add_business_days(T0, 2, **BUSINESS)  # Monday noon -> Wednesday noon
    async with Poller(store, sync_settings(sandbox), clock=clock) as p:
        await poll(p, clock, due - timedelta(minutes=1), sid)
        assert open_reasons(store, sid) == set()
        await poll(p, clock, at(due), sid)
    assert open_reasons(store, sid) == {"not_picked_up"}


async def test_not_picked_up_clears_at_the_first_scan(
    store: Store, sandbox: SandboxServer, clock: SandboxClock
) -> None:
    # A zero threshold makes the label alone overdue, so the pickup can clear it.
    story = sandbox.story("SBDELIVERED1")
    settings = sync_settings(sandbox, attention=AttentionSettings(not_picked_up_days=0))
    [sid] = add_shipments(store, ["SBDELIVERED1"])
    async with Poller(store, settings, clock=clock) as p:
        await poll(p, clock, story.created, sid)
        assert open_reasons(store, sid) == {"not_picked_up"}
        await poll(p, clock, story.first("PU").at, sid)
    assert open_reasons(store, sid) == set()


async def test_failed_attempt_raised_then_cleared(
    store: Store, sandbox: SandboxServer, clock: SandboxClock
) -> None:
    story = sandbox.story("SBFAILED1")
    [sid] = add_shipments(store, ["SBFAILED1"])
    attempt = story.first("FA")
    retry = story.events[story.events.index(attempt) + 1]
    async with Poller(store, sync_settings(sandbox), clock=clock) as p:
        await poll(p, clock, attempt.at - timedelta(minutes=1), sid)
        assert open_reasons(store, sid) == set()
        await poll(p, clock, attempt.at, sid)
        assert open_reasons(store, sid) == {"failed_attempt"}
        with store.read() as s:
            detail = s.execute(sa.select(AttentionItem.detail)).scalar_one()
        assert detail == attempt.detail
        await poll(p, clock, retry.at, sid)
    assert open_reasons(store, sid) == set()


async def test_exception_raised_then_cleared(
    store: Store, sandbox: SandboxServer, clock: SandboxClock
) -> None:
    story = sandbox.story("SBEXCEPTION1")
    [sid] = add_shipments(store, ["SBEXCEPTION1"])
    ex = story.first("EX")
    resumed = story.events[story.events.index(ex) + 1]
    async with Poller(store, sync_settings(sandbox), clock=clock) as p:
        await poll(p, clock, ex.at, sid)
        assert open_reasons(store, sid) == {"exception"}
        await poll(p, clock, resumed.at, sid)
    assert "exception" not in open_reasons(store, sid)


async def test_returned_supersedes_exception_and_failed_attempt(
    store: Store, sandbox: SandboxServer, clock: SandboxClock
) -> None:
    story = sandbox.story("SBRETURNED1")
    [sid] = add_shipments(store, ["SBRETURNED1"])
    async with Poller(store, sync_settings(sandbox), clock=clock) as p:
        await poll(p, clock, story.first("FA").at, sid)
        assert open_reasons(store, sid) == {"failed_attempt"}
        await poll(p, clock, story.first("RS").at, sid)
    assert open_reasons(store, sid) == {"returned"}


async def test_invalid_tracking_after_not_found_days_cleared_when_found(
    store: Store, clock: SandboxClock
) -> None:
    # The world begins at T0; four days earlier nobody knows the number yet.
    server = SandboxServer(seed=5, clock=clock, spread_hours=0).start()
    try:
        start = T0 - timedelta(days=4)
        [sid] = add_shipments(store, ["SBDELIVERED1"], created_at=start, due=start)
        async with Poller(store, sync_settings(server), clock=clock) as p:
            await poll(p, clock, start, sid)
            assert shipment(store, sid).not_found_since == start
            await poll(p, clock, start + timedelta(days=3) - timedelta(minutes=1), sid)
            assert open_reasons(store, sid) == set()
            await poll(p, clock, start + timedelta(days=3), sid)
            assert open_reasons(store, sid) == {"invalid_tracking"}
            s = shipment(store, sid)
            # Still asked, once a day, in case the number turns up.
            assert s.next_poll_at is not None and s.last_polled_at is not None
            assert s.next_poll_at - s.last_polled_at > timedelta(hours=20)
            await poll(p, clock, T0, sid)
        assert open_reasons(store, sid) == set()
        assert shipment(store, sid).not_found_since is None
    finally:
        server.stop()


class Aggregator(SandboxAdapter):
    """The sandbox standing in for an aggregator that tracks any carrier."""

    code = "agg"
    name = "Aggregator"
    covers = None


async def test_no_provider_shown_then_cleared_when_one_is_configured(
    store: Store, sandbox: SandboxServer, clock: SandboxClock
) -> None:
    [sid] = add_shipments(store, ["1Z999AA10123456784"], carrier="ups")
    async with Poller(store, sync_settings(sandbox), clock=clock) as p:
        counters = await p.run_once()
    assert counters.no_provider == 1
    assert open_reasons(store, sid) == {"no_provider"}
    s = shipment(store, sid)
    assert "[carriers.ups]" in (s.last_error or "")
    assert s.next_poll_at is not None  # looked at again, never dropped
    providers = Providers(
        {"agg": Aggregator(CarrierSettings("agg", {"base_url": sandbox.url}))},
        aggregators=("agg",),
    )
    clock.set(T0 + timedelta(minutes=5))
    async with Poller(store, sync_settings(sandbox), clock=clock, providers=providers) as p:
        counters = await p.run_once()  # a restart with a provider looks again at once
    assert counters.polled == 1
    assert open_reasons(store, sid) == set()
    assert shipment(store, sid).provider == "agg"


async def test_unfulfilled_orders_in_the_sweep(
    store: Store, sandbox: SandboxServer, clock: SandboxClock
) -> None:
    waiting = add_order(store, "#A1")
    add_order(store, "#A2", cancelled_at=T0)
    add_order(store, "#A3", financial_status="refunded")
    add_order(store, "#A4", created_at=T0 - timedelta(days=60))  # history, not work
    due = add_business_days(T0, 2, **BUSINESS)
    async with Poller(store, sync_settings(sandbox), clock=clock) as p:
        clock.set(due - timedelta(minutes=1))
        assert (await p.run_once()).attention_raised == 0
        clock.set(due)
        counters = await p.run_once()
        assert counters.attention_raised == 1
        assert open_reasons(store, order_id=waiting) == {"unfulfilled"}
        with store.read() as s:
            order = s.get(Order, waiting)
            assert order is not None and order.attention == "unfulfilled"
            s.add(Shipment(order_id=waiting, carrier="sandbox", tracking_number="SBDELIVERED9"))
            s.commit()
        counters = await p.run_once()
    assert counters.attention_cleared == 1
    assert open_reasons(store, order_id=waiting) == set()


async def test_the_unfulfilled_sweep_commits_in_batches(
    store: Store, sandbox: SandboxServer, clock: SandboxClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A first sweep over a backlog of old orders commits batch by batch: a batch's
    items are in the store before the next batch runs (so a crash mid-sweep keeps
    them, and the write lock is never held for the whole backlog)."""
    import sync.poller as poller_mod
    from sync import tracking_attention

    monkeypatch.setattr(poller_mod, "SWEEP_BATCH", 2, raising=False)
    waiting = [add_order(store, f"#B{i}") for i in range(5)]
    recent = add_order(store, "#B9", created_at=T0 + timedelta(days=5))  # not due yet
    seen: list[int] = []
    real = tracking_attention.sweep_unfulfilled

    def spy(conn, settings, now, **kw):  # type: ignore[no-untyped-def]
        with store.read_connection() as other:  # what earlier batches committed
            seen.append(
                other.execute(sa.select(sa.func.count()).select_from(AttentionItem)).scalar_one()
            )
        return real(conn, settings, now, **kw)

    monkeypatch.setattr(tracking_attention, "sweep_unfulfilled", spy)
    async with Poller(store, sync_settings(sandbox), clock=clock) as p:
        clock.set(add_business_days(T0, 2, **BUSINESS))
        counters = await p.run_once()
    assert counters.attention_raised == 5
    assert seen == [0, 2, 4]
    assert all(open_reasons(store, order_id=o) == {"unfulfilled"} for o in waiting)
    assert open_reasons(store, order_id=recent) == set()


async def test_a_persons_resolution_is_not_undone(
    store: Store, sandbox: SandboxServer, clock: SandboxClock
) -> None:
    story = sandbox.story("SBMISSED1")
    eta = story.etas[0].eta
    assert eta is not None
    [sid] = add_shipments(store, ["SBMISSED1"])
    async with Poller(store, sync_settings(sandbox), clock=clock) as p:
        await poll(p, clock, eta + timedelta(hours=13), sid)
        with store.write_connection() as conn:
            item_id = conn.execute(sa.select(AttentionItem.id)).scalar_one()
            attention.resolve(conn, item_id, by="alice", now=clock.now())
        await poll(p, clock, eta + timedelta(hours=14), sid)
    assert open_reasons(store, sid) == set()
    with store.read() as s:
        assert s.execute(sa.select(sa.func.count()).select_from(AttentionItem)).scalar_one() == 1
