"""AfterShip Tracking (API 2025-04) against a loopback server serving its documented shapes."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from typing import Any

import pytest

from store.statuses import ShipmentStatus as S
from sync.carriers.aftership import REQUEST_SLUGS, SLUGS, SUBTAGS, TAGS, AfterShipAdapter
from sync.carriers.aggregator import key
from sync.carriers.base import NotFound, RateLimited, TrackRequest
from tests.carriers.aggregator_support import KEY, make
from tests.carriers.recording_server import Recorded, Reply, replies, serving

NUMBER = "1Z999AA10123456784"
BASE = "/tracking/2025-04/trackings"


def tracking(**fields: Any) -> dict[str, Any]:
    """A Tracking object as the 2025-04 reference describes it."""
    data: dict[str, Any] = {
        "id": "kponlnb1w64fmlxlakyln00l",
        "legacy_id": "5b74f4958776db0e00b6f5ed",
        "tracking_number": NUMBER,
        "slug": "ups",
        "active": True,
        "tag": "InTransit",
        "subtag": "InTransit_003",
        "subtag_message": "Arrival scan",
        "return_to_sender": False,
        "destination_country_region": "USA",
        "destination_state": "CA",
        "checkpoints": [],
        "courier_estimated_delivery_date": None,
        "aftership_estimated_delivery_date": None,
        "first_estimated_delivery": None,
        "latest_estimated_delivery": None,
    }
    data.update(fields)
    return data


def envelope(data: dict[str, Any], code: int = 200) -> dict[str, Any]:
    return {"meta": {"code": code, "message": "OK", "type": "OK"}, "data": data}


def error(code: int, message: str, status: int = 400) -> Reply:
    return Reply(
        status, {"meta": {"code": code, "message": message, "type": "BadRequest"}, "data": {}}
    )


def checkpoint(when: str, tag: str, subtag: str, **fields: Any) -> dict[str, Any]:
    return {
        "slug": "ups",
        "created_at": "2024-05-03T00:00:00Z",
        "checkpoint_time": when,
        "city": fields.pop("city", None),
        "state": fields.pop("state", None),
        "country_region": fields.pop("country_region", None),
        "country_region_name": fields.pop("country_region_name", None),
        "location": fields.pop("location", None),
        "message": fields.pop("message", f"{tag} scan"),
        "tag": tag,
        "subtag": subtag,
        "subtag_message": fields.pop("subtag_message", subtag),
        **fields,
    }


async def track(handler: Any, *requests: TrackRequest) -> tuple[list, list[Recorded]]:
    with serving(handler) as server:
        adapter = make(AfterShipAdapter, server.url)
        try:
            return await adapter.track(list(requests)), server.requests
        finally:
            await adapter.aclose()


async def test_create_then_read_by_id_with_the_documented_request() -> None:
    created = tracking(tag="Pending", subtag="Pending_001", subtag_message="Pending")
    read = tracking(
        checkpoints=[checkpoint("2024-05-02T10:00:00-07:00", "InTransit", "InTransit_002")]
    )

    def handler(request: Recorded) -> Reply:
        if request.method == "POST":
            return Reply(201, envelope(created, 201))
        return Reply(200, envelope(read))

    with serving(handler) as server:
        adapter = make(AfterShipAdapter, server.url)
        request = TrackRequest(
            NUMBER, carrier="ups", destination_country="US", destination_zip="90210"
        )
        [first] = await adapter.track([request])
        [second] = await adapter.track(
            [TrackRequest(NUMBER, carrier="ups", provider_ref=first.provider_ref)]
        )
        await adapter.aclose()
    post, get = server.requests
    assert (post.method, post.path) == ("POST", BASE)
    assert post.headers["as-api-key"] == KEY
    assert post.headers["content-type"] == "application/json"
    assert post.json() == {
        "tracking_number": NUMBER,
        "slug": "ups",
        "destination_country_region": "USA",
        "destination_postal_code": "90210",
    }
    # The created tracking has no scans yet: AfterShip does not know it yet.
    assert first.provider_ref == "kponlnb1w64fmlxlakyln00l"
    assert isinstance(first.error, NotFound) and first.status is S.PENDING
    # The next poll reads by id and creates nothing.
    assert (get.method, get.path) == ("GET", f"{BASE}/kponlnb1w64fmlxlakyln00l")
    assert get.headers["as-api-key"] == KEY
    assert second.error is None
    assert second.status is S.IN_TRANSIT and second.substatus == "Arrival scan"
    assert second.carrier == "ups" and second.provider_ref == first.provider_ref


async def test_unknown_carrier_is_left_to_detection() -> None:
    results, requests = await track(
        replies(Reply(201, envelope(tracking(slug="royal-mail")))), TrackRequest("RR123456789GB")
    )
    assert "slug" not in requests[0].json()
    assert results[0].carrier == "royal_mail"


async def test_existing_tracking_is_found_by_number() -> None:
    listed = {"pagination": {"total": 1}, "trackings": [tracking(id="existing-id")]}

    def handler(request: Recorded) -> Reply:
        if request.method == "POST":
            return error(4003, "Tracking already exists.")
        return Reply(200, envelope(listed))

    results, requests = await track(handler, TrackRequest(NUMBER, carrier="ups"))
    assert results[0].provider_ref == "existing-id"
    assert results[0].status is S.IN_TRANSIT
    assert requests[1].path == BASE
    assert requests[1].query == {"tracking_numbers": [NUMBER], "slug": ["ups"]}


async def test_a_stored_id_that_is_gone_is_created_again() -> None:
    def handler(request: Recorded) -> Reply:
        if request.method == "GET":
            return error(4004, "Tracking does not exist.", status=404)
        return Reply(201, envelope(tracking(id="fresh-id")))

    results, requests = await track(handler, TrackRequest(NUMBER, provider_ref="old-id"))
    assert [r.method for r in requests] == ["GET", "POST"]
    assert results[0].provider_ref == "fresh-id"


@pytest.mark.parametrize(
    ("code", "message"),
    [(4005, "The value of tracking_number is invalid."), (4012, "Unable to import shipment"),
     (4017, "The format of tracking_number is invalid.")],
)  # fmt: skip
async def test_untrackable_numbers_are_not_found_per_number(code: int, message: str) -> None:
    results, _ = await track(replies(error(code, message)), TrackRequest("BAD"))
    assert isinstance(results[0].error, NotFound)
    assert message in str(results[0].error)


async def test_every_documented_tag_and_subtag() -> None:
    assert set(TAGS) == {
        "Pending", "InfoReceived", "InTransit", "OutForDelivery", "AttemptFail",
        "Delivered", "AvailableForPickup", "Exception", "Expired",
    }  # fmt: skip
    cases = [(tag, None, status) for tag, status in TAGS.items()]
    cases += [(subtag.split("_")[0], subtag, status) for subtag, status in SUBTAGS.items()]
    current: dict[str, Any] = {}
    with serving(lambda _: Reply(200, envelope(current["t"]))) as server:
        adapter = make(AfterShipAdapter, server.url)
        for tag, subtag, expected in cases:
            scan = checkpoint("2024-05-02T10:00:00Z", tag, subtag or f"{tag}_001")
            current["t"] = tracking(tag=tag, subtag=subtag, checkpoints=[scan])
            [result] = await adapter.track([TrackRequest(NUMBER, provider_ref="id")])
            assert result.status is expected, (tag, subtag)
            assert result.events[0].status is SUBTAGS.get(scan["subtag"], TAGS[tag]), subtag
        await adapter.aclose()
    # Spot checks of the table's judgement calls.
    assert SUBTAGS["AttemptFail_002"] is S.FAILED_ATTEMPT
    assert SUBTAGS["OutForDelivery_002"] is S.AVAILABLE_FOR_PICKUP
    assert SUBTAGS["Exception_011"] is S.EXCEPTION


async def test_multi_event_history_keeps_offsets_and_reads_naive_times_locally() -> None:
    checkpoints = [
        # Naive, in Germany: read as Berlin time (summer: +02:00).
        checkpoint("2024-07-01T08:00:00", "InfoReceived", "InfoReceived_001",
                   city="Köln", country_region="DEU", country_region_name="Germany"),
        # With an offset: kept.
        checkpoint("2024-07-02T09:30:00+08:00", "InTransit", "InTransit_007",
                   location="Shenzhen Hub"),
        # Naive, US state given: Pacific time.
        checkpoint("2024-07-03T07:15:00", "OutForDelivery", "OutForDelivery_001",
                   city="Los Angeles", state="CA", country_region="USA"),
        # Naive and nowhere: UTC, and no offset claimed.
        checkpoint("2024-07-03T18:00:00", "Delivered", "Delivered_001"),
    ]  # fmt: skip
    results, _ = await track(
        replies(Reply(200, envelope(tracking(tag="Delivered", subtag="Delivered_001",
                                             checkpoints=list(reversed(checkpoints)))))),
        TrackRequest(NUMBER, provider_ref="id"),
    )  # fmt: skip
    events = results[0].events
    assert [e.status for e in events] == [
        S.INFO_RECEIVED, S.IN_TRANSIT, S.OUT_FOR_DELIVERY, S.DELIVERED
    ]  # fmt: skip
    assert events[0].occurred_at == datetime(2024, 7, 1, 6, 0, tzinfo=UTC)
    assert events[0].utc_offset_minutes == 120
    assert events[0].location == "Köln, Germany"
    assert events[1].occurred_at == datetime(2024, 7, 2, 1, 30, tzinfo=UTC)
    assert events[1].utc_offset_minutes == 480 and events[1].location == "Shenzhen Hub"
    assert events[2].occurred_at == datetime(2024, 7, 3, 14, 15, tzinfo=UTC)
    assert events[2].utc_offset_minutes == -420
    assert events[3].occurred_at == datetime(2024, 7, 3, 18, 0, tzinfo=UTC)
    assert events[3].utc_offset_minutes is None
    assert results[0].status is S.DELIVERED


async def test_estimate_revisions_and_the_original() -> None:
    first = {"type": "specific", "source": "Carrier EDD", "datetime": "2024-05-03"}
    polls = [
        tracking(first_estimated_delivery=first, latest_estimated_delivery=first),
        tracking(
            first_estimated_delivery=first,
            latest_estimated_delivery={
                "type": "range", "source": "AfterShip EDD", "datetime": None,
                "datetime_min": "2024-05-04", "datetime_max": "2024-05-06",
            },
        ),
        tracking(courier_estimated_delivery_date={"estimated_delivery_date": "2024-05-07T12:00:00-07:00"}),
    ]  # fmt: skip
    with serving(replies(*(Reply(200, envelope(p)) for p in polls))) as server:
        adapter = make(AfterShipAdapter, server.url)
        seen = [(await adapter.track([TrackRequest(NUMBER, provider_ref="id")]))[0] for _ in polls]
        await adapter.aclose()
    # Dates are "by the end of that day" in the recipient's zone (California).
    assert seen[0].estimated_delivery == datetime(2024, 5, 4, 6, 59, 59, tzinfo=UTC)
    assert seen[1].estimated_delivery == datetime(2024, 5, 7, 6, 59, 59, tzinfo=UTC)
    assert seen[0].original_estimated_delivery == seen[1].original_estimated_delivery
    assert seen[1].original_estimated_delivery == datetime(2024, 5, 4, 6, 59, 59, tzinfo=UTC)
    assert seen[2].estimated_delivery == datetime(2024, 5, 7, 19, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "fields",
    [{"return_to_sender": True}, {"tag": "Exception", "subtag": "Exception_011"},
     {"checkpoints": [checkpoint("2024-05-02T10:00:00Z", "Exception", "Exception_010")]}],
)  # fmt: skip
async def test_returned_to_sender(fields: dict[str, Any]) -> None:
    results, _ = await track(
        replies(Reply(200, envelope(tracking(**fields)))), TrackRequest(NUMBER, provider_ref="id")
    )
    assert results[0].returned


async def test_unknown_codes_fall_back_safely_and_are_logged_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="orderdeck.carriers")
    body = tracking(
        tag="InTransit", subtag="InTransit_999",
        checkpoints=[checkpoint("2024-05-02T10:00:00Z", "Teleported", "Teleported_001")],
    )  # fmt: skip
    with serving(lambda _: Reply(200, envelope(body))) as server:
        adapter = make(AfterShipAdapter, server.url)
        for _ in range(3):
            [result] = await adapter.track([TrackRequest(NUMBER, provider_ref="id")])
        await adapter.aclose()
    assert result.status is S.IN_TRANSIT  # unknown subtag: its tag's meaning
    assert result.events[0].status is S.IN_TRANSIT  # unknown tag: in transit, never final
    assert caplog.text.count("'InTransit_999'") == 1
    assert caplog.text.count("'Teleported'") == 1


async def test_empty_history_is_not_found_yet_but_keeps_the_id() -> None:
    results, _ = await track(
        replies(
            Reply(200, envelope(tracking(tag="Pending", subtag="Pending_001", checkpoints=[])))
        ),
        TrackRequest(NUMBER, provider_ref="kponlnb1w64fmlxlakyln00l"),
    )
    assert isinstance(results[0].error, NotFound)
    assert results[0].provider_ref == "kponlnb1w64fmlxlakyln00l"
    assert results[0].events == []


async def test_expired_is_final() -> None:
    results, _ = await track(
        replies(Reply(200, envelope(tracking(tag="Expired", subtag="Expired_001")))),
        TrackRequest(NUMBER, provider_ref="id"),
    )
    assert results[0].status is S.EXPIRED and results[0].error is None


async def test_429_waits_until_the_rate_limit_reset() -> None:
    reset = int(time.time()) + 5
    with pytest.raises(RateLimited) as caught:
        await track(replies(Reply(429, {"meta": {"code": 429}}, headers={"X-RateLimit-Reset": str(reset)})),
                    TrackRequest(NUMBER))  # fmt: skip
    assert caught.value.retry_after is not None and 3.0 <= caught.value.retry_after <= 5.0


def test_request_slugs_map_back_to_their_codes() -> None:
    for code, slug in REQUEST_SLUGS.items():
        assert SLUGS[key(slug)] == code, slug


async def test_key_never_appears_in_results() -> None:
    results, _ = await track(replies(Reply(201, envelope(tracking()))), TrackRequest(NUMBER))
    assert KEY not in repr(results)
