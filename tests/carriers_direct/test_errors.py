"""Every error class, the same way for all four direct adapters: 401/403, the
token refresh-once path, 429 with and without Retry-After, 5xx, timeouts, bodies
that do not parse -- and never a secret in what comes out."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from sync.carriers.base import (
    AuthError,
    BadResponse,
    HttpAdapter,
    RateLimited,
    TemporaryError,
    TrackRequest,
)
from sync.carriers.dhl import DhlAdapter
from sync.carriers.fedex import FedexAdapter
from sync.carriers.ups import UpsAdapter
from sync.carriers.usps import UspsAdapter
from tests.carriers_direct import payloads as p
from tests.carriers_direct.conftest import assert_clean
from tests.carriers_direct.loopback import CLIENT_SECRET, Loopback, Reply, Seen


@dataclass(frozen=True)
class Case:
    adapter: type[HttpAdapter]
    method: str
    path: str
    ok: Callable[[str], Any]
    #: Seconds a 429 without Retry-After waits (the carrier's documented window).
    window: float

    @property
    def oauth(self) -> bool:
        return "client_id" in self.adapter.required_keys


CASES = [
    Case(
        UpsAdapter,
        "GET",
        "/api/track/v1/details/*",
        lambda n: p.ups_body(n, [p.ups_activity("I", "AR", "Arrived at Facility")]),
        60.0,
    ),
    Case(
        FedexAdapter,
        "POST",
        "/track/v1/trackingnumbers",
        lambda n: p.fedex_body(p.fedex_result(n, [p.fedex_scan("AR")], latest="IT")),
        10.0,
    ),
    Case(
        UspsAdapter,
        "GET",
        "/tracking/v3/tracking/*",
        lambda n: p.usps_body(n, [p.usps_event("10", "Processed")]),
        60.0,
    ),
    Case(
        DhlAdapter,
        "GET",
        "/track/shipments",
        lambda n: p.dhl_body(n, [p.dhl_event("transit")]),
        1.0,
    ),
]
ids = [c.adapter.code for c in CASES]
NUMBER = "1Z999AA10123456784"


def route(case: Case, server: Loopback, reply: Any) -> None:
    server.on(case.method, case.path, reply)


async def track(adapter: Any) -> Any:
    return await adapter.track([TrackRequest(NUMBER, carrier=adapter.code)])


@pytest.mark.parametrize("case", CASES, ids=ids)
async def test_a_good_answer_tracks(case: Case, server: Loopback, build: Any) -> None:
    route(case, server, Reply(200, case.ok(NUMBER)))
    [result] = await track(build(case.adapter))
    assert result.error is None
    assert result.events and result.tracking_number == NUMBER


@pytest.mark.parametrize("case", CASES, ids=ids)
@pytest.mark.parametrize("status", [401, 403])
async def test_refused_credentials_name_the_config_section(
    case: Case, status: int, server: Loopback, build: Any
) -> None:
    route(case, server, Reply(status, {"errors": [{"code": "NOT.AUTHORIZED.ERROR"}]}))
    with pytest.raises(AuthError) as caught:
        await track(build(case.adapter))
    assert f"[carriers.{case.adapter.code}]" in str(caught.value)
    assert_clean(caught.value)


@pytest.mark.parametrize(
    "case", [c for c in CASES if c.oauth], ids=[c.adapter.code for c in CASES if c.oauth]
)
async def test_expired_token_is_refreshed_once(case: Case, server: Loopback, build: Any) -> None:
    adapter = build(case.adapter)
    answered = iter([Reply(401, {"message": "token expired"})])

    def reply(seen: Seen) -> Reply:
        return next(answered, Reply(200, case.ok(NUMBER)))

    route(case, server, reply)
    [result] = await track(adapter)
    assert result.error is None
    assert server.tokens_issued == 2
    calls = server.calls(case.path.rstrip("*"))
    assert [c.header("authorization") for c in calls] == ["Bearer token-1", "Bearer token-2"]


@pytest.mark.parametrize(
    "case", [c for c in CASES if c.oauth], ids=[c.adapter.code for c in CASES if c.oauth]
)
async def test_a_second_401_is_an_auth_error(case: Case, server: Loopback, build: Any) -> None:
    route(case, server, Reply(401, {"message": "nope"}))
    with pytest.raises(AuthError) as caught:
        await track(build(case.adapter))
    assert f"[carriers.{case.adapter.code}]" in str(caught.value)
    assert server.tokens_issued == 2  # refreshed exactly once
    assert len(server.calls(case.path.rstrip("*"))) == 2
    assert_clean(caught.value)


@pytest.mark.parametrize(
    "case", [c for c in CASES if c.oauth], ids=[c.adapter.code for c in CASES if c.oauth]
)
async def test_token_endpoint_refusal_is_an_auth_error(
    case: Case, server: Loopback, build: Any
) -> None:
    server.token_reply = Reply(
        401, {"error": "invalid_client", "error_description": f"bad secret {CLIENT_SECRET}"}
    )
    route(case, server, Reply(200, case.ok(NUMBER)))
    with pytest.raises(AuthError) as caught:
        await track(build(case.adapter))
    assert f"[carriers.{case.adapter.code}]" in str(caught.value)
    assert "invalid_client" in str(caught.value)
    assert_clean(caught.value)
    assert not server.calls(case.path.rstrip("*"))


@pytest.mark.parametrize(
    "case", [c for c in CASES if c.oauth], ids=[c.adapter.code for c in CASES if c.oauth]
)
async def test_token_is_reused_and_fetched_once_by_concurrent_calls(
    case: Case, server: Loopback, build: Any
) -> None:
    route(case, server, lambda seen: Reply(200, case.ok(NUMBER), delay=0.02))
    server.token_reply = None
    adapter = build(case.adapter)
    results = await asyncio.gather(*(track(adapter) for _ in range(6)))
    assert all(r[0].error is None for r in results)
    await track(adapter)
    assert server.tokens_issued == 1
    assert len(server.token_calls()) == 1
    assert len(server.calls(case.path.rstrip("*"))) == 7


@pytest.mark.parametrize(
    "case", [c for c in CASES if c.oauth], ids=[c.adapter.code for c in CASES if c.oauth]
)
async def test_token_is_refetched_after_it_expires(
    case: Case, server: Loopback, build: Any
) -> None:
    route(case, server, Reply(200, case.ok(NUMBER)))
    server.token_lifetime = "3600"  # USPS and UPS send expires_in as a string
    adapter = build(case.adapter)
    now = [1000.0]
    adapter._clock = lambda: now[0]
    await track(adapter)
    now[0] += 3600 - 61  # inside the margin: still the old token
    await track(adapter)
    assert server.tokens_issued == 1
    now[0] += 2
    await track(adapter)
    assert server.tokens_issued == 2


async def test_token_requests_follow_each_carriers_document(server: Loopback, build: Any) -> None:
    """UPS: HTTP Basic + form; FedEx: form fields; USPS: a JSON body."""
    import base64

    seen: dict[str, Seen] = {}
    for case in CASES[:3]:
        route(case, server, Reply(200, case.ok(NUMBER)))
        adapter = build(case.adapter)
        server.seen.clear()
        await track(adapter)
        seen[case.adapter.code] = server.token_calls()[0]
    ups, fedex, usps = seen["ups"], seen["fedex"], seen["usps"]
    assert ups.path == "/security/v1/oauth/token"
    assert ups.form() == {"grant_type": ["client_credentials"]}
    basic = base64.b64decode(ups.header("authorization").split()[1]).decode()
    assert basic == f"client-id-7Hq2:{CLIENT_SECRET}"
    assert fedex.path == "/oauth/token"
    assert fedex.form() == {
        "grant_type": ["client_credentials"],
        "client_id": ["client-id-7Hq2"],
        "client_secret": [CLIENT_SECRET],
    }
    assert usps.path == "/oauth2/v3/token"
    assert usps.json() == {
        "grant_type": "client_credentials",
        "client_id": "client-id-7Hq2",
        "client_secret": CLIENT_SECRET,
    }


@pytest.mark.parametrize("case", CASES, ids=ids)
async def test_429_with_retry_after(case: Case, server: Loopback, build: Any) -> None:
    route(case, server, Reply(429, {"message": "Too many requests"}, {"Retry-After": "17"}))
    with pytest.raises(RateLimited) as caught:
        await track(build(case.adapter))
    assert caught.value.retry_after == 17


@pytest.mark.parametrize("case", CASES, ids=ids)
async def test_429_without_retry_after_waits_the_documented_window(
    case: Case, server: Loopback, build: Any
) -> None:
    route(case, server, Reply(429, {"message": "Too many requests, slow down"}))
    with pytest.raises(RateLimited) as caught:
        await track(build(case.adapter))
    assert caught.value.retry_after == case.window


@pytest.mark.parametrize("case", CASES, ids=ids)
async def test_429_for_the_daily_quota_waits_until_midnight_gmt(
    case: Case, server: Loopback, build: Any
) -> None:
    route(
        case,
        server,
        Reply(429, {"message": "Daily transaction quota exceeded. Retry after 12:00AM GMT"}),
    )
    with pytest.raises(RateLimited) as caught:
        await track(build(case.adapter))
    assert 1 <= caught.value.retry_after <= 86_400


@pytest.mark.parametrize("case", CASES, ids=ids)
@pytest.mark.parametrize("status", [500, 502, 503])
async def test_server_errors_are_temporary(
    case: Case, status: int, server: Loopback, build: Any
) -> None:
    route(case, server, Reply(status, {"message": "Internal server error"}))
    with pytest.raises(TemporaryError):
        await track(build(case.adapter))


@pytest.mark.parametrize("case", CASES, ids=ids)
async def test_a_timeout_is_temporary(case: Case, server: Loopback, build: Any) -> None:
    route(case, server, Reply(200, case.ok(NUMBER), delay=0.6))
    with pytest.raises(TemporaryError) as caught:
        await track(build(case.adapter, timeout=0.2))
    assert "timed out" in str(caught.value)


async def test_an_unreachable_server_is_temporary(build: Any) -> None:
    adapter = build(DhlAdapter, base_url="http://127.0.0.1:9")
    with pytest.raises(TemporaryError):
        await track(adapter)


@pytest.mark.parametrize("case", CASES, ids=ids)
async def test_a_malformed_body_is_a_bad_response_quoting_it_masked(
    case: Case, server: Loopback, build: Any, caplog: pytest.LogCaptureFixture
) -> None:
    adapter = build(case.adapter)
    secret = adapter.settings.options.get("client_secret") or adapter.settings.options["api_key"]
    body = f"<html>upstream proxy error; echoing {secret} back</html>"
    route(case, server, Reply(200, body, {"Content-Type": "text/html"}))
    with pytest.raises(BadResponse) as caught:
        await track(adapter)
    message = str(caught.value)
    assert "<html>upstream proxy error" in message
    assert "****" in message
    assert_clean(caught.value)
    assert any("upstream proxy error" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("case", CASES, ids=ids)
async def test_json_of_the_wrong_shape_is_a_bad_response(
    case: Case, server: Loopback, build: Any
) -> None:
    route(case, server, Reply(200, [1, 2, 3]))
    with pytest.raises(BadResponse):
        await track(build(case.adapter))


@pytest.mark.parametrize("case", CASES, ids=ids)
def test_required_keys_are_checked_offline(case: Case) -> None:
    from sync.carriers.base import ConfigurationError
    from sync.settings import CarrierSettings

    with pytest.raises(ConfigurationError) as caught:
        case.adapter(CarrierSettings(code=case.adapter.code, options={}))
    assert f"[carriers.{case.adapter.code}]" in str(caught.value)
    for key in case.adapter.required_keys:
        assert key in str(caught.value)
