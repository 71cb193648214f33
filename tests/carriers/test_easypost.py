"""EasyPost Trackers (API v2) against a loopback server serving its documented shapes."""

from __future__ import annotations

import base64
import logging
from datetime import UTC, datetime
from typing import Any

import pytest

from store.statuses import ShipmentStatus as S
from sync.carriers.aggregator import key
from sync.carriers.base import AuthError, NotFound, TrackRequest
from sync.carriers.easypost import CARRIERS, DETAILS, REQUEST_CARRIERS, STATUSES, EasyPostAdapter
from tests.carriers.aggregator_support import KEY, make
from tests.carriers.recording_server import Recorded, Reply, replies, serving

NUMBER = "9400110200881234567890"
TRK = "trk_895f9744d4e84493b531c97146d63838"


def location(city: str | None = None, state: str | None = None, country: str | None = None,
             zip: str | None = None) -> dict[str, Any]:  # fmt: skip
    return {
        "object": "TrackingLocation",
        "city": city,
        "state": state,
        "country": country,
        "zip": zip,
    }


def detail(
    when: str, status: str, status_detail: str | None, message: str, **where: Any
) -> dict[str, Any]:
    return {
        "object": "TrackingDetail", "message": message, "description": None, "status": status,
        "status_detail": status_detail, "datetime": when, "source": "USPS", "carrier_code": None,
        "tracking_location": location(**where),
    }  # fmt: skip


def tracker(**fields: Any) -> dict[str, Any]:
    """A Tracker object as the v2 reference shows it."""
    data: dict[str, Any] = {
        "id": TRK, "object": "Tracker", "mode": "test", "tracking_code": NUMBER,
        "status": "in_transit", "status_detail": "arrived_at_facility",
        "created_at": "2024-05-01T18:38:05Z", "updated_at": "2024-05-02T18:38:05Z",
        "signed_by": None, "weight": None, "est_delivery_date": None, "shipment_id": None,
        "carrier": "USPS",
        "tracking_details": [detail("2024-05-01T18:38:05Z", "pre_transit", "label_created", "Label created")],
        "carrier_detail": None, "public_url": "https://track.easypost.com/djE6", "fees": [],
        "finalized": True, "is_return": False,
    }  # fmt: skip
    data.update(fields)
    return data


async def run(handler: Any, *requests: TrackRequest) -> tuple[list, list[Recorded]]:
    with serving(handler) as server:
        adapter = make(EasyPostAdapter, server.url)
        try:
            return await adapter.track(list(requests)), server.requests
        finally:
            await adapter.aclose()


async def test_create_once_then_read_by_id_with_basic_auth() -> None:
    def handler(request: Recorded) -> Reply:
        if request.method == "POST":
            return Reply(
                201, tracker(status="unknown", status_detail="unknown", tracking_details=[])
            )
        return Reply(200, tracker())

    with serving(handler) as server:
        adapter = make(EasyPostAdapter, server.url)
        [first] = await adapter.track([TrackRequest(NUMBER, carrier="usps")])
        [second] = await adapter.track(
            [TrackRequest(NUMBER, carrier="usps", provider_ref=first.provider_ref)]
        )
        [third] = await adapter.track(
            [TrackRequest(NUMBER, carrier="usps", provider_ref=first.provider_ref)]
        )
        await adapter.aclose()
    post, *gets = server.requests
    expected_auth = "Basic " + base64.b64encode(f"{KEY}:".encode()).decode()
    assert (post.method, post.path) == ("POST", "/v2/trackers")
    assert post.headers["authorization"] == expected_auth
    assert post.json() == {"tracker": {"tracking_code": NUMBER, "carrier": "USPS"}}
    assert first.provider_ref == TRK
    assert isinstance(first.error, NotFound)  # "unknown", no details: not known yet
    assert [(g.method, g.path) for g in gets] == [("GET", f"/v2/trackers/{TRK}")] * 2
    assert all(g.headers["authorization"] == expected_auth for g in gets)
    assert second.error is None and second.status is S.IN_TRANSIT
    assert second.substatus == "Arrived at facility" and third.provider_ref == TRK


async def test_unknown_carrier_is_left_to_auto_detection() -> None:
    _, sent = await run(
        replies(Reply(201, tracker(carrier="CanadaPost"))), TrackRequest(NUMBER, carrier="gls")
    )
    assert sent[0].json() == {"tracker": {"tracking_code": NUMBER}}


async def test_a_deleted_tracker_is_replaced() -> None:
    def handler(request: Recorded) -> Reply:
        if request.method == "GET":
            return Reply(
                404,
                {
                    "error": {
                        "code": "NOT_FOUND",
                        "message": "The requested resource could not be found.",
                        "errors": [],
                    }
                },
            )
        return Reply(201, tracker(id="trk_new"))

    [result], sent = await run(handler, TrackRequest(NUMBER, provider_ref=TRK))
    assert [r.method for r in sent] == ["GET", "POST"] and result.provider_ref == "trk_new"


@pytest.mark.parametrize("status", [400, 422])
async def test_create_refusal_is_a_per_number_not_found(status: int) -> None:
    body = {
        "error": {
            "code": "TRACKER.CREATE.ERROR",
            "message": "Unable to determine carrier",
            "errors": [],
        }
    }
    [result], _ = await run(replies(Reply(status, body)), TrackRequest("NOPE"))
    assert isinstance(result.error, NotFound) and "Unable to determine carrier" in str(result.error)


async def test_payment_required_stops_the_provider() -> None:
    with pytest.raises(AuthError, match=r"payment required.*\[carriers\.easypost\]"):
        await run(
            replies(Reply(402, {"error": {"code": "PAYMENT_REQUIRED", "message": "x"}})),
            TrackRequest(NUMBER),
        )


async def test_every_documented_status_and_detail() -> None:
    current: dict[str, Any] = {}
    with serving(lambda _: Reply(200, current["t"])) as server:
        adapter = make(EasyPostAdapter, server.url)
        for status, expected in STATUSES.items():
            current["t"] = tracker(status=status, status_detail=None,
                                   tracking_details=[detail("2024-05-02T10:00:00Z", status, None, "scan")])  # fmt: skip
            [result] = await adapter.track([TrackRequest(NUMBER, provider_ref=TRK)])
            assert result.status is expected, status
            assert result.events[0].status is expected, status
        for code, label in DETAILS.items():
            current["t"] = tracker(status="in_transit", status_detail=code)
            [result] = await adapter.track([TrackRequest(NUMBER, provider_ref=TRK)])
            assert result.substatus == label
            expected = (
                S.AVAILABLE_FOR_PICKUP if code == "arrived_at_pickup_location" else S.IN_TRANSIT
            )
            assert result.status is expected, code
        await adapter.aclose()
    assert len(DETAILS) == 28 and len(STATUSES) >= 10


async def test_status_error_is_not_found() -> None:
    [result], _ = await run(replies(Reply(200, tracker(status="error", status_detail="unknown"))),
                            TrackRequest(NUMBER, provider_ref=TRK))  # fmt: skip
    assert isinstance(result.error, NotFound) and result.provider_ref == TRK


async def test_history_offsets_kept_and_naive_times_placed() -> None:
    details = [
        detail("2024-05-01T13:27:05Z", "pre_transit", "label_created", "Shipping Label Created",
               city="HOUSTON", state="TX", zip="77063"),
        # EasyPost gave the local offset: kept.
        detail("2024-05-02T07:15:05-05:00", "in_transit", "departed_facility", "Departed",
               city="HOUSTON", state="TX", zip="77063"),
        # Naive with a US state and no country: read in South Carolina (Eastern).
        detail("2024-05-03T09:00:00", "out_for_delivery", "out_for_delivery", "Out for Delivery",
               city="CHARLESTON", state="SC", zip="29401"),
        # Naive with no location: UTC, as EasyPost documents.
        detail("2024-05-03T19:00:00", "delivered", "arrived_at_destination", "Delivered"),
    ]  # fmt: skip
    [result], _ = await run(replies(Reply(200, tracker(status="delivered", tracking_details=details))),
                            TrackRequest(NUMBER, provider_ref=TRK))  # fmt: skip
    got = [(e.occurred_at, e.utc_offset_minutes, e.status, e.location) for e in result.events]
    assert got == [
        (datetime(2024, 5, 1, 13, 27, 5, tzinfo=UTC), 0, S.INFO_RECEIVED, "HOUSTON, TX, 77063"),
        (datetime(2024, 5, 2, 12, 15, 5, tzinfo=UTC), -300, S.IN_TRANSIT, "HOUSTON, TX, 77063"),
        (
            datetime(2024, 5, 3, 13, 0, tzinfo=UTC),
            -240,
            S.OUT_FOR_DELIVERY,
            "CHARLESTON, SC, 29401",
        ),
        (datetime(2024, 5, 3, 19, 0, tzinfo=UTC), None, S.DELIVERED, None),
    ]
    assert result.events[0].substatus == "Label created"
    assert result.events[1].description == "Departed"


async def test_estimate_revisions_and_local_estimates() -> None:
    polls = [
        tracker(est_delivery_date="2024-05-04T00:00:00Z"),
        tracker(est_delivery_date="2024-05-06T17:00:00Z"),
        tracker(est_delivery_date=None, carrier_detail={
            "object": "CarrierDetail", "service": "First-Class Package Service",
            "est_delivery_date_local": "2024-05-07", "est_delivery_time_local": None,
            "destination_tracking_location": location("CHARLESTON", "SC", None, "29401"),
        }),
    ]  # fmt: skip
    with serving(replies(*(Reply(200, p) for p in polls))) as server:
        adapter = make(EasyPostAdapter, server.url)
        seen = [(await adapter.track([TrackRequest(NUMBER, provider_ref=TRK)]))[0] for _ in polls]
        await adapter.aclose()
    assert [s.estimated_delivery for s in seen] == [
        datetime(2024, 5, 4, tzinfo=UTC),
        datetime(2024, 5, 6, 17, 0, tzinfo=UTC),
        datetime(2024, 5, 8, 3, 59, 59, tzinfo=UTC),  # end of May 7 in Charleston (EDT)
    ]


@pytest.mark.parametrize(
    "fields",
    [{"status": "return_to_sender", "status_detail": "return"},
     {"tracking_details": [detail("2024-05-02T10:00:00Z", "in_transit", "return", "Returning")]}],
)  # fmt: skip
async def test_returned_to_sender(fields: dict[str, Any]) -> None:
    [result], _ = await run(
        replies(Reply(200, tracker(**fields))), TrackRequest(NUMBER, provider_ref=TRK)
    )
    assert result.returned


async def test_unknown_codes_are_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="orderdeck.carriers")
    body = tracker(status="beamed_up", status_detail="transporter_room")
    with serving(lambda _: Reply(200, body)) as server:
        adapter = make(EasyPostAdapter, server.url)
        for _ in range(2):
            [result] = await adapter.track([TrackRequest(NUMBER, provider_ref=TRK)])
        await adapter.aclose()
    assert result.status is S.IN_TRANSIT and result.substatus == "transporter_room"
    assert caplog.text.count("'beamed_up'") == 1 and caplog.text.count("'transporter_room'") == 1


def test_carrier_names() -> None:
    for code, name in REQUEST_CARRIERS.items():
        assert CARRIERS[key(name)] == code
    assert EasyPostAdapter.covers == frozenset(CARRIERS.values())
    assert "usps" in EasyPostAdapter.covers and "sandbox" not in EasyPostAdapter.covers


async def test_key_never_in_results_or_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    [result], _ = await run(replies(Reply(201, tracker())), TrackRequest(NUMBER))
    encoded = base64.b64encode(f"{KEY}:".encode()).decode()
    assert KEY not in repr(result) and KEY not in caplog.text and encoded not in caplog.text
