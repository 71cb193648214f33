"""The carrier adapter protocol: what the poller asks of every tracking provider.

A *provider* is whoever answers tracking questions: a carrier's own API (``ups``,
``dhl``), an aggregator (``aftership``, ``17track``) or the local ``sandbox``. Each is
an adapter class registered under the ``orderdeck.carriers`` entry point group and
built from its ``[carriers.CODE]`` section.

The poller hands an adapter a batch of :class:`TrackRequest` and gets back one
:class:`TrackResult` per tracking number. A problem with one number (not found)
is reported in that number's result; a problem with the whole call (bad
credentials, rate limited, the service down, a body that does not parse) is
raised as one of the :class:`TrackingError` subclasses.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any, ClassVar, Protocol, runtime_checkable

import httpx

from store.errors import OrderdeckError
from store.redact import mask_secrets
from store.statuses import ShipmentStatus
from store.types import utcnow
from sync.settings import CarrierSettings

log = logging.getLogger("orderdeck.carriers")


class TrackingError(OrderdeckError):
    """Base of what an adapter raises (or reports per number)."""


class NotFound(TrackingError):
    """The provider does not know this tracking number (yet)."""


class AuthError(TrackingError):
    """Credentials missing, wrong or expired: the carrier stops until config is fixed."""


class RateLimited(TrackingError):
    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class TemporaryError(TrackingError):
    """5xx, timeouts, dropped connections: try again later."""


class BadResponse(TrackingError):
    """The provider answered something we cannot read."""


class ConfigurationError(TrackingError):
    """The ``[carriers.CODE]`` section lacks something the adapter needs."""


@dataclass(frozen=True)
class TrackRequest:
    tracking_number: str
    #: Who moves the parcel, if known (aggregators need it for some numbers).
    carrier: str | None = None
    #: The provider's own id for this parcel, from an earlier result.
    provider_ref: str | None = None
    #: Destination country and postcode help some providers; optional.
    destination_country: str | None = None
    destination_zip: str | None = None


@dataclass(frozen=True)
class NormalizedEvent:
    occurred_at: datetime
    status: ShipmentStatus
    description: str = ""
    substatus: str | None = None
    location: str | None = None
    #: The carrier's offset in minutes east of UTC, when it gave one.
    utc_offset_minutes: int | None = None
    raw: Mapping[str, Any] | None = None

    def dedupe_hash(self, shipment_id: int) -> str:
        """Same shipment, time, status, location and text: the same event."""
        key = "\x1f".join(
            [
                str(shipment_id),
                self.occurred_at.isoformat(),
                self.status.value,
                (self.location or "").strip().casefold(),
                " ".join(self.description.split()).casefold(),
            ]
        )
        return hashlib.sha256(key.encode()).hexdigest()


@dataclass
class TrackResult:
    tracking_number: str
    events: list[NormalizedEvent] = field(default_factory=list)
    #: The provider's current status; None means "take the newest event's".
    status: ShipmentStatus | None = None
    substatus: str | None = None
    estimated_delivery: datetime | None = None
    #: The first estimate the provider ever gave, when it reports it (Shippo's
    #: ``original_eta``, AfterShip's ``first_estimated_delivery``).
    original_estimated_delivery: datetime | None = None
    #: Who moves the parcel, as the provider identified it (an orderdeck carrier code).
    carrier: str | None = None
    provider_ref: str | None = None
    #: Set when this one number failed (usually NotFound); the others may be fine.
    error: TrackingError | None = None
    #: True when the parcel went back to its sender.
    returned: bool = False

    @property
    def current_status(self) -> ShipmentStatus | None:
        if self.status is not None:
            return self.status
        if self.events:
            return max(self.events, key=lambda e: e.occurred_at).status
        return None


@runtime_checkable
class CarrierAdapter(Protocol):
    code: str
    name: str
    #: Requests per second the provider allows by default.
    default_rate_limit: float
    #: Tracking numbers per request.
    batch_size: int
    #: Carrier codes this provider tracks; None means any (aggregators).
    covers: frozenset[str] | None

    async def track(self, requests: Sequence[TrackRequest]) -> list[TrackResult]: ...

    async def aclose(self) -> None: ...


class HttpAdapter:
    """Shared plumbing for adapters that speak HTTP through httpx.

    Subclasses set the class attributes, read their options in ``__init__`` and
    implement :meth:`track`; :meth:`request` maps HTTP trouble onto the typed
    errors, naming the config section and never showing a secret.
    """

    code: ClassVar[str] = ""
    name: ClassVar[str] = ""
    display_name: ClassVar[str] = ""
    default_rate_limit: ClassVar[float] = 1.0
    batch_size: ClassVar[int] = 1
    covers: ClassVar[frozenset[str] | None] = None
    default_base_url: ClassVar[str] = ""
    #: Keys that must be present in ``[carriers.CODE]`` (checked offline).
    required_keys: ClassVar[tuple[str, ...]] = ()

    def __init__(
        self,
        settings: CarrierSettings,
        *,
        timeout: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.settings = settings
        missing = [k for k in self.required_keys if not settings.options.get(k)]
        if missing:
            raise ConfigurationError(
                f"[carriers.{settings.code}] needs {', '.join(missing)} to track with {self.name}"
            )
        self.base_url = (settings.base_url or self.default_base_url).rstrip("/")
        self.rate_limit = settings.rate_limit or self.default_rate_limit
        self.secrets = [
            str(v)
            for k, v in settings.options.items()
            if isinstance(v, str) and k not in {"base_url", "enabled"} and len(v) >= 4
        ]
        self.client = httpx.AsyncClient(
            base_url=self.base_url,
            timeout=httpx.Timeout(timeout),
            transport=transport,
            headers={"User-Agent": "orderdeck"},
            follow_redirects=False,
        )

    @property
    def section(self) -> str:
        return f"[carriers.{self.settings.code}]"

    def mask(self, text: str) -> str:
        return mask_secrets(text, self.secrets)

    async def request(
        self,
        method: str,
        path: str,
        *,
        not_found_ok: bool = False,
        **kwargs: Any,
    ) -> httpx.Response:
        """Send one request; return the response, or raise the matching TrackingError."""
        try:
            response = await self.client.request(method, path, **kwargs)
        except httpx.TimeoutException as exc:
            raise TemporaryError(f"{self.name}: timed out ({type(exc).__name__})") from None
        except httpx.TransportError as exc:
            raise TemporaryError(
                f"{self.name}: {self.mask(str(exc)) or type(exc).__name__}"
            ) from None
        self.raise_for_status(response, not_found_ok=not_found_ok)
        return response

    def raise_for_status(self, response: httpx.Response, *, not_found_ok: bool = False) -> None:
        status = response.status_code
        if status in (401, 403):
            raise AuthError(
                f"{self.name} refused the credentials (HTTP {status}): check {self.section}"
            )
        if status == 404 and not not_found_ok:
            raise NotFound(f"{self.name}: not found (HTTP 404)")
        if status == 429:
            raise RateLimited(
                f"{self.name}: rate limited (HTTP 429)", retry_after=retry_after(response.headers)
            )
        if status >= 500:
            raise TemporaryError(f"{self.name}: server error (HTTP {status})")
        if status >= 400 and not (status == 404 and not_found_ok):
            raise BadResponse(f"{self.name}: HTTP {status}: {self.quote(response.content)}")

    def quote(self, body: bytes, limit: int = 200) -> str:
        """The first bytes of a body, secrets masked, for an error or a log line."""
        text = body[:limit].decode("utf-8", errors="replace")
        suffix = "..." if len(body) > limit else ""
        return repr(self.mask(text) + suffix)

    def json(self, response: httpx.Response) -> Any:
        try:
            return response.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            quoted = self.quote(response.content)
            log.warning("%s: unreadable response body: %s", self.name, quoted)
            raise BadResponse(f"{self.name}: response is not JSON: {quoted}") from None

    async def aclose(self) -> None:
        await self.client.aclose()


def retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (seconds or an HTTP date)."""
    value = headers.get("retry-after") or headers.get("Retry-After")
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, (when - utcnow()).total_seconds())


_UNKNOWN_LOGGED: set[tuple[str, str]] = set()


def map_status(
    provider: str, code: str | None, table: Mapping[str, ShipmentStatus], default: ShipmentStatus
) -> ShipmentStatus:
    """Look a provider's code up in its table; an unknown code maps to ``default``
    and is logged once per process, never raised."""
    if code is not None and code in table:
        return table[code]
    key = (provider, str(code))
    if key not in _UNKNOWN_LOGGED:
        _UNKNOWN_LOGGED.add(key)
        log.warning("%s: unknown status code %r, treated as %s", provider, code, default.value)
    return default
