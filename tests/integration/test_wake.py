"""New work wakes the poller within a second or so, not at its next timer (30 s)."""

from __future__ import annotations

import asyncio
import time

from sqlmodel import select

from store import changes
from store.engine import Store
from store.models import Shipment
from sync.assembly import PollerPart
from sync.sandbox import SandboxClock, SandboxServer
from tests.notify.conftest import settings
from tests.tracking.conftest import add_shipments, sync_settings


async def _polled(store: Store, shipment_id: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with store.read() as s:
            shipment = s.get(Shipment, shipment_id)
            if shipment is not None and shipment.last_polled_at is not None:
                return True
        await asyncio.sleep(0.1)
    return False


async def test_poll_now_from_another_connection_wakes_an_idle_poller(
    store: Store, sandbox: SandboxServer, clock: SandboxClock
) -> None:
    part = PollerPart(store, sync_settings(sandbox), settings(), clock=clock)
    stop = asyncio.Event()
    task = asyncio.create_task(part.run(stop))
    try:
        await asyncio.sleep(1.5)  # the poller found nothing due and went to sleep for 30 s
        [shipment_id] = add_shipments(store, ["SBDELIVERED7"], due=None)
        with store.write_connection() as conn:
            conn.execute(
                Shipment.__table__.update()  # type: ignore[attr-defined]
                .where(Shipment.__table__.c.id == shipment_id)  # type: ignore[attr-defined]
                .values(next_poll_at=clock.now())
            )
            changes.record(conn, "poll_now", None)
        assert await _polled(store, shipment_id, timeout=10), "the poller was not woken"
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=30)
    with store.read() as s:
        assert s.exec(select(Shipment)).one().status != "pending"
