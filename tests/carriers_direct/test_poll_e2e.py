"""One end-to-end poll per direct adapter: the real poller, a real store (SQLite
and PostgreSQL), the adapter talking to a loopback server in its carrier's
documented shape -- token endpoint included for the OAuth carriers. Polled twice
with a revised estimate: the events are stored once, the first estimate stays
the original, and the revision is recorded."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

pytest.importorskip("sync.poller", reason="the poller has not landed on this branch")

import sqlalchemy as sa

from store.engine import Store
from store.models import EtaRevision, Order, Shipment, TrackingEvent
from store.types import utcnow
from sync.poller import Poller
from sync.settings import CarrierSettings, SyncSettings, TrackingSettings
from tests.carriers_direct import payloads as p
from tests.carriers_direct.loopback import API_KEY, CLIENT_ID, CLIENT_SECRET, Loopback, Reply

#: Scan times are recent (the poller expires parcels silent for weeks) and the
#: same on both polls, to the second.
NOW = utcnow().replace(microsecond=0)


def ago(hours: float) -> Any:
    return NOW - timedelta(hours=hours)


def ups(number: str, eta: Any) -> Any:
    activities = [
        p.ups_activity("I", "AR", "Arrived at Facility", date=f"{ago(20):%Y%m%d}",
                       time="000000", gmt=(f"{ago(20):%Y%m%d}", f"{ago(20):%H%M%S}", "+00:00")),
        p.ups_activity("M", "MP", "Shipper created a label", date=f"{ago(30):%Y%m%d}",
                       time="000000", gmt=(f"{ago(30):%Y%m%d}", f"{ago(30):%H%M%S}", "+00:00")),
    ]  # fmt: skip
    return p.ups_body(number, activities, delivery_dates=[("SDD", f"{eta:%Y%m%d}")])


def fedex(number: str, eta: Any) -> Any:
    scans = [
        p.fedex_scan("AR", "Arrived at FedEx location", date=ago(20).isoformat()),
        p.fedex_scan("OC", "Shipment information sent to FedEx", date=ago(30).isoformat()),
    ]
    return p.fedex_body(
        p.fedex_result(number, scans, latest="IT", dates=[("ESTIMATED_DELIVERY", eta.isoformat())])
    )


def usps(number: str, eta: Any) -> Any:
    events = [
        p.usps_event("07", "Arrival at Unit", gmt=f"{ago(20):%Y-%m-%dT%H:%M:%SZ}"),
        p.usps_event("MA", "Pre-Shipment Info Sent", gmt=f"{ago(30):%Y-%m-%dT%H:%M:%SZ}"),
    ]
    return p.usps_body(number, events, expected=f"{eta:%Y-%m-%dT%H:%M:%S}Z")


def dhl(number: str, eta: Any) -> Any:
    events = [
        p.dhl_event("transit", "", "Arrived at the sort facility", stamp=ago(20).isoformat()),
        p.dhl_event("pre-transit", "", "Electronic notification", stamp=ago(30).isoformat()),
    ]
    return p.dhl_body(number, events, eta=eta.isoformat())


CASES: dict[str, tuple[str, str, str, Callable[[str, Any], Any]]] = {
    "ups": ("1Z999AA10123456784", "GET", "/api/track/v1/details/*", ups),
    "fedex": ("794843185271", "POST", "/track/v1/trackingnumbers", fedex),
    "usps": ("9400111899223397910390", "GET", "/tracking/v3/tracking/*", usps),
    "dhl": ("00340434292135100186", "GET", "/track/shipments", dhl),
}
TOKEN_PATHS = {"ups": "/security/v1/oauth/token", "fedex": "/oauth/token",
               "usps": "/oauth2/v3/token"}  # fmt: skip


def add_shipment(store: Store, carrier: str, number: str) -> int:
    now = utcnow()
    with store.write() as session:
        order = Order(source="shop", external_id="1001", number="#1001",
                      created_at=now - timedelta(days=2))  # fmt: skip
        session.add(order)
        session.flush()
        shipment = Shipment(order_id=order.id, carrier=carrier, tracking_number=number,
                            shipped_at=now - timedelta(days=1),
                            next_poll_at=now - timedelta(minutes=1))  # fmt: skip
        session.add(shipment)
        session.flush()
        assert shipment.id is not None
        return shipment.id


@pytest.mark.parametrize("carrier", list(CASES))
async def test_one_poll_through_the_real_poller(
    carrier: str, store: Store, server: Loopback
) -> None:
    number, method, path, body = CASES[carrier]
    options: dict[str, Any] = {"base_url": server.url, "rate_limit": 1000.0}
    if carrier in TOKEN_PATHS:
        server.token_path = TOKEN_PATHS[carrier]
        options.update(client_id=CLIENT_ID, client_secret=CLIENT_SECRET)
    else:
        options["api_key"] = API_KEY
    first_eta = NOW + timedelta(days=3)
    revised_eta = first_eta + timedelta(days=2)
    server.on(method, path, Reply(200, body(number, first_eta)))
    shipment_id = add_shipment(store, carrier, number)
    tracking = TrackingSettings(carriers={carrier: CarrierSettings(carrier, options)})

    async with Poller(store, SyncSettings(tracking=tracking)) as poller:
        first = await poller.run_once()
        server.on(method, path, Reply(200, body(number, revised_eta)))
        await poller.poll_shipments([shipment_id])

    assert first.polled == 1 and first.failed == 0, first
    with store.read() as session:
        shipment = session.get(Shipment, shipment_id)
        assert shipment is not None
        events = session.exec(
            sa.select(TrackingEvent).where(TrackingEvent.shipment_id == shipment_id)  # type: ignore[arg-type]
        ).all()
        revisions = session.exec(
            sa.select(EtaRevision).where(EtaRevision.shipment_id == shipment_id)  # type: ignore[arg-type]
        ).all()
    assert shipment.provider == carrier
    assert shipment.status == "in_transit"
    assert len(events) == 2  # polled twice, stored once
    assert shipment.original_estimated_delivery is not None
    assert shipment.estimated_delivery is not None
    assert shipment.estimated_delivery > shipment.original_estimated_delivery
    assert revisions
    for secret in (CLIENT_SECRET, API_KEY, "token-1"):
        assert secret not in (shipment.last_error or "")
    assert server.calls(path.rstrip("*")), "the adapter never called the carrier"
    if carrier in TOKEN_PATHS:
        assert server.tokens_issued == 1  # one token served both polls
