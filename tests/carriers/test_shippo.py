"""Shippo tracking against a loopback server serving its documented shapes."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import pytest

from store.statuses import ShipmentStatus as S
from sync.carriers.base import NotFound, TrackRequest
from sync.carriers.shippo import REQUEST_TOKENS, STATUSES, SUBSTATUSES, TOKENS, ShippoAdapter
from tests.carriers.aggregator_support import KEY, make
from tests.carriers.recording_server import Recorded, Reply, replies, serving

NUMBER = "9205590164917312751089"

#: Each documented substatus under the status it is documented for.
PARENTS = {
    "information_received": "PRE_TRANSIT", "delivered": "DELIVERED",
    "return_to_sender": "RETURNED", "package_unclaimed": "RETURNED",
    "package_undeliverable": "FAILURE", "package_disposed": "FAILURE", "package_lost": "FAILURE",
    "other": "UNKNOWN",
}  # fmt: skip


def status(
    status: str, code: str | None, when: str, details: str = "", **where: Any
) -> dict[str, Any]:
    return {
        "object_created": "2024-05-03T20:35:26.129Z",
        "object_updated": "2024-05-03T20:35:26.129Z",
        "object_id": "ce48ff3d52a34e91b77aa98370182624",
        "status": status,
        "substatus": {"code": code, "text": f"{code} text", "action_required": False}
        if code
        else None,
        "status_details": details or f"{status} details",
        "status_date": when,
        "location": {"city": None, "state": None, "zip": None, "country": None, **where},
    }


def track_object(current: dict[str, Any] | None = None, history: list[dict[str, Any]] | None = None,
                 **fields: Any) -> dict[str, Any]:  # fmt: skip
    """A Track object as ``GET /tracks/{carrier}/{tracking_number}`` documents it."""
    history = history if history is not None else [
        status("TRANSIT", "package_accepted", "2024-05-01T15:33:00Z", city="Las Vegas", state="NV", country="US"),
    ]  # fmt: skip
    data = {
        "carrier": "usps", "tracking_number": NUMBER,
        "address_from": {"city": "Las Vegas", "state": "NV", "zip": "89101", "country": "US"},
        "address_to": {"city": "Spotsylvania", "state": "VA", "zip": "22551", "country": "US"},
        "transaction": None, "original_eta": None, "eta": None,
        "servicelevel": {"token": "usps_priority", "name": "Priority Mail"}, "metadata": None,
        "tracking_status": current if current is not None else (history[-1] if history else None),
        "tracking_history": history, "messages": [], "test": True,
    }  # fmt: skip
    data.update(fields)
    return data


async def run(handler: Any, *requests: TrackRequest, **options: Any) -> tuple[list, list[Recorded]]:
    with serving(handler) as server:
        adapter = make(ShippoAdapter, server.url, **options)
        try:
            return await adapter.track(list(requests)), server.requests
        finally:
            await adapter.aclose()


async def test_get_by_carrier_and_number_with_the_shippo_token() -> None:
    [result], sent = await run(
        replies(Reply(200, track_object())), TrackRequest(NUMBER, carrier="usps")
    )
    [request] = sent
    assert (request.method, request.path) == ("GET", f"/tracks/usps/{NUMBER}")
    assert request.headers["authorization"] == f"ShippoToken {KEY}"
    assert "shippo-api-version" not in request.headers
    assert result.error is None and result.status is S.IN_TRANSIT and result.carrier == "usps"
    assert result.substatus == "package_accepted text"


async def test_api_version_header_and_carrier_tokens() -> None:
    _, sent = await run(replies(Reply(200, track_object(carrier="dhl_germany"))),
                        TrackRequest(NUMBER, carrier="deutsche_post"), api_version="2018-02-08")  # fmt: skip
    assert sent[0].path == f"/tracks/dhl_germany/{NUMBER}"
    assert sent[0].headers["shippo-api-version"] == "2018-02-08"


async def test_a_carrier_shippo_cannot_track_is_reported_without_calling() -> None:
    [a, b], sent = await run(replies(Reply(200, track_object())), TrackRequest("X1", carrier="sandbox"),
                             TrackRequest("X2"))  # fmt: skip
    assert sent == []
    assert isinstance(a.error, NotFound) and "'sandbox'" in str(a.error)
    assert isinstance(b.error, NotFound) and "unknown carrier" in str(b.error)


@pytest.mark.parametrize(
    ("reply", "reason"),
    [(Reply(404, {"detail": "Not found."}), "detail: Not found."),
     (Reply(400, {"tracking_number": ["This field is required."]}), "tracking_number: This field is required."),
     (Reply(404, b"<h1>Not Found</h1>", headers={"Content-Type": "text/html"}), "HTTP 404")],
)  # fmt: skip
async def test_not_found_is_per_number(reply: Reply, reason: str) -> None:
    [result], _ = await run(replies(reply), TrackRequest(NUMBER, carrier="usps"))
    assert isinstance(result.error, NotFound) and reason in str(result.error)


async def test_unknown_with_empty_history_is_not_found_yet() -> None:
    current = status("UNKNOWN", None, None, "The carrier has not received the package yet")  # type: ignore[arg-type]
    [result], _ = await run(
        replies(Reply(200, track_object(current, history=[]))), TrackRequest(NUMBER, carrier="usps")
    )
    assert isinstance(result.error, NotFound) and "not received the package" in str(result.error)
    assert result.status is S.PENDING and result.events == []


async def test_every_documented_status_and_substatus() -> None:
    cases = [(parent, None, expected) for parent, expected in STATUSES.items()]
    cases += [
        (PARENTS.get(code, "TRANSIT"), code, expected) for code, expected in SUBSTATUSES.items()
    ]
    current: dict[str, Any] = {}
    with serving(lambda _: Reply(200, current["t"])) as server:
        adapter = make(ShippoAdapter, server.url)
        for parent, code, expected in cases:
            entry = status(parent, code, "2024-05-02T10:00:00Z")
            current["t"] = track_object(entry, [entry])
            [result] = await adapter.track([TrackRequest(NUMBER, carrier="usps")])
            assert result.status is expected, (parent, code)
            assert result.events[0].status is expected, (parent, code)
        await adapter.aclose()
    assert set(STATUSES) == {
        "PRE_TRANSIT",
        "TRANSIT",
        "DELIVERED",
        "RETURNED",
        "FAILURE",
        "UNKNOWN",
    }
    assert len(SUBSTATUSES) == 27


async def test_history_times_are_utc_even_when_naive() -> None:
    history = [
        status("PRE_TRANSIT", "information_received", "2024-05-01T08:00:00Z"),
        status("TRANSIT", "package_departed", "2024-05-02T09:30:00+02:00", city="Berlin", country="DE"),
        # No offset, location in California: Shippo documents UTC, so UTC it is.
        status("TRANSIT", "out_for_delivery", "2024-05-03T07:00:00", city="Los Angeles", state="CA", country="US"),
        status("DELIVERED", "delivered", "2024-05-03T20:03:00Z", city="Los Angeles", state="CA", zip="90001", country="US"),
    ]  # fmt: skip
    [result], _ = await run(replies(Reply(200, track_object(history=list(reversed(history))))),
                            TrackRequest(NUMBER, carrier="usps"))  # fmt: skip
    got = [(e.occurred_at, e.utc_offset_minutes, e.status, e.location) for e in result.events]
    assert got == [
        (datetime(2024, 5, 1, 8, 0, tzinfo=UTC), 0, S.INFO_RECEIVED, None),
        (datetime(2024, 5, 2, 7, 30, tzinfo=UTC), 120, S.IN_TRANSIT, "Berlin, DE"),
        (datetime(2024, 5, 3, 7, 0, tzinfo=UTC), None, S.OUT_FOR_DELIVERY, "Los Angeles, CA, US"),
        (datetime(2024, 5, 3, 20, 3, tzinfo=UTC), 0, S.DELIVERED, "Los Angeles, CA, 90001, US"),
    ]


async def test_eta_revisions_keep_the_original() -> None:
    polls = [
        track_object(eta="2024-05-04T00:00:00Z", original_eta="2024-05-04T00:00:00Z"),
        track_object(eta="2024-05-06T00:00:00Z", original_eta="2024-05-04T00:00:00Z"),
    ]
    with serving(replies(*(Reply(200, p) for p in polls))) as server:
        adapter = make(ShippoAdapter, server.url)
        seen = [(await adapter.track([TrackRequest(NUMBER, carrier="usps")]))[0] for _ in polls]
        await adapter.aclose()
    assert [s.estimated_delivery for s in seen] == [
        datetime(2024, 5, 4, tzinfo=UTC),
        datetime(2024, 5, 6, tzinfo=UTC),
    ]
    assert {s.original_estimated_delivery for s in seen} == {datetime(2024, 5, 4, tzinfo=UTC)}


@pytest.mark.parametrize("code", ["return_to_sender", "package_unclaimed"])
async def test_returned(code: str) -> None:
    entry = status("RETURNED", code, "2024-05-05T10:00:00Z")
    [result], _ = await run(
        replies(Reply(200, track_object(entry, [entry]))), TrackRequest(NUMBER, carrier="usps")
    )
    assert result.returned and result.status is S.EXCEPTION


async def test_unknown_codes_are_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="orderdeck.carriers")
    entry = status("TRANSIT", "package_teleported", "2024-05-05T10:00:00Z")
    odd = status("LIMBO", None, "2024-05-05T11:00:00Z")
    body = track_object(odd, [entry, odd])
    with serving(lambda _: Reply(200, body)) as server:
        adapter = make(ShippoAdapter, server.url)
        for _ in range(2):
            [result] = await adapter.track([TrackRequest(NUMBER, carrier="usps")])
        await adapter.aclose()
    assert result.status is S.IN_TRANSIT
    assert [e.status for e in result.events] == [S.IN_TRANSIT, S.IN_TRANSIT]
    assert caplog.text.count("'package_teleported'") == 1 and caplog.text.count("'LIMBO'") == 1


def test_tokens() -> None:
    for code, token in REQUEST_TOKENS.items():
        assert TOKENS[token] == code
    assert (
        REQUEST_TOKENS["deutsche_post"] == "dhl_germany" and REQUEST_TOKENS["dhl"] == "dhl_express"
    )
    assert ShippoAdapter.covers == frozenset(TOKENS.values())


async def test_mock_numbers_use_the_test_carrier_under_a_test_key() -> None:
    assert KEY.startswith("shippo_test_")
    body = track_object(carrier="shippo", tracking_number="SHIPPO_TRANSIT")
    [result], sent = await run(
        replies(Reply(200, body)), TrackRequest("SHIPPO_TRANSIT", carrier="usps")
    )
    assert sent[0].path == "/tracks/shippo/SHIPPO_TRANSIT"
    assert result.status is S.IN_TRANSIT and result.carrier == "usps"
