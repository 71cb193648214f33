"""Building aggregator adapters against a loopback server, for the tests."""

from __future__ import annotations

from typing import Any

from sync.carriers.aggregator import AggregatorAdapter
from sync.settings import CarrierSettings

#: A key shaped like a real one; no test may ever see it in an error, a log or a result.
KEY = "shippo_test_k3y5ecretVALUE9x7"


def make(cls: type[AggregatorAdapter], url: str, **options: Any) -> Any:
    """An adapter pointed at ``url``; pacing raised so tests run at loopback speed."""
    settings = CarrierSettings(
        cls.code, {"api_key": KEY, "base_url": url, "rate_limit": 1000.0, **options}
    )
    return cls(settings, timeout=options.pop("timeout", 0.5) if "timeout" in options else 0.5)
