"""Every error class, for all four aggregator adapters, against a real loopback server.

Each adapter's first request for a new number (AfterShip create, 17TRACK register,
EasyPost create, Shippo get) is answered with a failure; the adapter must raise
the matching typed error, name its config section for credentials, honour or
supply a retry window, and never show the API key.
"""

from __future__ import annotations

import logging
import time

import pytest

from sync.carriers.aftership import AfterShipAdapter
from sync.carriers.base import AuthError, BadResponse, RateLimited, TemporaryError, TrackRequest
from sync.carriers.easypost import EasyPostAdapter
from sync.carriers.shippo import ShippoAdapter
from sync.carriers.track17 import Track17Adapter
from tests.carriers.aggregator_support import KEY, make
from tests.carriers.recording_server import Reply, serving

ADAPTERS = [AfterShipAdapter, Track17Adapter, EasyPostAdapter, ShippoAdapter]
#: What each provider documents as the wait after a 429 that does not say.
WINDOWS = {"aftership": 1.0, "17track": 1.0, "easypost": 1.0, "shippo": 60.0}
REQUEST = TrackRequest("1Z999AA10123456784", carrier="ups")


async def _track(cls: type, reply: Reply, **options: object) -> list:
    with serving(lambda _: reply) as server:
        adapter = make(cls, server.url, **options)
        try:
            return await adapter.track([REQUEST])
        finally:
            await adapter.aclose()


@pytest.fixture(params=ADAPTERS, ids=lambda cls: cls.code)
def adapter_cls(request: pytest.FixtureRequest) -> type:
    return request.param


@pytest.mark.parametrize("status", [401, 403])
async def test_refused_credentials_name_the_section(adapter_cls: type, status: int) -> None:
    with pytest.raises(AuthError) as caught:
        await _track(adapter_cls, Reply(status, {"message": f"bad key {KEY}"}))
    assert f"[carriers.{adapter_cls.code}]" in str(caught.value)
    assert KEY not in str(caught.value)


async def test_429_with_retry_after(adapter_cls: type) -> None:
    with pytest.raises(RateLimited) as caught:
        await _track(adapter_cls, Reply(429, {}, headers={"Retry-After": "7"}))
    assert caught.value.retry_after == 7.0


async def test_429_without_retry_after_uses_the_documented_window(adapter_cls: type) -> None:
    with pytest.raises(RateLimited) as caught:
        await _track(adapter_cls, Reply(429, {}))
    assert caught.value.retry_after == WINDOWS[adapter_cls.code]


@pytest.mark.parametrize("status", [500, 502, 503])
async def test_server_errors_are_temporary(adapter_cls: type, status: int) -> None:
    with pytest.raises(TemporaryError):
        await _track(adapter_cls, Reply(status, b"upstream down"))


async def test_timeout_is_temporary(adapter_cls: type) -> None:
    started = time.monotonic()
    with pytest.raises(TemporaryError, match="timed out"):
        await _track(adapter_cls, Reply(200, {}, delay=1.0), timeout=0.2)
    assert time.monotonic() - started < 5  # gave up instead of hanging


async def test_unreachable_provider_is_temporary(adapter_cls: type) -> None:
    adapter = make(adapter_cls, "http://127.0.0.1:9")
    try:
        with pytest.raises(TemporaryError):
            await adapter.track([REQUEST])
    finally:
        await adapter.aclose()


async def test_malformed_body_quotes_first_bytes_with_the_key_masked(
    adapter_cls: type, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="orderdeck.carriers")
    body = b"<html>gateway says hi, your key is " + KEY.encode() + b"</html>" + b"x" * 400
    with pytest.raises(BadResponse) as caught:
        await _track(adapter_cls, Reply(200, body, headers={"Content-Type": "text/html"}))
    message = str(caught.value)
    assert "<html>gateway says hi" in message
    assert "****" in message
    assert KEY not in message
    assert KEY not in caplog.text
    assert "gateway says hi" in caplog.text  # the first bytes reach the log too


@pytest.mark.parametrize("body", [[1, 2, 3], "just a string", {"unexpected": "shape"}])
async def test_json_of_the_wrong_shape_is_a_bad_response(adapter_cls: type, body: object) -> None:
    with pytest.raises(BadResponse):
        await _track(adapter_cls, Reply(200, body))


def test_declared_for_config_check(adapter_cls: type) -> None:
    assert adapter_cls.required_keys == ("api_key",)
    assert adapter_cls.default_base_url.startswith("https://")
    assert adapter_cls.default_rate_limit > 0


def test_missing_key_is_a_configuration_error(adapter_cls: type) -> None:
    from sync.carriers.base import ConfigurationError
    from sync.settings import CarrierSettings

    with pytest.raises(ConfigurationError, match=f"carriers.{adapter_cls.code}.*api_key"):
        adapter_cls(CarrierSettings(adapter_cls.code, {}))


async def test_an_unexpected_404_points_at_base_url(adapter_cls: type) -> None:
    from sync.carriers.base import ConfigurationError

    if adapter_cls is ShippoAdapter:
        pytest.skip("Shippo answers 404 for an unknown number: tested as not found")
    with pytest.raises(
        ConfigurationError, match=rf"HTTP 404.*base_url in \[carriers\.{adapter_cls.code}\]"
    ):
        await _track(adapter_cls, Reply(404, b"<h1>Not Found</h1>"))
