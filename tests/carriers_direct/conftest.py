"""Shared plumbing for the direct carrier tests: one loopback server per test,
adapters pointed at it, and a check that no secret reached a log or an error."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest

from sync.carriers.base import HttpAdapter
from sync.settings import CarrierSettings
from tests.carriers_direct.loopback import API_KEY, CLIENT_ID, CLIENT_SECRET, Loopback

SECRETS = (CLIENT_SECRET, API_KEY)


@pytest.fixture
def server() -> Iterator[Loopback]:
    loop = Loopback().start()
    try:
        yield loop
    finally:
        loop.stop()


@pytest.fixture
async def build(server: Loopback) -> AsyncIterator[Callable[..., Any]]:
    """``build(AdapterClass, **options)``: the adapter, its base_url on the server."""
    made: list[HttpAdapter] = []

    def make(cls: type[HttpAdapter], timeout: float = 2.0, **options: Any) -> Any:
        if "client_id" in cls.required_keys:
            server.token_path = cls.token_path  # type: ignore[attr-defined]
            defaults: dict[str, Any] = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
        else:
            defaults = {"api_key": API_KEY}
        defaults["base_url"] = server.url
        defaults.update(options)
        adapter = cls(CarrierSettings(code=cls.code, options=defaults), timeout=timeout)
        made.append(adapter)
        return adapter

    yield make
    for adapter in made:
        await adapter.aclose()


@pytest.fixture(autouse=True)
def no_secret_in_logs(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Every test in this folder also proves the secrets never reached a log line."""
    caplog.set_level(logging.DEBUG)
    yield
    for record in caplog.records:
        line = record.getMessage()
        for secret in SECRETS:
            assert secret not in line, f"secret leaked into the log: {line}"
        assert "token-" not in line, f"access token leaked into the log: {line}"


def assert_clean(error: BaseException) -> None:
    for secret in SECRETS:
        assert secret not in str(error)
    assert "token-1" not in str(error)
