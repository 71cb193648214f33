"""DHL Shipment Tracking - Unified against a loopback server in DHL's documented shape."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from store.statuses import ShipmentStatus as S
from sync.carriers.base import NotFound, TrackRequest
from sync.carriers.dhl import STATUS_CODES, DhlAdapter
from tests.carriers_direct import payloads as p
from tests.carriers_direct.loopback import API_KEY, Loopback, Reply

N = "00340434292135100186"
PATH = "/track/shipments"


def serve(server: Loopback, body: Any, status: int = 200) -> None:
    server.on("GET", PATH, Reply(status, body))


async def one(adapter: DhlAdapter, **request: Any) -> Any:
    [result] = await adapter.track([TrackRequest(N, **request)])
    return result


async def test_sends_the_documented_request(server: Loopback, build: Any) -> None:
    serve(server, p.dhl_body(N, [p.dhl_event("transit")]))
    adapter = build(DhlAdapter)
    await one(adapter, carrier="dhl", destination_zip="75001")
    await one(adapter, carrier="deutsche_post")
    first, second = server.calls(PATH)
    assert first.header("dhl-api-key") == API_KEY
    assert first.query == {
        "trackingNumber": [N],
        "language": ["en"],
        "service": ["express"],
        "recipientPostalCode": ["75001"],
    }
    assert "service" not in second.query  # DHL searches every division
    assert DhlAdapter.batch_size == 1
    assert DhlAdapter.default_rate_limit == 1.0


DOCUMENTED = {
    "pre-transit": S.INFO_RECEIVED, "transit": S.IN_TRANSIT, "delivered": S.DELIVERED,
    "failure": S.EXCEPTION, "unknown": S.PENDING,
}  # fmt: skip


async def test_every_documented_status_code_maps(server: Loopback, build: Any) -> None:
    assert set(STATUS_CODES) == set(DOCUMENTED)
    events = [
        p.dhl_event(code, "", f"event {code}", stamp=f"2024-01-10T1{i}:00:00+01:00")
        for i, code in enumerate(DOCUMENTED)
    ]
    serve(server, p.dhl_body(N, events))
    result = await one(build(DhlAdapter))
    by_text = {e.description: e.status for e in result.events}
    for code, status in DOCUMENTED.items():
        assert by_text[f"event {code}"] is status, code
    assert len(result.events) == len(DOCUMENTED)


@pytest.mark.parametrize(
    "code,description,expected",
    [
        ("transit", "The shipment is out for delivery", S.OUT_FOR_DELIVERY),
        ("transit", "The shipment is ready for pick-up at the PACKSTATION", S.AVAILABLE_FOR_PICKUP),
        ("failure", "Delivery attempt: recipient not at home", S.FAILED_ATTEMPT),
        ("failure", "The shipment has been damaged", S.EXCEPTION),
        ("delivered", "Delivered. Out for delivery earlier today", S.DELIVERED),
    ],
)
async def test_text_refines_the_coarse_status_codes(
    code: str, description: str, expected: S, server: Loopback, build: Any
) -> None:
    serve(server, p.dhl_body(N, [p.dhl_event(code, "", description)]))
    result = await one(build(DhlAdapter))
    assert result.events[0].status is expected
    assert result.status is expected


async def test_returned_to_sender(server: Loopback, build: Any) -> None:
    serve(
        server,
        p.dhl_body(N, [p.dhl_event("transit", "", "The shipment is being returned to the sender")]),
    )
    assert (await one(build(DhlAdapter))).returned


async def test_unknown_code_is_in_transit_and_logged_once(
    server: Loopback, build: Any, caplog: pytest.LogCaptureFixture
) -> None:
    serve(server, p.dhl_body(N, [p.dhl_event("teleported")]))
    adapter = build(DhlAdapter)
    assert (await one(adapter)).events[0].status is S.IN_TRANSIT
    await one(adapter)
    lines = [r.getMessage() for r in caplog.records]
    assert len([m for m in lines if "unknown status code 'teleported'" in m]) == 1


async def test_an_empty_history(server: Loopback, build: Any) -> None:
    serve(server, p.dhl_body(N, []))
    result = await one(build(DhlAdapter))
    assert result.events == []
    assert result.status is S.PENDING


async def test_not_found(server: Loopback, build: Any) -> None:
    serve(
        server,
        p.dhl_problem(404, "No result found", "No shipment with given tracking number found."),
        404,
    )
    result = await one(build(DhlAdapter))
    assert isinstance(result.error, NotFound)
    assert "No shipment with given tracking number found" in str(result.error)
    serve(server, {"shipments": []})
    assert isinstance((await one(build(DhlAdapter))).error, NotFound)


@pytest.mark.parametrize(
    "service,carrier",
    [("express", "dhl"), ("parcel-de", "deutsche_post"), ("ecommerce", "dhl_ecommerce")],
)
async def test_the_division_names_the_carrier(
    service: str, carrier: str, server: Loopback, build: Any
) -> None:
    serve(server, p.dhl_body(N, [p.dhl_event("transit")], service=service))
    result = await one(build(DhlAdapter))
    assert result.carrier == carrier
    assert result.provider_ref == service
    assert carrier in DhlAdapter.covers


async def test_estimated_delivery_and_its_revision(server: Loopback, build: Any) -> None:
    adapter = build(DhlAdapter)
    events = [p.dhl_event("transit")]
    serve(server, p.dhl_body(N, events, eta="2024-01-16T18:00:00+01:00"))
    first = await one(adapter)
    assert first.estimated_delivery == datetime(2024, 1, 16, 17, tzinfo=UTC)
    serve(server, p.dhl_body(N, events, through="2024-01-18T12:00:00"))
    revised = await one(adapter)
    # Naive: the destination's wall time (Paris).
    assert revised.estimated_delivery == datetime(2024, 1, 18, 12, tzinfo=ZoneInfo("Europe/Paris"))
    serve(server, p.dhl_body(N, events, eta="2024-01-19"))
    assert (await one(adapter)).estimated_delivery == datetime(
        2024, 1, 19, 23, 59, 59, tzinfo=ZoneInfo("Europe/Paris")
    )


async def test_time_rules(server: Loopback, build: Any) -> None:
    events = [
        p.dhl_event("transit", "", "with offset", stamp="2024-01-10T10:15:00+09:00", country="JP"),
        p.dhl_event("transit", "", "naive in DE", stamp="2024-07-10T10:15:00", country="DE"),
        p.dhl_event("transit", "", "naive in US", stamp="2024-07-10T10:15:00", country="US"),
        p.dhl_event("transit", "", "utc", stamp="2024-07-10T10:15:00Z", country="DE"),
    ]
    serve(server, p.dhl_body(N, events))
    by = {e.description: e for e in (await one(build(DhlAdapter))).events}
    assert by["with offset"].occurred_at == datetime(
        2024, 1, 10, 10, 15, tzinfo=timezone(timedelta(hours=9))
    )
    assert by["with offset"].utc_offset_minutes == 540
    assert by["with offset"].occurred_at.utcoffset() == timedelta(hours=9)
    assert by["naive in DE"].occurred_at == datetime(
        2024, 7, 10, 10, 15, tzinfo=ZoneInfo("Europe/Berlin")
    )
    assert by["naive in DE"].utc_offset_minutes == 120
    assert by["naive in US"].occurred_at == datetime(2024, 7, 10, 10, 15, tzinfo=UTC)
    assert by["naive in US"].utc_offset_minutes is None
    assert by["utc"].utc_offset_minutes == 0


async def test_an_event_without_a_readable_time_is_skipped(server: Loopback, build: Any) -> None:
    events = [p.dhl_event("transit", "", "good"), p.dhl_event("transit", "", "bad", stamp="soon")]
    serve(server, p.dhl_body(N, events))
    result = await one(build(DhlAdapter))
    assert [e.description for e in result.events] == ["good"]
