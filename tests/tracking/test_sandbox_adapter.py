"""The sandbox adapter: its status table code by code, and every way an answer can go wrong."""

from __future__ import annotations

from datetime import timedelta

import pytest

from store.statuses import ShipmentStatus as S
from sync.carriers import registry
from sync.carriers.base import (
    AuthError,
    BadResponse,
    ConfigurationError,
    NotFound,
    RateLimited,
    TemporaryError,
    TrackRequest,
)
from sync.carriers.sandbox import STATUS_MAP, SandboxAdapter
from sync.sandbox import SandboxServer
from sync.sandbox.stories import CODES
from sync.settings import CarrierSettings

from .conftest import T0


def adapter(sandbox: SandboxServer, **options: object) -> SandboxAdapter:
    return SandboxAdapter(
        CarrierSettings("sandbox", {"base_url": sandbox.url, **options}), timeout=2.0
    )


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("LC", S.INFO_RECEIVED),
        ("PU", S.IN_TRANSIT),
        ("DF", S.IN_TRANSIT),
        ("IT", S.IN_TRANSIT),
        ("AF", S.IN_TRANSIT),
        ("DE", S.IN_TRANSIT),
        ("OD", S.OUT_FOR_DELIVERY),
        ("FA", S.FAILED_ATTEMPT),
        ("AP", S.AVAILABLE_FOR_PICKUP),
        ("DL", S.DELIVERED),
        ("EX", S.EXCEPTION),
        ("RS", S.EXCEPTION),
        ("RT", S.EXCEPTION),
    ],
)
def test_status_table(code: str, status: S) -> None:
    assert STATUS_MAP[code] is status


def test_every_sandbox_code_is_mapped() -> None:
    assert set(STATUS_MAP) == set(CODES)


def test_registered_as_an_entry_point() -> None:
    assert registry.factories()["sandbox"] is SandboxAdapter
    built = registry.create(CarrierSettings("sandbox", {"base_url": "http://127.0.0.1:9"}))
    assert isinstance(built, SandboxAdapter)


def test_batch_size_is_checked() -> None:
    with pytest.raises(ConfigurationError, match=r"\[carriers.sandbox\] batch_size"):
        SandboxAdapter(CarrierSettings("sandbox", {"batch_size": 0}))
    with pytest.raises(ConfigurationError):
        SandboxAdapter(CarrierSettings("sandbox", {"batch_size": "10"}))


async def test_one_number(sandbox: SandboxServer) -> None:
    story = sandbox.story("SBFAILED1")
    sandbox.clock.set(story.first("FA").at)
    a = adapter(sandbox, batch_size=1)
    try:
        [result] = await a.track([TrackRequest("SBFAILED1")])
    finally:
        await a.aclose()
    assert result.error is None
    assert result.status is S.FAILED_ATTEMPT
    assert result.substatus == story.first("FA").detail
    assert [e.occurred_at for e in result.events] == [
        e.at for e in reversed(story.events) if e.at <= story.first("FA").at
    ]
    newest = max(result.events, key=lambda e: e.occurred_at)
    assert newest.status is S.FAILED_ATTEMPT
    assert newest.location and story.destination.city in newest.location
    assert newest.utc_offset_minutes is not None
    assert result.estimated_delivery == story.eta_at(story.first("FA").at)


async def test_a_batch_with_an_unknown_number(sandbox: SandboxServer) -> None:
    sandbox.clock.set(T0 + timedelta(days=1))
    a = adapter(sandbox)
    try:
        results = await a.track([TrackRequest("SBDELIVERED1"), TrackRequest("SBUNKNOWN1")])
    finally:
        await a.aclose()
    assert results[0].error is None and results[0].events
    assert isinstance(results[1].error, NotFound)
    assert sandbox.stats.answers["200"] == 1  # one request for both


async def test_unknown_number_alone(sandbox: SandboxServer) -> None:
    a = adapter(sandbox)
    try:
        [result] = await a.track([TrackRequest("SBUNKNOWN1")])
    finally:
        await a.aclose()
    assert isinstance(result.error, NotFound)


async def test_returned_is_an_exception_with_the_return_as_substatus(
    sandbox: SandboxServer,
) -> None:
    story = sandbox.story("SBRETURNED1")
    a = adapter(sandbox)
    try:
        sandbox.clock.set(story.first("RS").at + timedelta(hours=6))
        [going] = await a.track([TrackRequest("SBRETURNED1")])
        sandbox.clock.set(story.first("RT").at)
        [back] = await a.track([TrackRequest("SBRETURNED1")])
    finally:
        await a.aclose()
    assert going.returned and going.status is S.EXCEPTION
    assert going.substatus == "returning to sender"
    assert back.returned and back.substatus == "returned to sender"


@pytest.mark.parametrize(
    ("knob", "error"),
    [
        ({"error_rate": 1.0}, TemporaryError),
        ({"drop_rate": 1.0}, TemporaryError),
        ({"timeout_rate": 1.0, "hang_seconds": 5.0}, TemporaryError),
        ({"malformed_rate": 1.0}, BadResponse),
        ({"api_key": "k3y"}, AuthError),
    ],
)
async def test_faults_become_typed_errors(
    sandbox: SandboxServer, knob: dict[str, object], error: type[Exception]
) -> None:
    sandbox.faults.update(**knob)
    a = SandboxAdapter(CarrierSettings("sandbox", {"base_url": sandbox.url}), timeout=0.2)
    try:
        for number in ("SBDELIVERED1", "SBDELIVERED2"):
            with pytest.raises(error):
                await a.track([TrackRequest(number)])
        with pytest.raises(error):
            await a.track([TrackRequest("SBDELIVERED1"), TrackRequest("SBDELIVERED2")])
    finally:
        await a.aclose()


async def test_rate_limited_carries_retry_after(sandbox: SandboxServer) -> None:
    sandbox.faults.update(rate_limit=1)
    a = adapter(sandbox)
    try:
        await a.track([TrackRequest("SBDELIVERED1")])
        with pytest.raises(RateLimited) as caught:
            await a.track([TrackRequest("SBDELIVERED1")])
    finally:
        await a.aclose()
    assert caught.value.retry_after is not None and caught.value.retry_after >= 1


async def test_the_api_key_is_sent(sandbox: SandboxServer) -> None:
    sandbox.faults.update(api_key="k3y")
    a = adapter(sandbox, api_key="k3y")
    try:
        [result] = await a.track([TrackRequest("SBDELIVERED1")])
    finally:
        await a.aclose()
    assert result.error is None


async def test_a_wrong_base_url_is_named(sandbox: SandboxServer) -> None:
    a = SandboxAdapter(CarrierSettings("sandbox", {"base_url": sandbox.url + "/nothing/here"}))
    try:
        with pytest.raises(BadResponse, match="base_url"):
            await a.track([TrackRequest("SBDELIVERED1")])
    finally:
        await a.aclose()


def test_parse_rejects_what_it_cannot_read() -> None:
    a = SandboxAdapter(CarrierSettings("sandbox", {}))
    good_event = {"time": "2026-11-09T12:00:00-05:00", "code": "PU", "description": "Picked up"}
    assert a.parse({"status": {"code": "PU"}, "events": [good_event]}, "X1").events
    for broken in (
        {"status": {"code": "PU"}},
        {"status": {"code": "PU"}, "events": "none"},
        {"status": {"code": "PU"}, "events": [{"code": "PU"}]},
        {"status": {"code": "PU"}, "events": [{**good_event, "time": "2026-11-09T12:00:00"}]},
        {"status": {"code": "PU"}, "events": [{**good_event, "time": "tomorrow"}]},
        {"events": [good_event]},
        ["not", "an", "object"],
    ):
        with pytest.raises(BadResponse):
            a.parse(broken, "X1")


def test_an_unknown_code_is_logged_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    a = SandboxAdapter(CarrierSettings("sandbox", {}))
    event = {"time": "2026-11-09T12:00:00+00:00", "code": "ZZ", "description": "Beamed up"}
    result = a.parse({"status": {"code": "ZZ"}, "events": [event]}, "X1")
    assert result.status is S.IN_TRANSIT
    assert "unknown status code 'ZZ'" in caplog.text
