"""A pass that holds its claim longer than one lease (a rate limit shared by several
workers makes each one slow) renews its leases, so no other worker polls the same
shipments; and what another worker did take over is not asked about again."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import sqlalchemy as sa

from store.engine import Store
from store.models import Shipment
from sync import leases
from sync.poller import Poller
from sync.sandbox import SandboxClock, SandboxServer

from .conftest import T0, add_shipments, sync_settings, with_poll

_shipments = Shipment.__table__  # type: ignore[attr-defined]

LEASE = 0.6
#: Requests a second; one number each: the pass lasts several leases.
RATE = 5.0


def _settings(sandbox: SandboxServer) -> object:
    return with_poll(
        sync_settings(sandbox, batch_size=1, rate_limit=RATE), lease_seconds=LEASE, concurrency=1
    )


async def test_a_slow_pass_keeps_its_leases(store: Store, sandbox: SandboxServer) -> None:
    clock = SandboxClock(T0, speed=1.0)  # leases run out on a moving clock
    sandbox.clock.set(T0)
    numbers = [f"SBDELIVERED{i}" for i in range(8)]
    add_shipments(store, numbers)
    async with Poller(store, _settings(sandbox), clock=clock, worker_id="slow") as slow:  # type: ignore[arg-type]
        run = asyncio.create_task(slow.run_once())
        await asyncio.sleep(LEASE * 2.5)
        assert not run.done()
        with store.write_connection() as conn:
            taken = leases.claim_due(
                conn,
                owner="other",
                now=clock.now(),
                lease=timedelta(seconds=60),
                limit=100,
                due_before=clock.now(),
            )
        counters = await run
    assert taken == []  # all still held (or done) by the slow worker
    assert counters.polled == len(numbers)
    assert max(sandbox.stats.lookups()[n].__len__() for n in numbers) == 1


async def test_shipments_taken_over_are_not_asked_about(
    store: Store, sandbox: SandboxServer
) -> None:
    clock = SandboxClock(T0, speed=1.0)
    sandbox.clock.set(T0)
    numbers = [f"SBDELIVERED{i}" for i in range(12)]
    ids = add_shipments(store, numbers)
    async with Poller(store, _settings(sandbox), clock=clock, worker_id="stalled") as p:  # type: ignore[arg-type]
        run = asyncio.create_task(p.run_once())
        while not sandbox.stats.lookups():
            await asyncio.sleep(0.01)
        # Another worker took over the rest, as if this one had stalled past its leases.
        with store.write_connection() as conn:
            stolen = set(
                conn.execute(
                    sa.update(_shipments)
                    .where(_shipments.c.id.in_(ids), _shipments.c.last_polled_at.is_(None))
                    .values(lease_owner="other")
                    .returning(_shipments.c.tracking_number)
                ).scalars()
            )
        await run
    asked = set(sandbox.stats.lookups())
    assert len(stolen) >= 8
    # At most what was sent before the next renewal noticed (a third of a lease).
    assert len(stolen & asked) <= 3
    with store.read_connection() as conn:
        owners = set(
            conn.execute(
                sa.select(_shipments.c.lease_owner).where(_shipments.c.tracking_number.in_(stolen))
            ).scalars()
        )
    assert owners == {"other"}  # the stalled worker wrote nothing over them
