"""FedEx Track API against a loopback server answering in FedEx's documented shape."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from store.statuses import ShipmentStatus as S
from sync.carriers.base import BadResponse, NotFound, TemporaryError, TrackRequest
from sync.carriers.fedex import STATUS_CODES, FedexAdapter
from tests.carriers_direct import payloads as p
from tests.carriers_direct.loopback import Loopback, Reply, Seen

PATH = "/track/v1/trackingnumbers"
N = "794843185271"


def echo(make: Any) -> Any:
    """Answer every number the request names, with ``make(number)``."""

    def route(seen: Seen) -> Reply:
        numbers = [i["trackingNumberInfo"]["trackingNumber"] for i in seen.json()["trackingInfo"]]
        return Reply(200, p.fedex_body(*(make(n) for n in numbers)))

    return route


async def one(adapter: FedexAdapter) -> Any:
    [result] = await adapter.track([TrackRequest(N, carrier="fedex")])
    return result


async def test_batches_30_numbers_a_request(server: Loopback, build: Any) -> None:
    server.on("POST", PATH, echo(lambda n: p.fedex_result(n, [p.fedex_scan("IT")], latest="IT")))
    numbers = [f"7948431852{i:02d}" for i in range(31)]
    results = await build(FedexAdapter).track([TrackRequest(n) for n in numbers])
    assert [r.tracking_number for r in results] == numbers
    assert all(r.error is None and r.status is S.IN_TRANSIT for r in results)
    calls = server.calls(PATH)
    assert [len(c.json()["trackingInfo"]) for c in calls] == [30, 1]
    body = calls[0].json()
    assert body["includeDetailedScans"] is True
    assert body["trackingInfo"][0] == {"trackingNumberInfo": {"trackingNumber": numbers[0]}}
    assert calls[0].header("authorization") == "Bearer token-1"
    assert calls[0].header("content-type") == "application/json"
    assert calls[0].header("x-locale") == "en_US"
    assert server.tokens_issued == 1


#: FedEx "Tracking Status Codes" (movement, regulatory) and the webhook event
#: codes, each with the orderdeck status its FedEx definition means.
DOCUMENTED = {
    "AA": S.IN_TRANSIT, "AC": S.IN_TRANSIT, "AD": S.OUT_FOR_DELIVERY, "AF": S.IN_TRANSIT,
    "AO": S.IN_TRANSIT, "AP": S.INFO_RECEIVED, "AR": S.IN_TRANSIT, "AX": S.IN_TRANSIT,
    "CA": S.EXCEPTION, "CH": S.IN_TRANSIT, "DD": S.EXCEPTION, "DE": S.EXCEPTION,
    "DL": S.DELIVERED, "DP": S.IN_TRANSIT, "DR": S.IN_TRANSIT, "DS": S.INFO_RECEIVED,
    "DY": S.IN_TRANSIT, "EA": S.IN_TRANSIT, "ED": S.OUT_FOR_DELIVERY, "EO": S.IN_TRANSIT,
    "EP": S.INFO_RECEIVED, "FD": S.IN_TRANSIT, "HL": S.AVAILABLE_FOR_PICKUP,
    "HP": S.AVAILABLE_FOR_PICKUP, "IT": S.IN_TRANSIT, "IX": S.IN_TRANSIT, "LO": S.IN_TRANSIT,
    "OC": S.INFO_RECEIVED, "OD": S.OUT_FOR_DELIVERY, "OF": S.IN_TRANSIT, "OW": S.IN_TRANSIT,
    "OX": S.IN_TRANSIT, "PD": S.INFO_RECEIVED, "PF": S.IN_TRANSIT, "PL": S.IN_TRANSIT,
    "PM": S.IN_TRANSIT, "PU": S.IN_TRANSIT, "PX": S.IN_TRANSIT, "RR": S.IN_TRANSIT,
    "RM": S.IN_TRANSIT, "RC": S.IN_TRANSIT, "RS": S.EXCEPTION, "RP": S.INFO_RECEIVED,
    "LP": S.EXCEPTION, "RG": S.INFO_RECEIVED, "RD": S.EXCEPTION, "SE": S.EXCEPTION,
    "SF": S.IN_TRANSIT, "SP": S.IN_TRANSIT, "TR": S.IN_TRANSIT, "CC": S.IN_TRANSIT,
    "CD": S.EXCEPTION, "CP": S.IN_TRANSIT, "DO": S.IN_TRANSIT, "LC": S.EXCEPTION,
    "US": S.IN_TRANSIT, "IP": S.IN_TRANSIT, "IN": S.IN_TRANSIT, "MD": S.INFO_RECEIVED,
    "AE": S.IN_TRANSIT, "HA": S.IN_TRANSIT, "RT": S.IN_TRANSIT, "RA": S.IN_TRANSIT,
    "PR": S.IN_TRANSIT, "AS": S.IN_TRANSIT,
}  # fmt: skip


def test_the_table_covers_every_documented_code() -> None:
    assert set(STATUS_CODES) == set(DOCUMENTED)


async def test_every_documented_code_maps(server: Loopback, build: Any) -> None:
    start = datetime(2024, 1, 10, tzinfo=UTC)
    scans = [
        p.fedex_scan(code, f"scan {code}", date=(start - timedelta(hours=i)).isoformat())
        for i, code in enumerate(DOCUMENTED)
    ]
    server.on("POST", PATH, Reply(200, p.fedex_body(p.fedex_result(N, scans, latest="DL"))))
    result = await one(build(FedexAdapter))
    assert len(result.events) == len(DOCUMENTED)
    by_text = {e.description: e.status for e in result.events}
    for code, status in DOCUMENTED.items():
        assert by_text[f"scan {code}"] is status, code
    assert result.status is S.DELIVERED
    assert result.returned  # the RS scan


async def test_a_delivery_exception_for_an_absent_customer_is_a_failed_attempt(
    server: Loopback, build: Any
) -> None:
    scans = [
        p.fedex_scan("DE", "Delivery exception", exception="Customer not available or business closed"),
        p.fedex_scan("DE", "Delivery exception", exception="Damaged, handling per shipper",
                     date="2024-01-09T10:00:00-05:00"),
    ]  # fmt: skip
    server.on("POST", PATH, Reply(200, p.fedex_body(p.fedex_result(N, scans))))
    result = await one(build(FedexAdapter))
    assert [e.status for e in result.events] == [S.FAILED_ATTEMPT, S.EXCEPTION]
    assert result.events[0].substatus == "Customer not available or business closed"


async def test_unknown_code_is_in_transit_and_logged_once(
    server: Loopback, build: Any, caplog: pytest.LogCaptureFixture
) -> None:
    server.on("POST", PATH, Reply(200, p.fedex_body(p.fedex_result(N, [p.fedex_scan("Q9")]))))
    adapter = build(FedexAdapter)
    assert (await one(adapter)).events[0].status is S.IN_TRANSIT
    await one(adapter)
    assert len([r for r in caplog.records if "unknown status code 'Q9'" in r.getMessage()]) == 1


async def test_an_empty_history(server: Loopback, build: Any) -> None:
    server.on("POST", PATH, Reply(200, p.fedex_body(p.fedex_result(N, [], latest="OC"))))
    result = await one(build(FedexAdapter))
    assert result.events == []
    assert result.status is S.INFO_RECEIVED
    assert result.substatus == "status OC"


async def test_not_found_is_reported_per_number(server: Loopback, build: Any) -> None:
    other = "123456789012"
    body = p.fedex_body(p.fedex_result(N, [p.fedex_scan("PU")]), p.fedex_not_found(other))
    server.on("POST", PATH, Reply(200, body))
    found, missing = await build(FedexAdapter).track([TrackRequest(N), TrackRequest(other)])
    assert found.error is None and found.events
    assert isinstance(missing.error, NotFound)
    assert "cannot be found" in str(missing.error)


async def test_a_number_missing_from_the_answer_is_not_found(server: Loopback, build: Any) -> None:
    server.on("POST", PATH, Reply(200, p.fedex_body()))
    assert isinstance((await one(build(FedexAdapter))).error, NotFound)


async def test_other_per_number_errors_are_temporary(server: Loopback, build: Any) -> None:
    body = p.fedex_not_found(N)
    body["trackResults"][0]["error"] = {"code": "SYSTEM.UNAVAILABLE.EXCEPTION", "message": "x"}
    server.on("POST", PATH, Reply(200, p.fedex_body(body)))
    assert isinstance((await one(build(FedexAdapter))).error, TemporaryError)


async def test_a_400_naming_only_unknown_numbers_is_not_found(server: Loopback, build: Any) -> None:
    body = {"errors": [{"code": "TRACKING.TRACKINGNUMBER.INVALID", "message": "Invalid"}]}
    server.on("POST", PATH, Reply(400, body))
    assert isinstance((await one(build(FedexAdapter))).error, NotFound)


async def test_a_404_is_a_wrong_base_url_not_a_lost_parcel(server: Loopback, build: Any) -> None:
    server.on("POST", PATH, Reply(404, {"errors": [{"code": "NOT.FOUND.ERROR"}]}))
    with pytest.raises(BadResponse) as caught:
        await one(build(FedexAdapter))
    assert "base_url" in str(caught.value)


async def test_estimated_delivery_and_its_revision(server: Loopback, build: Any) -> None:
    adapter = build(FedexAdapter)
    scans = [p.fedex_scan("IT")]
    server.on("POST", PATH, Reply(200, p.fedex_body(p.fedex_result(
        N, scans, dates=[("ESTIMATED_DELIVERY", "2024-01-16T20:00:00-08:00")]))))  # fmt: skip
    first = await one(adapter)
    assert first.estimated_delivery == datetime(2024, 1, 17, 4, 0, tzinfo=UTC)
    assert first.estimated_delivery.utcoffset() == timedelta(hours=-8)
    server.on("POST", PATH, Reply(200, p.fedex_body(p.fedex_result(
        N, scans, dates=[("ESTIMATED_DELIVERY", "2024-01-18")]))))  # fmt: skip
    revised = await one(adapter)
    assert revised.estimated_delivery == datetime(
        2024, 1, 18, 23, 59, 59, tzinfo=ZoneInfo("America/Los_Angeles")
    )
    server.on("POST", PATH, Reply(200, p.fedex_body(p.fedex_result(
        N, scans, window_ends="2024-01-19T12:00:00-08:00"))))  # fmt: skip
    assert (await one(adapter)).estimated_delivery == datetime(2024, 1, 19, 20, tzinfo=UTC)


async def test_times_keep_their_offset_and_naive_ones_use_the_scan_state(
    server: Loopback, build: Any
) -> None:
    scans = [
        p.fedex_scan("AR", "with offset", date="2024-01-10T10:15:00+05:30"),
        p.fedex_scan("AR", "naive in TN", date="2024-07-10T10:15:00", state="TN"),
        p.fedex_scan("AR", "naive nowhere", date="2024-07-10T10:15:00", country="RU", state=""),
    ]
    server.on("POST", PATH, Reply(200, p.fedex_body(p.fedex_result(N, scans))))
    events = {e.description: e for e in (await one(build(FedexAdapter))).events}
    with_offset = events["with offset"]
    assert with_offset.occurred_at == datetime(
        2024, 1, 10, 10, 15, tzinfo=timezone(timedelta(minutes=330))
    )
    assert with_offset.utc_offset_minutes == 330
    assert with_offset.occurred_at.utcoffset() == timedelta(minutes=330)
    assert events["naive in TN"].occurred_at == datetime(
        2024, 7, 10, 10, 15, tzinfo=ZoneInfo("America/Chicago")
    )
    assert events["naive in TN"].utc_offset_minutes == -300
    assert events["naive nowhere"].occurred_at == datetime(2024, 7, 10, 10, 15, tzinfo=UTC)
    assert events["naive nowhere"].utc_offset_minutes is None


async def test_of_several_results_the_freshest_wins(server: Loopback, build: Any) -> None:
    old = p.fedex_result(N, [p.fedex_scan("DL", date="2019-01-10T10:00:00-05:00")], latest="DL")
    new = p.fedex_result(N, [p.fedex_scan("IT", date="2024-01-10T10:00:00-05:00")], latest="IT")
    old["trackResults"] += new["trackResults"]
    server.on("POST", PATH, Reply(200, p.fedex_body(old)))
    assert (await one(build(FedexAdapter))).status is S.IN_TRANSIT
