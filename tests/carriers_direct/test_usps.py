"""USPS Tracking 3.0 against a loopback server answering in USPS's documented shape."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from store.statuses import ShipmentStatus as S
from sync.carriers.base import BadResponse, NotFound, TrackRequest
from sync.carriers.usps import EVENT_CODES, STATUS_CATEGORIES, UspsAdapter
from tests.carriers_direct import payloads as p
from tests.carriers_direct.loopback import Loopback, Reply

N = "9400111899223397910390"
PATH = "/tracking/v3/tracking/*"


def serve(server: Loopback, body: Any, status: int = 200) -> None:
    server.on("GET", PATH, Reply(status, body))


async def one(adapter: UspsAdapter) -> Any:
    [result] = await adapter.track([TrackRequest(N, carrier="usps")])
    return result


async def test_sends_the_documented_request(server: Loopback, build: Any) -> None:
    serve(server, p.usps_body(N, [p.usps_event("10")]))
    adapter = build(UspsAdapter)
    await adapter.track([TrackRequest(N), TrackRequest("9400111899223397910407")])
    calls = server.calls("/tracking/v3/tracking/")
    assert [c.path for c in calls] == [
        f"/tracking/v3/tracking/{N}",
        "/tracking/v3/tracking/9400111899223397910407",
    ]
    assert calls[0].query == {"expand": ["DETAIL"]}
    assert calls[0].header("authorization") == "Bearer token-1"
    assert server.tokens_issued == 1
    assert UspsAdapter.default_rate_limit == pytest.approx(60 / 3600)


#: USPS tracking event codes (Pub 199 / Web Tools) and what each means here.
DOCUMENTED = {
    "MA": S.INFO_RECEIVED, "GX": S.INFO_RECEIVED, "TM": S.IN_TRANSIT, "PA": S.IN_TRANSIT,
    "03": S.IN_TRANSIT, "43": S.IN_TRANSIT, "OA": S.IN_TRANSIT, "10": S.IN_TRANSIT,
    "PC": S.IN_TRANSIT, "EF": S.IN_TRANSIT, "SF": S.IN_TRANSIT, "07": S.IN_TRANSIT,
    "06": S.IN_TRANSIT, "08": S.IN_TRANSIT, "15": S.IN_TRANSIT, "19": S.IN_TRANSIT,
    "41": S.IN_TRANSIT, "42": S.IN_TRANSIT, "80": S.IN_TRANSIT, "81": S.IN_TRANSIT,
    "82": S.IN_TRANSIT, "71": S.IN_TRANSIT, "DX": S.IN_TRANSIT, "OF": S.OUT_FOR_DELIVERY,
    "14": S.AVAILABLE_FOR_PICKUP, "16": S.AVAILABLE_FOR_PICKUP, "01": S.DELIVERED,
    "17": S.DELIVERED, "02": S.FAILED_ATTEMPT, "30": S.FAILED_ATTEMPT, "51": S.FAILED_ATTEMPT,
    "52": S.FAILED_ATTEMPT, "53": S.FAILED_ATTEMPT, "54": S.FAILED_ATTEMPT,
    "55": S.FAILED_ATTEMPT, "56": S.FAILED_ATTEMPT, "04": S.EXCEPTION, "05": S.EXCEPTION,
    "11": S.EXCEPTION, "44": S.EXCEPTION, "09": S.EXCEPTION, "21": S.EXCEPTION,
    "22": S.EXCEPTION, "23": S.EXCEPTION, "24": S.EXCEPTION, "25": S.EXCEPTION,
    "26": S.EXCEPTION, "27": S.EXCEPTION, "28": S.EXCEPTION, "29": S.EXCEPTION,
    "31": S.EXCEPTION,
}  # fmt: skip
#: ``statusCategory`` as USPS writes it.
CATEGORIES = {
    "Pre-Shipment": S.INFO_RECEIVED, "Accepted": S.IN_TRANSIT, "In Transit": S.IN_TRANSIT,
    "Out for Delivery": S.OUT_FOR_DELIVERY, "Delivered": S.DELIVERED,
    "Available for Pickup": S.AVAILABLE_FOR_PICKUP, "Delivery Attempt": S.FAILED_ATTEMPT,
    "Alert": S.EXCEPTION, "Return to Sender": S.EXCEPTION, "Missent": S.IN_TRANSIT,
    "Awaiting Delivery Scan": S.IN_TRANSIT, "USPS Awaiting Item": S.INFO_RECEIVED,
}  # fmt: skip


def test_the_tables_cover_every_documented_code() -> None:
    assert set(EVENT_CODES) == set(DOCUMENTED)
    assert len(STATUS_CATEGORIES) == len(CATEGORIES)


async def test_every_documented_event_code_maps(server: Loopback, build: Any) -> None:
    start = datetime(2024, 1, 10, 12)
    events = [
        p.usps_event(code, f"event {code}", stamp=(start - timedelta(hours=i)).isoformat())
        for i, code in enumerate(DOCUMENTED)
    ]
    serve(server, p.usps_body(N, events, category="Delivered", status="Delivered, In/At Mailbox"))
    result = await one(build(UspsAdapter))
    assert len(result.events) == len(DOCUMENTED)
    by_text = {e.description: e.status for e in result.events}
    for code, status in DOCUMENTED.items():
        assert by_text[f"event {code}"] is status, code
    assert result.status is S.DELIVERED
    assert result.substatus == "Delivered, In/At Mailbox"


@pytest.mark.parametrize("category", sorted(CATEGORIES))
async def test_every_status_category_maps(category: str, server: Loopback, build: Any) -> None:
    serve(server, p.usps_body(N, [p.usps_event("10")], category=category))
    result = await one(build(UspsAdapter))
    assert result.status is CATEGORIES[category]
    assert result.returned is (category == "Return to Sender")


async def test_returned_to_sender_from_the_event_codes(server: Loopback, build: Any) -> None:
    serve(server, p.usps_body(N, [p.usps_event("27", "Unclaimed/Being Returned to Sender")],
                              category="Alert"))  # fmt: skip
    result = await one(build(UspsAdapter))
    assert result.returned
    assert result.status is S.EXCEPTION


async def test_unknown_codes_are_in_transit_and_logged_once(
    server: Loopback, build: Any, caplog: pytest.LogCaptureFixture
) -> None:
    serve(server, p.usps_body(N, [p.usps_event("Z7", "Something new")], category="Mystery"))
    adapter = build(UspsAdapter)
    result = await one(adapter)
    await one(adapter)
    assert result.events[0].status is S.IN_TRANSIT
    assert result.status is S.IN_TRANSIT
    lines = [r.getMessage() for r in caplog.records]
    assert len([m for m in lines if "unknown status code 'Z7'" in m]) == 1
    assert len([m for m in lines if "unknown status code 'mystery'" in m]) == 1


async def test_events_without_a_code_are_read_from_their_text(server: Loopback, build: Any) -> None:
    serve(server, p.usps_body(N, [p.usps_event("", "Out for Delivery")]))
    assert (await one(build(UspsAdapter))).events[0].status is S.OUT_FOR_DELIVERY


async def test_an_empty_history(server: Loopback, build: Any) -> None:
    serve(server, p.usps_body(N, [], category="Pre-Shipment", status="Label Created"))
    result = await one(build(UspsAdapter))
    assert result.events == []
    assert result.status is S.INFO_RECEIVED


@pytest.mark.parametrize(
    "status,body",
    [
        (404, p.usps_error(404, "Tracking number not found")),
        (400, p.usps_error(400, "Invalid tracking number", code="400")),
        (200, p.usps_error(200, "No record of that item")),
    ],
    ids=["404", "400", "200-error"],
)
async def test_not_found(status: int, body: Any, server: Loopback, build: Any) -> None:
    serve(server, body, status)
    result = await one(build(UspsAdapter))
    assert isinstance(result.error, NotFound)


async def test_a_400_about_something_else_is_a_bad_response(server: Loopback, build: Any) -> None:
    serve(server, p.usps_error(400, "expand must be SUMMARY or DETAIL", code="400"), 400)
    with pytest.raises(BadResponse):
        await one(build(UspsAdapter))


async def test_estimated_delivery_and_its_revision(server: Loopback, build: Any) -> None:
    adapter = build(UspsAdapter)
    events = [p.usps_event("10")]
    serve(server, p.usps_body(N, events, expected="2024-01-16T21:00:00"))
    first = await one(adapter)
    # A naive USPS stamp is destination wall time (destinationState WA).
    assert first.estimated_delivery == datetime(
        2024, 1, 16, 21, tzinfo=ZoneInfo("America/Los_Angeles")
    )
    serve(server, p.usps_body(N, events, expected_date="2024-01-18"))
    revised = await one(adapter)
    assert revised.estimated_delivery == datetime(
        2024, 1, 18, 23, 59, 59, tzinfo=ZoneInfo("America/Los_Angeles")
    )


async def test_time_rules(server: Loopback, build: Any) -> None:
    events = [
        p.usps_event("10", "gmt and offset", stamp="2024-01-10T05:15:00",
                     gmt="2024-01-10T11:15:00Z", offset="-06:00"),
        p.usps_event("10", "offset only", stamp="2024-01-10T05:15:00", offset="-06:00"),
        p.usps_event("10", "local in IL", stamp="2024-07-10T05:15:00", state="IL"),
        p.usps_event("10", "abroad", stamp="2024-07-10T05:15:00", state="", country="BR"),
    ]  # fmt: skip
    serve(server, p.usps_body(N, events))
    by = {e.description: e for e in (await one(build(UspsAdapter))).events}
    minus6 = timezone(timedelta(hours=-6))
    assert by["gmt and offset"].occurred_at == datetime(2024, 1, 10, 5, 15, tzinfo=minus6)
    assert by["gmt and offset"].utc_offset_minutes == -360
    assert by["gmt and offset"].occurred_at.utcoffset() == timedelta(hours=-6)
    assert by["offset only"].occurred_at == datetime(2024, 1, 10, 5, 15, tzinfo=minus6)
    assert by["local in IL"].occurred_at == datetime(
        2024, 7, 10, 5, 15, tzinfo=ZoneInfo("America/Chicago")
    )
    assert by["local in IL"].utc_offset_minutes == -300
    assert by["abroad"].occurred_at == datetime(2024, 7, 10, 5, 15, tzinfo=UTC)
    assert by["abroad"].utc_offset_minutes is None
