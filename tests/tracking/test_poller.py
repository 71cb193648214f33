"""The poller against a real sandbox on loopback, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from notifiers.changes import AttentionRaised, Change, ShipmentChange
from store.engine import Store
from store.models import ChangeLog, EtaRevision, Order, Shipment, TrackingEvent
from store.statuses import ShipmentStatus as S
from sync.carriers.sandbox import STATUS_MAP
from sync.poller import Poller
from sync.sandbox import SandboxClock, SandboxServer

from .conftest import (
    T0,
    add_shipments,
    at,
    events,
    open_reasons,
    shipment,
    sync_settings,
)


def poller(store: Store, sandbox: SandboxServer, clock: SandboxClock, **kw: Any) -> Poller:
    settings = kw.pop("settings", None) or sync_settings(sandbox)
    return Poller(store, settings, clock=clock, **kw)


async def poll_at(p: Poller, clock: SandboxClock, when: Any, ids: list[int]) -> Any:
    clock.set(when)
    return await p.poll_shipments(ids)


async def test_a_life_is_stored_scan_by_scan(
    store: Store, sandbox: SandboxServer, clock: SandboxClock
) -> None:
    story = sandbox.story("SBFAILED1")
    [sid] = add_shipments(store, ["SBFAILED1"])
    async with poller(store, sandbox, clock) as p:
        for index, event in enumerate(story.events):
            await poll_at(p, clock, event.at, [sid])
            stored = events(store, sid)
            assert [e.raw["code"] for e in stored if e.raw] == [
                e.code for e in story.events[: index + 1]
            ]
            s = shipment(store, sid)
            assert s.status == STATUS_MAP[event.code].value
            assert s.last_scan_at == event.at
            assert s.lease_owner is None and s.lease_until is None
    s = shipment(store, sid)
    assert s.status == S.DELIVERED
    assert s.delivered_at == story.first("DL").at
    assert s.first_scan_at == story.first("PU").at
    assert s.shipped_at == story.first("LC").at
    assert s.next_poll_at is None  # delivered: never polled again
    first, revised = story.etas
    assert s.original_estimated_delivery == first.eta
    assert s.estimated_delivery == revised.eta
    with store.read() as session:
        revisions = session.execute(
            sa.select(EtaRevision.estimated_delivery).where(EtaRevision.shipment_id == sid)  # type: ignore[arg-type]
        ).scalars()
        assert sorted(revisions) == sorted([first.eta, revised.eta])
        order = session.get(Order, s.order_id)
        assert order is not None and order.status == S.DELIVERED


async def test_no_duplicate_events_over_repeated_polls(
    store: Store, sandbox: SandboxServer, clock: SandboxClock
) -> None:
    story = sandbox.story("SBDELIVERED1")
    [sid] = add_shipments(store, ["SBDELIVERED1"])
    seen: list[Change] = []
    async with poller(store, sandbox, clock, on_changes=lambda _c, ch: seen.extend(ch)) as p:
        first = await poll_at(p, clock, story.first("OD").at, [sid])
        count = len(events(store, sid))
        assert first.counters.events_new == count > 3
        seen.clear()
        for _ in range(3):
            again = await p.poll_shipments([sid])
            assert again.counters.events_new == 0
        assert len(events(store, sid)) == count
        assert seen == []
        with store.read() as session:
            hashes = (
                session.execute(
                    sa.select(TrackingEvent.dedupe_hash).where(TrackingEvent.shipment_id == sid)  # type: ignore[arg-type]
                )
                .scalars()
                .all()
            )
        assert len(hashes) == len(set(hashes))


async def test_run_once_polls_what_is_due_and_only_that(
    store: Store, sandbox: SandboxServer, clock: SandboxClock
) -> None:
    due, later, stopped, unscheduled = add_shipments(
        store, ["SBDELIVERED1", "SBDELIVERED2", "SBDELIVERED3", "SBDELIVERED4"]
    )
    with store.write() as s:
        s.get(Shipment, later).next_poll_at = T0 + timedelta(hours=1)  # type: ignore[union-attr]
        st = s.get(Shipment, stopped)
        assert st is not None
        st.next_poll_at, st.last_polled_at = None, T0 - timedelta(days=1)
        s.get(Shipment, unscheduled).next_poll_at = None  # type: ignore[union-attr]
    async with poller(store, sandbox, clock) as p:
        counters = await p.run_once()
    assert counters.claimed == counters.polled == 2
    assert shipment(store, due).last_polled_at == T0
    assert shipment(store, unscheduled).last_polled_at == T0  # never scheduled: adopted
    assert shipment(store, later).last_polled_at is None
    assert shipment(store, stopped).last_polled_at == T0 - timedelta(days=1)
    assert shipment(store, due).next_poll_at > T0  # type: ignore[operator]


async def test_batches_follow_the_adapters_batch_size(
    store: Store, sandbox: SandboxServer, clock: SandboxClock
) -> None:
    add_shipments(store, [f"SBDELIVERED{i}" for i in range(12)])
    settings = sync_settings(sandbox, batch_size=5)
    async with Poller(store, settings, clock=clock) as p:
        counters = await p.run_once()
    assert counters.polled == 12
    assert counters.requests == sandbox.stats.as_dict()["requests"] == 3
    assert sandbox.stats.numbers == 12


async def test_the_hook_hears_exactly_what_changed(
    store: Store, sandbox: SandboxServer, clock: SandboxClock
) -> None:
    story = sandbox.story("SBFAILED1")
    [sid] = add_shipments(store, ["SBFAILED1"])
    order_id = shipment(store, sid).order_id
    heard: list[list[Change]] = []

    def hook(conn: sa.Connection, changes: list[Change]) -> None:
        # Inside the transaction: the shipment row already shows the new state.
        for change in changes:
            if isinstance(change, ShipmentChange):
                status = conn.execute(
                    sa.select(Shipment.status).where(Shipment.id == change.shipment_id)  # type: ignore[arg-type]
                ).scalar_one()
                assert status == change.new_status
        heard.append(changes)

    eta0, eta1 = (c.eta for c in story.etas)
    pickup, attempt = story.first("PU").at, story.first("FA").at
    second_round = [e for e in story.events if e.code == "OD"][1].at
    delivered = story.first("DL").at
    async with poller(store, sandbox, clock, on_changes=hook) as p:
        for moment in (story.created, story.created, pickup, attempt, second_round, delivered):
            await poll_at(p, clock, moment, [sid])

    def latest_id(upto: Any) -> int:
        return max(
            (e for e in events(store, sid) if e.occurred_at <= upto), key=lambda e: e.occurred_at
        ).id  # type: ignore[return-value]

    def change(old: str | None, new: str, old_eta: Any, new_eta: Any, when: Any) -> ShipmentChange:
        return ShipmentChange(order_id, sid, when, old, new, old_eta, new_eta, latest_id(when))

    items = [i for i in heard]
    assert items[0] == [change(None, "info_received", None, None, story.created)]
    assert items[1] == [change("info_received", "in_transit", None, eta0, pickup)]
    # the repeat at the same moment said nothing
    fa = items[2]
    assert fa[0] == change("in_transit", "failed_attempt", eta0, eta1, attempt)
    assert isinstance(fa[1], AttentionRaised)
    assert (fa[1].reason, fa[1].shipment_id, fa[1].order_id, fa[1].at) == (
        "failed_attempt",
        sid,
        order_id,
        attempt,
    )
    assert fa[1].detail == story.first("FA").detail and fa[1].attention_item_id
    assert items[3] == [change("failed_attempt", "out_for_delivery", eta1, eta1, second_round)]
    assert items[4] == [change("out_for_delivery", "delivered", eta1, eta1, delivered)]
    assert len(items) == 5


async def test_delivered_when_first_seen(
    store: Store, sandbox: SandboxServer, clock: SandboxClock
) -> None:
    story = sandbox.story("SBDELIVERED1")
    [sid] = add_shipments(store, ["SBDELIVERED1"])
    heard: list[Change] = []
    async with poller(store, sandbox, clock, on_changes=lambda _c, ch: heard.extend(ch)) as p:
        await poll_at(p, clock, at(story.first("DL").at), [sid])
    [only] = heard
    assert isinstance(only, ShipmentChange)
    assert only.old_status is None and only.new_status == "delivered"
    assert only.delivered_when_first_seen


async def test_a_failing_hook_rolls_back_only_its_shipment(
    store: Store, sandbox: SandboxServer, clock: SandboxClock
) -> None:
    bad, good = add_shipments(store, ["SBDELIVERED1", "SBDELIVERED2"])

    def hook(_conn: sa.Connection, changes: list[Change]) -> None:
        if any(getattr(c, "shipment_id", None) == bad for c in changes):
            raise RuntimeError("the rules fell over")

    async with poller(store, sandbox, clock, on_changes=hook) as p:
        counters = await p.run_once()
    assert counters.store_errors == 1
    broken = shipment(store, bad)
    assert events(store, bad) == []
    assert broken.status == S.PENDING
    assert broken.lease_owner is None and broken.poll_failures == 1
    assert "the rules fell over" in (broken.last_error or "")
    assert broken.next_poll_at is not None and broken.next_poll_at > T0
    assert shipment(store, good).status == S.INFO_RECEIVED
    assert events(store, good)


async def test_leased_shipments_are_left_alone(
    store: Store, sandbox: SandboxServer, clock: SandboxClock
) -> None:
    [sid] = add_shipments(store, ["SBDELIVERED1"])
    with store.write() as s:
        row = s.get(Shipment, sid)
        assert row is not None
        row.lease_owner, row.lease_until = "other@host", T0 + timedelta(minutes=2)
    async with poller(store, sandbox, clock) as p:
        assert (await p.run_once()).claimed == 0
        busy = await p.poll_shipments([sid])
        assert busy.busy == [sid] and busy.reports == []
        clock.set(T0 + timedelta(minutes=3))  # the other worker's lease ran out
        assert (await p.run_once()).claimed == 1
    assert shipment(store, sid).lease_owner is None


async def test_two_pollers_never_poll_the_same_shipment(
    store: Store, sandbox: SandboxServer, clock: SandboxClock
) -> None:
    add_shipments(store, [f"SBDELIVERED{i}" for i in range(40)])
    settings = sync_settings(sandbox, batch_size=1)
    async with (
        Poller(store, settings, clock=clock, claim_size=7) as a,
        Poller(store, settings, clock=clock, claim_size=7) as b,
    ):
        first, second = await asyncio.gather(a.run_once(), b.run_once())
    assert first.claimed + second.claimed == 40
    assert first.polled + second.polled == 40
    assert sandbox.stats.numbers == 40
    with store.read() as s:
        assert (
            s.execute(
                sa.select(sa.func.count())
                .select_from(Shipment)
                .where(Shipment.last_polled_at.is_(None))
            ).scalar()
            == 0
        )  # type: ignore[union-attr]


async def test_no_news_for_expire_days_expires(
    store: Store, sandbox: SandboxServer, clock: SandboxClock
) -> None:
    label, unknown = add_shipments(store, ["SBNOPICKUP1", "SBUNKNOWN1"])
    heard: list[Change] = []
    async with poller(store, sandbox, clock, on_changes=lambda _c, ch: heard.extend(ch)) as p:
        await poll_at(p, clock, T0, [label, unknown])
        heard.clear()
        await poll_at(p, clock, T0 + timedelta(days=30, minutes=1), [label, unknown])
    for sid in (label, unknown):
        s = shipment(store, sid)
        assert s.status == S.EXPIRED
        assert s.next_poll_at is None
    expired = [c for c in heard if isinstance(c, ShipmentChange)]
    assert {(c.shipment_id, c.old_status, c.new_status) for c in expired} == {
        (label, "info_received", "expired"),
        (unknown, "pending", "expired"),
    }


async def test_the_board_summary_and_change_feed_follow(
    store: Store, sandbox: SandboxServer, clock: SandboxClock
) -> None:
    story = sandbox.story("SBDELIVERED1")
    [sid] = add_shipments(store, ["SBDELIVERED1"])
    order_id = shipment(store, sid).order_id

    def feed() -> int:
        with store.read() as s:
            return int(
                s.execute(
                    sa.select(sa.func.count())
                    .select_from(ChangeLog)
                    .where(ChangeLog.order_id == order_id)  # type: ignore[arg-type]
                ).scalar_one()
            )

    async with poller(store, sandbox, clock) as p:
        await poll_at(p, clock, story.first("OD").at, [sid])
        assert feed() == 1
        await p.poll_shipments([sid])  # nothing new: nothing to tell the screens
        assert feed() == 1
    with store.read() as s:
        order = s.get(Order, order_id)
        assert order is not None
        assert (order.status, order.carrier, order.tracking_number) == (
            "out_for_delivery",
            "sandbox",
            "SBDELIVERED1",
        )
        assert order.last_scan_at == story.first("OD").at
        assert order.estimated_delivery == story.etas[0].eta


async def test_carrier_state_records_health(
    store: Store, sandbox: SandboxServer, clock: SandboxClock
) -> None:
    add_shipments(store, ["SBDELIVERED1", "SBDELIVERED2"])
    settings = sync_settings(sandbox, batch_size=1)
    async with Poller(store, settings, clock=clock) as p:
        await p.run_once()
    from store.models import CarrierState

    with store.read() as s:
        state = s.get(CarrierState, "sandbox")
        assert state is not None
        assert (state.circuit, state.auth_error, state.requests) == ("closed", None, 2)
        assert state.last_success_at == T0


async def test_the_return_stops_polling(
    store: Store, sandbox: SandboxServer, clock: SandboxClock
) -> None:
    story = sandbox.story("SBRETURNED1")
    [sid] = add_shipments(store, ["SBRETURNED1"])
    async with poller(store, sandbox, clock) as p:
        await poll_at(p, clock, at(story.first("RS").at), [sid])
    s = shipment(store, sid)
    assert (s.status, s.substatus) == ("exception", "returning to sender")
    assert s.next_poll_at is None
    assert open_reasons(store, sid) == {"returned"}


async def test_stop_ends_a_pass_early_and_releases_what_it_held(
    store: Store, sandbox: SandboxServer, clock: SandboxClock
) -> None:
    ids = add_shipments(store, [f"SBDELIVERED{i}" for i in range(30)])
    settings = sync_settings(sandbox, batch_size=1, rate_limit=20.0)
    stop = asyncio.Event()
    async with Poller(store, settings, clock=clock) as p:
        task = asyncio.create_task(p.run_once(stop=stop))
        while sandbox.stats.numbers < 3:
            await asyncio.sleep(0.01)
        stop.set()
        counters = await task
    assert counters.polled < 30
    assert counters.polled + counters.skipped + counters.failed == counters.claimed
    with store.read() as s:
        leased = s.execute(
            sa.select(sa.func.count())
            .select_from(Shipment)
            .where(Shipment.lease_owner.is_not(None))  # type: ignore[union-attr]
        ).scalar_one()
    assert leased == 0
    assert len(ids) == 30


async def test_the_long_running_loop_polls_wakes_and_stops(
    store: Store, sandbox: SandboxServer, clock: SandboxClock
) -> None:
    [first] = add_shipments(store, ["SBDELIVERED1"])
    passes: list[Any] = []
    stop = asyncio.Event()

    async def until(condition: Any) -> None:
        for _ in range(500):
            if condition():
                return
            await asyncio.sleep(0.01)
        raise AssertionError("waited in vain")

    async with poller(store, sandbox, clock) as p:
        task = asyncio.create_task(p.run(stop, max_idle=30, on_pass=passes.append))
        await until(lambda: passes and passes[0]["polled"] == 1)
        # The clock stands still, so nothing else falls due: the loop sleeps until woken.
        [second] = add_shipments(store, ["SBDELIVERED2"])
        p.wake()
        await until(lambda: shipment(store, second).last_polled_at is not None)
        stop.set()
        await asyncio.wait_for(task, 10)
    assert shipment(store, first).status == "info_received"
    assert dict(passes[0])["claimed"] == 1
    assert p.totals.polled == 2
