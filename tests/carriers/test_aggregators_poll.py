"""One end-to-end poll per aggregator: the real poller, a real store, a loopback provider.

A shipment falls due; the poller picks the aggregator from ``[tracking]
aggregators``, the adapter speaks HTTP to a server answering in the provider's
documented shape, and the store ends up with the status, the events, the
estimate and the provider's id for the next poll.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

pytest.importorskip("sync.poller", reason="the poller has not landed on this branch")

import sqlalchemy as sa

from store.engine import Store
from store.models import Order, Shipment, TrackingEvent
from store.types import utcnow
from sync.carriers.aftership import AfterShipAdapter
from sync.carriers.easypost import EasyPostAdapter
from sync.carriers.shippo import ShippoAdapter
from sync.carriers.track17 import Track17Adapter
from sync.poller import Poller
from sync.settings import CarrierSettings, SyncSettings, TrackingSettings
from tests.carriers import test_aftership as aftership
from tests.carriers import test_easypost as easypost
from tests.carriers import test_shippo as shippo
from tests.carriers import test_track17 as track17
from tests.carriers.aggregator_support import KEY
from tests.carriers.recording_server import Recorded, Reply, serving


def ago(hours: float, fmt: str = "%Y-%m-%dT%H:%M:%SZ") -> str:
    """A scan time this many hours ago (the poller expires parcels silent for weeks)."""
    return (utcnow() - timedelta(hours=hours)).strftime(fmt)


def aftership_handler(request: Recorded) -> Reply:
    scans = [
        aftership.checkpoint(ago(30), "InfoReceived", "InfoReceived_001"),
        aftership.checkpoint(ago(20), "InTransit", "InTransit_007",
                             city="Ontario", state="CA", country_region="USA"),
    ]  # fmt: skip
    body = aftership.tracking(
        checkpoints=scans, latest_estimated_delivery={"datetime": "2030-05-04"}
    )
    return Reply(201, aftership.envelope(body, 201))


def track17_handler() -> Any:
    events = [
        track17.event(ago(30), "InfoReceived", "Order information received"),
        track17.event(ago(20), "InTransit_Departure", "Departed"),
    ]
    eta = {"source": "Official", "from": "2030-05-03", "to": "2030-05-04"}
    return track17.Provider({NUMBER: track17.info(NUMBER, carrier=100002, events=events, eta=eta)})


def easypost_handler(request: Recorded) -> Reply:
    details = [
        easypost.detail(ago(30), "pre_transit", "label_created", "Label created"),
        easypost.detail(ago(20), "in_transit", "departed_facility", "Departed"),
    ]
    body = easypost.tracker(carrier="UPS", tracking_code=NUMBER, tracking_details=details,
                            est_delivery_date="2030-05-04T23:59:59Z")  # fmt: skip
    return Reply(201, body)


def shippo_handler(request: Recorded) -> Reply:
    history = [
        shippo.status("PRE_TRANSIT", "information_received", ago(30)),
        shippo.status("TRANSIT", "package_departed", ago(20), city="Louisville", state="KY"),
    ]
    body = shippo.track_object(history=history, carrier="ups", tracking_number=NUMBER,
                               eta="2030-05-04T23:59:59Z", original_eta="2030-05-04T23:59:59Z")  # fmt: skip
    return Reply(200, body)


NUMBER = "1Z999AA10123456784"
CASES = {
    AfterShipAdapter: (lambda: aftership_handler, "kponlnb1w64fmlxlakyln00l"),
    Track17Adapter: (track17_handler, "100002"),
    EasyPostAdapter: (lambda: easypost_handler, easypost.TRK),
    ShippoAdapter: (lambda: shippo_handler, None),
}


def add_shipment(store: Store) -> int:
    now = utcnow()
    with store.write() as session:
        order = Order(
            source="shop", external_id="1001", number="#1001", created_at=now - timedelta(days=2)
        )
        session.add(order)
        session.flush()
        shipment = Shipment(
            order_id=order.id, carrier="ups", tracking_number=NUMBER, shipped_at=now - timedelta(days=1),
            next_poll_at=now - timedelta(minutes=1),
        )  # fmt: skip
        session.add(shipment)
        session.flush()
        assert shipment.id is not None
        return shipment.id


@pytest.mark.parametrize("cls", list(CASES), ids=lambda cls: cls.code)
async def test_one_poll_through_the_real_poller(store: Store, cls: type) -> None:
    make_handler, provider_ref = CASES[cls]
    shipment_id = add_shipment(store)
    with serving(make_handler()) as server:
        options = {"api_key": KEY, "base_url": server.url, "rate_limit": 1000.0}
        tracking = TrackingSettings(
            aggregators=(cls.code,), carriers={cls.code: CarrierSettings(cls.code, options)}
        )
        async with Poller(store, SyncSettings(tracking=tracking)) as poller:
            counters = await poller.run_once()
    assert counters.polled == 1 and counters.failed == 0, counters
    with store.read() as session:
        shipment = session.get(Shipment, shipment_id)
        assert shipment is not None
        events = session.exec(
            sa.select(TrackingEvent).where(TrackingEvent.shipment_id == shipment_id)  # type: ignore[arg-type]
        ).all()
    assert shipment.provider == cls.code
    assert shipment.status == "in_transit"
    assert shipment.provider_ref == provider_ref
    assert shipment.estimated_delivery is not None and shipment.estimated_delivery.year == 2030
    assert shipment.next_poll_at is not None and shipment.next_poll_at > utcnow()
    assert len(events) == 2
    assert KEY not in (shipment.last_error or "")
    assert server.requests, "the adapter never called the provider"
