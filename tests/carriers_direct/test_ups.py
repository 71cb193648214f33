"""UPS Track API against a loopback server answering in UPS's documented shape."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from store.statuses import ShipmentStatus as S
from sync.carriers.base import NotFound, TrackRequest
from sync.carriers.ups import ACTIVITY_CODES, STATUS_TYPES, UpsAdapter
from tests.carriers_direct import payloads as p
from tests.carriers_direct.loopback import Loopback, Reply

N = "1Z999AA10123456784"
PATH = "/api/track/v1/details/*"


def serve(server: Loopback, body: Any, status: int = 200) -> None:
    server.on("GET", PATH, Reply(status, body))


async def one(adapter: UpsAdapter, number: str = N) -> Any:
    [result] = await adapter.track([TrackRequest(number, carrier="ups")])
    return result


async def test_sends_the_documented_request(server: Loopback, build: Any) -> None:
    serve(server, p.ups_body(N, [p.ups_activity("I", "AR")]))
    adapter = build(UpsAdapter)
    results = await adapter.track([TrackRequest(N), TrackRequest("1Z999AA10123456785")])
    assert len(results) == 2
    calls = server.calls("/api/track/v1/details/")
    assert [c.path for c in calls] == [
        f"/api/track/v1/details/{N}",
        "/api/track/v1/details/1Z999AA10123456785",
    ]  # one number per request
    first = calls[0]
    assert first.method == "GET"
    assert first.query["locale"] == ["en_US"]
    assert first.header("authorization") == "Bearer token-1"
    assert first.header("transactionsrc") == "orderdeck"
    assert first.header("transid") and first.header("transid") != calls[1].header("transid")
    assert len(first.header("transid")) <= 32
    assert server.tokens_issued == 1  # the token is reused
    assert UpsAdapter.batch_size == 1


#: What the UPS appendix says each activity status type means, in orderdeck terms.
DOCUMENTED_TYPES = {
    "M": S.INFO_RECEIVED, "MV": S.EXCEPTION, "P": S.IN_TRANSIT, "I": S.IN_TRANSIT,
    "O": S.OUT_FOR_DELIVERY, "D": S.DELIVERED, "X": S.EXCEPTION, "RS": S.EXCEPTION,
    "DO": S.IN_TRANSIT, "DD": S.IN_TRANSIT, "W": S.IN_TRANSIT, "NA": S.PENDING,
}  # fmt: skip
DOCUMENTED_CODES = {
    "MP": S.INFO_RECEIVED, "VP": S.EXCEPTION, "OR": S.IN_TRANSIT, "DS": S.IN_TRANSIT,
    "YP": S.IN_TRANSIT, "DP": S.IN_TRANSIT, "AR": S.IN_TRANSIT, "IP": S.IN_TRANSIT,
    "ZA": S.IN_TRANSIT, "ZC": S.IN_TRANSIT, "OF": S.OUT_FOR_DELIVERY,
    "OT": S.OUT_FOR_DELIVERY, "YI": S.OUT_FOR_DELIVERY, "ZP": S.AVAILABLE_FOR_PICKUP,
    "KB": S.DELIVERED, "FS": S.DELIVERED, "2W": S.DELIVERED, "8Q": S.DELIVERED,
    "9E": S.DELIVERED,
}  # fmt: skip


def test_the_tables_cover_every_documented_code() -> None:
    assert set(STATUS_TYPES) == set(DOCUMENTED_TYPES)
    assert set(ACTIVITY_CODES) == set(DOCUMENTED_CODES)


async def test_every_documented_type_and_code_maps(server: Loopback, build: Any) -> None:
    activities = [p.ups_activity(kind, "", f"type {kind}") for kind in DOCUMENTED_TYPES]
    activities += [p.ups_activity("I", code, f"code {code}") for code in DOCUMENTED_CODES]
    # A multi-event history: one activity per hour, newest first as UPS sends them.
    for index, activity in enumerate(activities):
        activity["time"] = f"{23 - index % 24:02d}0000"
        activity["date"] = f"202401{10 + index // 24:02d}"
    serve(server, p.ups_body(N, activities))
    result = await one(build(UpsAdapter))
    assert len(result.events) == len(activities)
    by_text = {e.description: e.status for e in result.events}
    for kind, status in DOCUMENTED_TYPES.items():
        assert by_text[f"type {kind}"] is status, kind
    for code, status in DOCUMENTED_CODES.items():
        assert by_text[f"code {code}"] is status, code
    assert result.returned  # the RS activity


async def test_a_missed_delivery_is_a_failed_attempt(server: Loopback, build: Any) -> None:
    serve(
        server,
        p.ups_body(
            N,
            [
                p.ups_activity(
                    "X", "", "The receiver was not available for delivery. We'll make a second "
                    "attempt the next business day."
                ),
                p.ups_activity("X", "", "A flood has delayed all deliveries", time="090000"),
            ],
        ),
    )  # fmt: skip
    result = await one(build(UpsAdapter))
    assert [e.status for e in result.events] == [S.FAILED_ATTEMPT, S.EXCEPTION]
    assert not result.returned


async def test_current_status_and_substatus_text(server: Loopback, build: Any) -> None:
    current = {"type": "O", "code": "OT", "description": "Out For Delivery Today",
               "simplifiedTextDescription": "Out for Delivery", "statusCode": "021"}  # fmt: skip
    serve(
        server,
        p.ups_body(N, [p.ups_activity("I", "OT", "Out For Delivery Today")], current=current),
    )
    result = await one(build(UpsAdapter))
    assert result.status is S.OUT_FOR_DELIVERY
    assert result.substatus == "Out For Delivery Today"
    assert result.carrier == "ups"


async def test_unknown_codes_are_in_transit_and_logged_once(
    server: Loopback, build: Any, caplog: pytest.LogCaptureFixture
) -> None:
    serve(server, p.ups_body(N, [p.ups_activity("ZZ", "", "Something new")]))
    adapter = build(UpsAdapter)
    first = await one(adapter)
    await one(adapter)
    assert first.events[0].status is S.IN_TRANSIT
    assert first.events[0].description == "Something new"
    warnings = [r for r in caplog.records if "unknown status code 'ZZ'" in r.getMessage()]
    assert len(warnings) == 1


async def test_an_empty_history(server: Loopback, build: Any) -> None:
    current = {"type": "M", "code": "MP", "description": "Shipper created a label"}
    serve(server, p.ups_body(N, [], current=current))
    result = await one(build(UpsAdapter))
    assert result.events == []
    assert result.status is S.INFO_RECEIVED
    assert result.error is None


@pytest.mark.parametrize(
    "status,body",
    [
        (404, p.ups_error("151044", "No tracking information available")),
        (400, p.ups_error("151018", "Invalid tracking number")),
        (
            200,
            {"trackResponse": {"shipment": [{"inquiryNumber": N, "warnings": [
                {"code": "TW0001", "message": "Tracking Information Not Found"}]}]}},
        ),
    ],
    ids=["404", "400-151018", "200-TW0001"],
)  # fmt: skip
async def test_not_found_is_per_number(
    status: int, body: Any, server: Loopback, build: Any
) -> None:
    serve(server, body, status)
    result = await one(build(UpsAdapter))
    assert isinstance(result.error, NotFound)
    assert N in str(result.error)


async def test_other_400s_are_not_mistaken_for_not_found(server: Loopback, build: Any) -> None:
    from sync.carriers.base import BadResponse

    serve(server, p.ups_error("10001", "The request is missing transId"), 400)
    with pytest.raises(BadResponse):
        await one(build(UpsAdapter))


async def test_estimated_delivery_and_its_revision(server: Loopback, build: Any) -> None:
    seattle = ZoneInfo("America/Los_Angeles")
    adapter = build(UpsAdapter)
    activity = [p.ups_activity("I", "DP")]
    serve(server, p.ups_body(N, activity, delivery_dates=[("SDD", "20240116")]))
    first = await one(adapter)
    assert first.estimated_delivery == datetime(2024, 1, 16, 23, 59, 59, tzinfo=seattle)
    serve(
        server,
        p.ups_body(
            N,
            activity,
            delivery_dates=[("SDD", "20240116"), ("RDD", "20240118")],
            delivery_time={"type": "EDW", "startTime": "140000", "endTime": "180000"},
        ),
    )
    revised = await one(adapter)
    assert revised.estimated_delivery == datetime(2024, 1, 18, 18, 0, tzinfo=seattle)
    # The schedule the reschedule replaced is the original estimate.
    assert revised.original_estimated_delivery == datetime(2024, 1, 16, 23, 59, 59, tzinfo=seattle)
    assert first.original_estimated_delivery is None


async def test_time_prefers_the_gmt_fields_and_keeps_the_offset(
    server: Loopback, build: Any
) -> None:
    serve(
        server,
        p.ups_body(
            N, [p.ups_activity("I", "AR", time="071356", gmt=("20240110", "121356", "-05:00"))]
        ),
    )
    event = (await one(build(UpsAdapter))).events[0]
    assert event.occurred_at == datetime(2024, 1, 10, 12, 13, 56, tzinfo=UTC)
    assert event.utc_offset_minutes == -300
    assert event.occurred_at.utcoffset() == timedelta(hours=-5)
    assert event.occurred_at.hour == 7  # the local wall time survives


async def test_gmt_time_without_offset_derives_it_from_the_local_clock(
    server: Loopback, build: Any
) -> None:
    activity = p.ups_activity("I", "AR", time="071356", gmt=("20240110", "74700", ""))
    activity["gmtTime"] = "121356"
    del activity["gmtOffset"]
    serve(server, p.ups_body(N, [activity]))
    event = (await one(build(UpsAdapter))).events[0]
    assert event.occurred_at == datetime(2024, 1, 10, 12, 13, 56, tzinfo=UTC)
    assert event.utc_offset_minutes == -300


@pytest.mark.parametrize(
    "country,state,expected,offset",
    [
        ("US", "GA", datetime(2024, 7, 10, 10, 15, tzinfo=ZoneInfo("America/New_York")), -240),
        ("US", "AZ", datetime(2024, 7, 10, 10, 15, tzinfo=ZoneInfo("America/Phoenix")), -420),
        ("DE", "", datetime(2024, 7, 10, 10, 15, tzinfo=ZoneInfo("Europe/Berlin")), 120),
        # A US scan without a state cannot be placed in one zone: UTC, no offset claimed.
        ("US", "", datetime(2024, 7, 10, 10, 15, tzinfo=UTC), None),
    ],
)
async def test_local_time_is_read_in_the_location_zone(
    country: str, state: str, expected: datetime, offset: int | None,
    server: Loopback, build: Any,
) -> None:  # fmt: skip
    activity = p.ups_activity(
        "I", "AR", date="20240710", time="101500", country=country, state=state
    )
    serve(server, p.ups_body(N, [activity]))
    event = (await one(build(UpsAdapter))).events[0]
    assert event.occurred_at == expected
    assert event.utc_offset_minutes == offset


async def test_explicit_gmt_offset_with_local_time(server: Loopback, build: Any) -> None:
    activity = p.ups_activity("I", "AR", time="101500")
    activity["gmtOffset"] = "+05:30"
    serve(server, p.ups_body(N, [activity]))
    event = (await one(build(UpsAdapter))).events[0]
    assert event.occurred_at == datetime(
        2024, 1, 10, 10, 15, tzinfo=timezone(timedelta(hours=5, minutes=30))
    )
    assert event.utc_offset_minutes == 330


async def test_a_current_status_without_a_known_type_defers_to_the_newest_activity(
    server: Loopback, build: Any
) -> None:
    current = {"code": "SR", "description": "Your package was released by the customs agency."}
    serve(server, p.ups_body(N, [p.ups_activity("I", "DP")], current=current))
    result = await one(build(UpsAdapter))
    assert result.status is None
    assert result.current_status is S.IN_TRANSIT
