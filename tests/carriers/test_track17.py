"""17TRACK API v2.2 against a loopback server serving its documented shapes."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import pytest

from store.statuses import ShipmentStatus as S
from sync.carriers.base import (
    AuthError,
    BadResponse,
    NotFound,
    RateLimited,
    TemporaryError,
    TrackRequest,
)
from sync.carriers.track17 import STATUSES, SUB_STATUSES, Track17Adapter
from tests.carriers.aggregator_support import KEY, make
from tests.carriers.recording_server import Recorded, Reply, serving

NUMBER = "RR123456789CN"


def ok(
    accepted: list[dict[str, Any]] | None = None, rejected: list[dict[str, Any]] | None = None
) -> Reply:
    return Reply(200, {"code": 0, "data": {"accepted": accepted or [], "rejected": rejected or []}})


def refused(code: int, message: str) -> Reply:
    return Reply(200, {"code": code, "data": {"errors": [{"code": code, "message": message}]}})


def rejection(number: str, code: int, message: str = "refused") -> dict[str, Any]:
    return {"number": number, "error": {"code": code, "message": message}}


def event(
    time_iso: str | None, stage: str | None, description: str, **fields: Any
) -> dict[str, Any]:
    return {
        "time_iso": time_iso,
        "time_utc": fields.pop("time_utc", None),
        "time_raw": fields.pop("time_raw", None),
        "description": description,
        "location": fields.pop("location", None),
        "stage": stage,
        "address": fields.pop("address", {"country": None, "state": None, "city": None}),
        **fields,
    }


def info(number: str = NUMBER, carrier: int = 3011, status: str = "InTransit",
         sub_status: str | None = "InTransit_Other", events: list[dict[str, Any]] | None = None,
         eta: dict[str, Any] | None = None, recipient: dict[str, Any] | None = None,
         milestone: list[dict[str, Any]] | None = None) -> dict[str, Any]:  # fmt: skip
    """One ``gettrackinfo`` accepted item, as the v2.2 reference describes it."""
    return {
        "number": number,
        "carrier": carrier,
        "param": None,
        "tag": None,
        "track_info": {
            "shipping_info": {
                "shipper_address": {"country": "CN", "state": "GD", "city": "SHENZHEN"},
                "recipient_address": recipient or {"country": "US", "state": "CA", "city": "LOS ANGELES"},
            },
            "latest_status": {"status": status, "sub_status": sub_status, "sub_status_descr": None},
            "latest_event": None,
            "time_metrics": {
                "days_after_order": 3, "days_of_transit": 2, "days_of_transit_done": 2,
                "days_after_last_update": 0, "estimated_delivery_date": eta,
            },
            "milestone": milestone or [],
            "misc_info": {},
            "tracking": {
                "providers_hash": 1,
                "providers": [{
                    "provider": {"key": carrier, "name": "China Post", "country": "CN"},
                    "latest_sync_status": "Success",
                    "events": events if events is not None else [
                        event("2024-05-01T10:00:00+08:00", "InTransit_PickedUp", "Picked up")
                    ],
                }],
            },
        },
    }  # fmt: skip


class Provider:
    """A tiny 17TRACK: remembers registrations, answers gettrackinfo from a table."""

    def __init__(self, infos: dict[str, dict[str, Any]] | None = None) -> None:
        self.registered: dict[str, int] = {}
        self.infos = infos or {}
        self.register_rejects: dict[str, int] = {}

    def __call__(self, request: Recorded) -> Reply:
        items = request.json()
        if request.path.endswith("/register"):
            accepted, rejected = [], []
            for item in items:
                number = item["number"]
                if number in self.register_rejects:
                    rejected.append(rejection(number, self.register_rejects[number]))
                elif number in self.registered:
                    rejected.append(rejection(number, -18019901, "already registered"))
                else:
                    self.registered[number] = item.get("carrier", 3011)
                    accepted.append(
                        {"origin": 1, "number": number, "carrier": self.registered[number]}
                    )
            return ok(accepted, rejected)
        accepted, rejected = [], []
        for item in items:
            number = item["number"]
            if number not in self.registered:
                rejected.append(rejection(number, -18019902, "not registered"))
            elif number in self.infos:
                accepted.append(self.infos[number])
            else:
                accepted.append(
                    info(number, status="NotFound", sub_status="NotFound_Other", events=[])
                )
        return ok(accepted, rejected)


async def run(
    handler: Any, requests: list[TrackRequest], **options: Any
) -> tuple[list, list[Recorded]]:
    with serving(handler) as server:
        adapter = make(Track17Adapter, server.url, **options)
        try:
            return await adapter.track(requests), server.requests
        finally:
            await adapter.aclose()


async def test_register_then_gettrackinfo_with_the_documented_request() -> None:
    provider = Provider({NUMBER: info(carrier=21051)})
    results, requests = await run(provider, [TrackRequest(NUMBER, carrier="usps")])
    register, fetch = requests
    assert (register.method, register.path) == ("POST", "/track/v2.2/register")
    assert register.headers["17token"] == KEY
    assert register.headers["content-type"] == "application/json"
    assert register.json() == [{"number": NUMBER, "carrier": 21051}]
    assert fetch.path == "/track/v2.2/gettrackinfo"
    assert fetch.json() == [{"number": NUMBER, "carrier": 21051}]
    [result] = results
    assert result.error is None and result.status is S.IN_TRANSIT
    assert result.provider_ref == "21051"  # the carrier key: registered, never again
    assert result.carrier == "usps"


async def test_registered_numbers_are_not_registered_again_and_batches_hold_40() -> None:
    numbers = [f"LX{n:09d}CN" for n in range(95)]
    provider = Provider({n: info(n) for n in numbers})
    provider.registered = {n: 3011 for n in numbers[:10]}
    requests = [
        TrackRequest(n, provider_ref="3011" if i < 10 else None) for i, n in enumerate(numbers)
    ]
    results, sent = await run(provider, requests)
    registers = [r for r in sent if r.path.endswith("/register")]
    fetches = [r for r in sent if r.path.endswith("/gettrackinfo")]
    assert max(len(r.json()) for r in sent) == 40
    assert sorted(i["number"] for r in registers for i in r.json()) == sorted(numbers[10:])
    assert sorted(i["number"] for r in fetches for i in r.json()) == sorted(numbers)
    assert len(registers) == 3 and len(fetches) == 3  # 95 = 40 + 40 + 15, each batch once
    assert all(r.error is None for r in results)
    assert [r.tracking_number for r in results] == numbers


async def test_a_forgotten_number_is_registered_again_in_the_same_call() -> None:
    provider = Provider({NUMBER: info()})
    results, sent = await run(provider, [TrackRequest(NUMBER, provider_ref="3011")])
    assert [r.path.rsplit("/", 1)[1] for r in sent] == ["gettrackinfo", "register", "gettrackinfo"]
    assert results[0].status is S.IN_TRANSIT and results[0].provider_ref == "3011"


async def test_already_registered_elsewhere_is_fine() -> None:
    provider = Provider({NUMBER: info()})
    provider.registered[NUMBER] = 3011
    results, _ = await run(provider, [TrackRequest(NUMBER)])
    assert results[0].error is None and results[0].provider_ref == "3011"


@pytest.mark.parametrize(
    ("code", "error"),
    [
        (-18019903, NotFound),
        (-18010012, NotFound),
        (-18019910, NotFound),
        (-18019911, TemporaryError),
    ],
)
async def test_registration_refusals_are_per_number(code: int, error: type) -> None:
    provider = Provider({"GOOD123456": info("GOOD123456")})
    provider.register_rejects["BAD"] = code
    results, _ = await run(provider, [TrackRequest("BAD"), TrackRequest("GOOD123456")])
    assert isinstance(results[0].error, error) and str(code) in str(results[0].error)
    assert results[0].provider_ref is None  # not registered: try again next time
    assert results[1].error is None


async def test_quota_used_up_is_surfaced_per_number() -> None:
    provider = Provider({"OLD1234567": info("OLD1234567")})
    provider.registered["OLD1234567"] = 3011
    provider.register_rejects[NUMBER] = -18019908
    results, _ = await run(
        provider, [TrackRequest(NUMBER), TrackRequest("OLD1234567", provider_ref="3011")]
    )
    assert isinstance(results[0].error, RateLimited)
    assert "quota is used up" in str(results[0].error) and "-18019908" in str(results[0].error)
    assert results[1].error is None  # registered numbers keep updating


async def test_daily_limit_waits_for_midnight_utc() -> None:
    provider = Provider()
    provider.register_rejects[NUMBER] = -18019907
    results, _ = await run(provider, [TrackRequest(NUMBER)])
    error = results[0].error
    assert isinstance(error, RateLimited) and "daily registration limit" in str(error)
    assert error.retry_after is not None and 0 < error.retry_after <= 86400


@pytest.mark.parametrize("code", [-18010001, -18010002, -18010004, -18010005])
async def test_envelope_auth_codes_are_auth_errors(code: int) -> None:
    with pytest.raises(AuthError, match=r"\[carriers\.17track\]") as caught:
        await run(lambda _: refused(code, f"Invalid key {KEY}"), [TrackRequest(NUMBER)])
    assert str(code) in str(caught.value) and KEY not in str(caught.value)


async def test_envelope_quota_code_is_raised_clearly() -> None:
    with pytest.raises(RateLimited, match="quota is used up"):
        await run(lambda _: refused(-18019908, "quota"), [TrackRequest(NUMBER)])


async def test_envelope_429_and_internal_errors() -> None:
    with pytest.raises(RateLimited) as caught:
        await run(lambda _: refused(429, "Too many requests."), [TrackRequest(NUMBER)])
    assert caught.value.retry_after == 1.0
    with pytest.raises(TemporaryError):
        await run(lambda _: refused(-18010003, "Internal service error."), [TrackRequest(NUMBER)])
    with pytest.raises(BadResponse, match="-18010014"):
        await run(lambda _: refused(-18010014, "exceeds 40"), [TrackRequest(NUMBER)])


async def test_every_documented_status_and_sub_status() -> None:
    assert len(STATUSES) == 9
    cases = [(main, None, status) for main, status in STATUSES.items() if main != "NotFound"]
    cases += [
        (sub.split("_")[0], sub, status)
        for sub, status in SUB_STATUSES.items()
        if not sub.startswith("NotFound")
    ]
    state: dict[str, Any] = {}
    provider = Provider()
    provider.registered[NUMBER] = 3011
    with serving(
        lambda r: ok([state["info"]]) if r.path.endswith("gettrackinfo") else provider(r)
    ) as server:
        adapter = make(Track17Adapter, server.url)
        for main, sub, expected in cases:
            state["info"] = info(
                status=main, sub_status=sub, events=[event("2024-05-01T10:00:00Z", sub, "x")]
            )
            [result] = await adapter.track([TrackRequest(NUMBER, provider_ref="3011")])
            assert result.status is expected, (main, sub)
            assert result.events[0].status is (SUB_STATUSES[sub] if sub else S.IN_TRANSIT), sub
        await adapter.aclose()


@pytest.mark.parametrize(
    ("sub", "invalid"), [("NotFound_Other", False), ("NotFound_InvalidCode", True)]
)
async def test_not_found_status_is_a_per_number_not_found(sub: str, invalid: bool) -> None:
    provider = Provider({NUMBER: info(status="NotFound", sub_status=sub, events=[])})
    provider.registered[NUMBER] = 3011
    [result], _ = await run(provider, [TrackRequest(NUMBER, provider_ref="3011")])
    assert isinstance(result.error, NotFound)
    assert ("invalid" in str(result.error)) is invalid
    assert result.provider_ref == "3011" and result.events == []


async def test_no_tracking_info_yet_rejection() -> None:
    def handler(request: Recorded) -> Reply:
        return ok(rejected=[rejection(NUMBER, -18019909, "no tracking information")])

    [result], _ = await run(handler, [TrackRequest(NUMBER, provider_ref="3011")])
    assert isinstance(result.error, NotFound) and result.provider_ref == "3011"


async def test_history_times_offsets_and_raw_local_times() -> None:
    events = [
        event("2024-05-02T14:34:00-04:00", "Delivered_Other", "Delivered", location="LOS ANGELES, CA"),
        event(None, "InTransit_Arrival", "Arrived", time_utc="2024-04-28T06:30:00Z",
              address={"country": "US", "state": "CA", "city": "LOS ANGELES"}),
        # Carrier-local raw time without a zone, in Germany: Berlin time.
        event(None, "InTransit_Departure", "Departed", time_raw={"date": "2024-04-27", "time": "09:00:00"},
              address={"country": "DE", "city": "LEIPZIG"}),
        # Raw time with its zone given.
        event(None, "InTransit_PickedUp", "Picked up",
              time_raw={"date": "2024-04-26", "time": "14:30:00", "timezone": "+08:00"},
              address={"country": "CN", "city": "SHENZHEN"}),
        # Raw, nowhere: UTC.
        event(None, "InfoReceived", "Label", time_raw={"date": "2024-04-25", "time": "10:00"}),
        event(None, None, "No time at all"),
    ]  # fmt: skip
    provider = Provider(
        {NUMBER: info(status="Delivered", sub_status="Delivered_Other", events=events)}
    )
    provider.registered[NUMBER] = 3011
    [result], _ = await run(provider, [TrackRequest(NUMBER, provider_ref="3011")])
    got = [(e.occurred_at, e.utc_offset_minutes, e.status, e.location) for e in result.events]
    assert got == [
        (datetime(2024, 4, 25, 10, 0, tzinfo=UTC), None, S.INFO_RECEIVED, None),
        (datetime(2024, 4, 26, 6, 30, tzinfo=UTC), 480, S.IN_TRANSIT, "SHENZHEN, CN"),
        (datetime(2024, 4, 27, 7, 0, tzinfo=UTC), 120, S.IN_TRANSIT, "LEIPZIG, DE"),
        (datetime(2024, 4, 28, 6, 30, tzinfo=UTC), 0, S.IN_TRANSIT, "LOS ANGELES, CA, US"),
        (datetime(2024, 5, 2, 18, 34, tzinfo=UTC), -240, S.DELIVERED, "LOS ANGELES, CA"),
    ]
    assert result.status is S.DELIVERED


async def test_events_without_a_stage() -> None:
    events = [
        event("2024-05-01T10:00:00Z", None, "Something happened"),
        event("2024-05-01T09:00:00Z", "", "x"),
    ]
    provider = Provider(
        {NUMBER: info(status="InTransit", sub_status="InTransit_Other", events=events)}
    )
    provider.registered[NUMBER] = 3011
    [result], _ = await run(provider, [TrackRequest(NUMBER, provider_ref="3011")])
    assert [e.status for e in result.events] == [S.IN_TRANSIT, S.IN_TRANSIT]


async def test_estimated_delivery_revisions_take_the_end_of_the_window() -> None:
    windows = [
        {
            "source": "Official",
            "from": "2024-05-01T08:00:00-04:00",
            "to": "2024-05-03T20:00:00-04:00",
        },
        {"source": "Official", "from": "2024-05-04", "to": "2024-05-05"},
        None,
    ]
    state = {"i": 0}
    provider = Provider()
    provider.registered[NUMBER] = 3011

    def handler(request: Recorded) -> Reply:
        if request.path.endswith("gettrackinfo"):
            state["i"] += 1
            return ok([info(eta=windows[state["i"] - 1])])
        return provider(request)

    seen = []
    with serving(handler) as server:
        adapter = make(Track17Adapter, server.url)
        for _ in windows:
            seen.append((await adapter.track([TrackRequest(NUMBER, provider_ref="3011")]))[0])
        await adapter.aclose()
    assert seen[0].estimated_delivery == datetime(2024, 5, 4, 0, 0, tzinfo=UTC)
    # A bare date is the end of that day in the recipient's zone (California, PDT).
    assert seen[1].estimated_delivery == datetime(2024, 5, 6, 6, 59, 59, tzinfo=UTC)
    assert seen[2].estimated_delivery is None


@pytest.mark.parametrize(
    "fields",
    [{"status": "Exception", "sub_status": "Exception_Returning"},
     {"status": "Exception", "sub_status": "Exception_Returned"},
     {"milestone": [{"key_stage": "Returned", "time_iso": "2024-05-05T10:00:00Z", "time_utc": "2024-05-05T10:00:00Z"}]}],
)  # fmt: skip
async def test_returned_to_sender(fields: dict[str, Any]) -> None:
    provider = Provider({NUMBER: info(**fields)})
    provider.registered[NUMBER] = 3011
    [result], _ = await run(provider, [TrackRequest(NUMBER, provider_ref="3011")])
    assert (
        result.returned and result.status is S.EXCEPTION if "status" in fields else result.returned
    )


async def test_unknown_codes_are_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="orderdeck.carriers")
    provider = Provider({NUMBER: info(status="Teleporting", sub_status="Teleporting_Far",
                                      events=[event("2024-05-01T10:00:00Z", "InTransit_Warp", "x")])})  # fmt: skip
    provider.registered[NUMBER] = 3011
    with serving(provider) as server:
        adapter = make(Track17Adapter, server.url)
        for _ in range(2):
            [result] = await adapter.track([TrackRequest(NUMBER, provider_ref="3011")])
        await adapter.aclose()
    assert result.status is S.IN_TRANSIT and result.events[0].status is S.IN_TRANSIT
    assert caplog.text.count("'Teleporting'") == 1 and caplog.text.count("'InTransit_Warp'") == 1


async def test_carrier_keys_can_be_extended_in_config() -> None:
    provider = Provider({NUMBER: info(carrier=3041)})
    [result], sent = await run(provider, [TrackRequest(NUMBER, carrier="canada_post")],
                               carrier_keys={"canada_post": 3041})  # fmt: skip
    assert sent[0].json() == [{"number": NUMBER, "carrier": 3041}]
    assert result.carrier == "canada_post"


def test_bad_carrier_keys_config_is_refused() -> None:
    from sync.carriers.base import ConfigurationError

    with pytest.raises(ConfigurationError, match=r"carrier_keys\.ups"):
        make(Track17Adapter, "http://127.0.0.1:9", carrier_keys={"ups": "one hundred"})
