"""What the aggregator adapters (AfterShip, 17TRACK, EasyPost, Shippo) share.

Each of them: one API key, documented per-endpoint rate limits, a JSON body
that must be checked before it is trusted, a 429 that may or may not say when
to come back, and a table from the provider's carrier names to orderdeck's
carrier codes. The provider-specific parts live in each adapter's module.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, ClassVar

import httpx

from sync.carriers.base import (
    BadResponse,
    ConfigurationError,
    HttpAdapter,
    NormalizedEvent,
    RateLimited,
    TemporaryError,
    retry_after,
)
from sync.carriers.names import carrier_code
from sync.carriers.pacing import Pacer
from sync.settings import CarrierSettings

log = logging.getLogger("orderdeck.carriers")


class AggregatorAdapter(HttpAdapter):
    """An :class:`HttpAdapter` keyed by ``api_key``, paced per endpoint."""

    required_keys: ClassVar[tuple[str, ...]] = ("api_key",)
    #: Endpoint name -> requests per second the provider documents for it.
    endpoint_limits: ClassVar[Mapping[str, float]] = {}
    #: Seconds to wait after a 429 that says nothing (the provider's documented window).
    rate_limit_window: ClassVar[float] = 1.0

    def __init__(
        self,
        settings: CarrierSettings,
        *,
        timeout: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        super().__init__(settings, timeout=timeout, transport=transport)
        self.api_key = str(settings.options["api_key"]).strip()
        if self.api_key not in self.secrets:
            self.secrets.append(self.api_key)
        # A rate_limit in config applies to every endpoint: a bigger plan raises them all.
        override = settings.rate_limit
        self.pacer = Pacer({name: override or rate for name, rate in self.endpoint_limits.items()})

    async def call(
        self,
        endpoint: str,
        method: str,
        path: str,
        *,
        accept: Iterable[int] = (),
        **kwargs: Any,
    ) -> httpx.Response:
        """One paced request. Statuses in ``accept`` are returned for the adapter to
        read (a provider's own "not found" or "already exists"); every other
        failure becomes the matching :class:`TrackingError`."""
        await self.pacer.wait(endpoint)
        try:
            response = await self.client.request(method, path, **kwargs)
        except httpx.TimeoutException as exc:
            raise TemporaryError(f"{self.name}: timed out ({type(exc).__name__})") from None
        except httpx.TransportError as exc:
            raise TemporaryError(
                f"{self.name}: {self.mask(str(exc)) or type(exc).__name__}"
            ) from None
        if response.status_code in set(accept):
            return response
        if response.status_code == 404:
            # Every endpoint we call exists; a 404 we did not expect means base_url is wrong.
            raise ConfigurationError(
                f"{self.name}: {self.base_url}{path} does not exist (HTTP 404): "
                f"check base_url in {self.section}"
            )
        try:
            self.raise_for_status(response)
        except RateLimited as exc:
            self.pacer.hold(endpoint, exc.retry_after or 0.0)
            raise
        return response

    def raise_for_status(self, response: httpx.Response, *, not_found_ok: bool = False) -> None:
        if response.status_code == 429:
            wait = retry_after(response.headers)
            if wait is None:
                wait = self.rate_limit_wait(response)
            raise RateLimited(
                f"{self.name}: rate limited (HTTP 429), retry in {wait:g} s", retry_after=wait
            )
        super().raise_for_status(response, not_found_ok=not_found_ok)

    def rate_limit_wait(self, response: httpx.Response) -> float:
        """When a 429 has no Retry-After: the provider's documented window."""
        return self.rate_limit_window

    def body(self, response: httpx.Response) -> dict[str, Any]:
        """The JSON object a response must carry, or BadResponse."""
        data = self.json(response)
        if not isinstance(data, dict):
            raise self.bad(response, "expected a JSON object")
        return data

    def bad(self, response: httpx.Response | None, why: str) -> BadResponse:
        """A BadResponse quoting the first bytes (secrets masked), logged once here."""
        quoted = self.quote(response.content) if response is not None else "''"
        log.warning("%s: %s: %s", self.name, why, quoted)
        return BadResponse(f"{self.name}: {why}: {quoted}")


def key(name: object) -> str:
    """How provider carrier names are compared: lower case, no spaces, dashes or dots."""
    return "".join(ch for ch in str(name or "").lower() if ch.isalnum())


def carrier_from(
    provider_name: object, table: Mapping[str, str], *fallback_names: object
) -> str | None:
    """An orderdeck carrier code from a provider's carrier id (via ``table``, keyed by
    :func:`key`), else from any display name it also gave."""
    code = table.get(key(provider_name))
    if code:
        return code
    for name in (provider_name, *fallback_names):
        if isinstance(name, str) and name.strip():
            found = carrier_code(name.replace("-", " ").replace("_", " "))
            if found:
                return found
    return None


def obj(value: object) -> dict[str, Any]:
    """A provider's nested object, or {} when it is missing or not an object."""
    return value if isinstance(value, dict) else {}


def place(*parts: object) -> str | None:
    """A "City, State, Country" line from whichever parts are present, without repeats."""
    seen: list[str] = []
    for part in parts:
        text = " ".join(str(part).split()) if part not in (None, "") else ""
        if text and text.casefold() not in (s.casefold() for s in seen):
            seen.append(text)
    return ", ".join(seen) or None


def unique_events(events: Sequence[NormalizedEvent]) -> list[NormalizedEvent]:
    """Oldest first, each (time, status, place, text) once: providers repeat scans."""
    seen: set[str] = set()
    out: list[NormalizedEvent] = []
    for event in sorted(events, key=lambda e: e.occurred_at):
        digest = event.dedupe_hash(0)
        if digest not in seen:
            seen.add(digest)
            out.append(event)
    return out


def text(value: object) -> str:
    """Provider text as one clean line ('' for None)."""
    return " ".join(str(value).split()) if value not in (None, "") else ""
