"""Shippo tracking adapter (``[carriers.shippo]``).

Followed: Shippo API reference, **2018-02-08** API version (the current default;
https://docs.goshippo.com/docs/tracking/tracking — "Get a tracking status",
the Track object, statuses and sub-statuses; the tracking carrier list
https://docs.goshippo.com/docs/tracking/trackingcarriers;
https://docs.goshippo.com/docs/api_concepts/ratelimits;
https://docs.goshippo.com/docs/guides_general/authentication), cross-checked
against the official SDK goshippo/shippo-python-sdk
(``src/shippo/tracking_status.py``: ``GET /tracks/{Carrier}/{TrackingNumber}``;
``models/components/carriersenum.py``: the carrier tokens).

Flow: one ``GET /tracks/{carrier}/{tracking_number}`` per number. Shippo needs
the carrier: a shipment whose carrier has no Shippo token is reported as not
trackable here rather than guessed. (``POST /tracks/`` only registers webhooks,
which orderdeck does not use.) With a ``shippo_test_`` key, Shippo's mock
numbers (``SHIPPO_PRE_TRANSIT``, ``SHIPPO_TRANSIT``, ``SHIPPO_DELIVERED``...) are
sent with its ``shippo`` test carrier, so a test setup can be tried end to end.

Auth: ``Authorization: ShippoToken <api_key>`` (``shippo_live_...`` or
``shippo_test_...``; the key alone picks live or test). ``api_version`` pins
the ``Shippo-API-Version`` header. Limits are per minute: tracking GET 500/min
live (50/min with a test key), so a 429 without ``Retry-After`` waits the
60-second window.

Times: ``status_date`` is documented in UTC (``Z``); a time without an offset is
read as UTC too — Shippo does not say it is local. ``eta`` and ``original_eta``
(the first estimate) are used as given.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, ClassVar
from urllib.parse import quote

import httpx

from store.statuses import ShipmentStatus
from sync.carriers.aggregator import (
    AggregatorAdapter,
    carrier_from,
    obj,
    place,
    text,
    unique_events,
)
from sync.carriers.base import (
    NormalizedEvent,
    NotFound,
    TrackRequest,
    TrackResult,
    map_status,
)
from sync.carriers.times import parse_time

log = logging.getLogger("orderdeck.carriers")

S = ShipmentStatus

#: ``tracking_status.status`` and each history entry's.
STATUSES: dict[str, ShipmentStatus] = {
    "PRE_TRANSIT": S.INFO_RECEIVED,
    "TRANSIT": S.IN_TRANSIT,
    "DELIVERED": S.DELIVERED,
    "RETURNED": S.EXCEPTION,
    "FAILURE": S.EXCEPTION,
    "UNKNOWN": S.PENDING,
}

#: ``substatus.code``: every documented code (grouped by the status it comes under).
SUBSTATUSES: dict[str, ShipmentStatus] = {
    # PRE_TRANSIT
    "information_received": S.INFO_RECEIVED,
    # TRANSIT
    "address_issue": S.EXCEPTION,
    "contact_carrier": S.EXCEPTION,
    "delayed": S.IN_TRANSIT,
    "delivery_attempted": S.FAILED_ATTEMPT,
    "delivery_rescheduled": S.IN_TRANSIT,
    "delivery_scheduled": S.IN_TRANSIT,
    "location_inaccessible": S.FAILED_ATTEMPT,
    "notice_left": S.FAILED_ATTEMPT,
    "out_for_delivery": S.OUT_FOR_DELIVERY,
    "package_accepted": S.IN_TRANSIT,
    "package_arrived": S.IN_TRANSIT,
    "package_damaged": S.EXCEPTION,
    "package_departed": S.IN_TRANSIT,
    "package_forwarded": S.IN_TRANSIT,
    "package_held": S.EXCEPTION,
    "package_processed": S.IN_TRANSIT,
    "package_processing": S.IN_TRANSIT,
    "pickup_available": S.AVAILABLE_FOR_PICKUP,
    "reschedule_delivery": S.FAILED_ATTEMPT,
    # DELIVERED
    "delivered": S.DELIVERED,
    # RETURNED
    "return_to_sender": S.EXCEPTION,
    "package_unclaimed": S.EXCEPTION,
    # FAILURE
    "package_undeliverable": S.EXCEPTION,
    "package_disposed": S.EXCEPTION,
    "package_lost": S.EXCEPTION,
    # UNKNOWN
    "other": S.PENDING,
}

#: Shippo carrier token -> orderdeck carrier code (tokens from the tracking carrier list).
TOKENS: dict[str, str] = {
    "usps": "usps",
    "ups": "ups",
    "fedex": "fedex",
    "dhl_express": "dhl",
    "dhl_ecommerce": "dhl_ecommerce",
    "dhl_germany": "deutsche_post",
    "dhl_germany_c2c": "deutsche_post",
    "deutsche_post": "deutsche_post",
    "canada_post": "canada_post",
    "australia_post": "australia_post",
    "royal_mail": "royal_mail",
    "royal_mail_sf": "royal_mail",
    "parcelforce": "parcelforce",
    "colissimo": "la_poste",
    "chronopost": "la_poste",
    "la_poste": "la_poste",
    "correos_espana": "correos",
    "correios_br": "correios",
    "poste_italiane": "poste_italiane",
    "posti": "posti",
    "new_zealand_post": "nz_post",
    "hongkong_post": "hongkong_post",
    "ontrac": "ontrac",
    "lasership": "lasership",
    "purolator": "purolator",
    "aramex": "aramex",
    "dpd_de": "dpd",
    "dpd_uk": "dpd",
    "hermes_uk": "evri",
    "gls_us": "gls",
}
#: orderdeck code -> the token a request uses (the first token listed for each
#: code, except where the parcel service is not the first one).
REQUEST_TOKENS: dict[str, str] = {
    **{code: token for token, code in reversed(list(TOKENS.items()))},
    "deutsche_post": "dhl_germany",
    "la_poste": "colissimo",
    "royal_mail": "royal_mail",
    "dpd": "dpd_de",
}


class ShippoAdapter(AggregatorAdapter):
    code: ClassVar[str] = "shippo"
    name: ClassVar[str] = "Shippo"
    display_name: ClassVar[str] = "Shippo Tracking"
    default_base_url: ClassVar[str] = "https://api.goshippo.com"
    default_rate_limit: ClassVar[float] = 500 / 60
    endpoint_limits: ClassVar[dict[str, float]] = {"read": 500 / 60}
    rate_limit_window: ClassVar[float] = 60.0
    batch_size: ClassVar[int] = 1
    covers: ClassVar[frozenset[str] | None] = frozenset(TOKENS.values())

    def __init__(
        self,
        settings: Any,
        *,
        timeout: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        super().__init__(settings, timeout=timeout, transport=transport)
        self.client.headers.update(
            {"Authorization": f"ShippoToken {self.api_key}", "Accept": "application/json"}
        )
        version = settings.options.get("api_version")
        if version:
            self.client.headers["Shippo-API-Version"] = str(version)

    async def track(self, requests: Sequence[TrackRequest]) -> list[TrackResult]:
        return [await self._track_one(request) for request in requests]

    async def _track_one(self, request: TrackRequest) -> TrackResult:
        number = request.tracking_number
        token = REQUEST_TOKENS.get(request.carrier or "")
        if self.api_key.startswith("shippo_test_") and number.upper().startswith("SHIPPO_"):
            token = "shippo"  # Shippo's mock numbers (SHIPPO_TRANSIT, ...) under a test key
        if token is None:
            what = f"carrier {request.carrier!r}" if request.carrier else "an unknown carrier"
            return TrackResult(
                number,
                error=NotFound(f"{self.name} cannot track {number}: no Shippo token for {what}"),
            )
        path = f"/tracks/{quote(token, safe='')}/{quote(number, safe='')}"
        response = await self.call("read", "GET", path, accept=(400, 404))
        if response.status_code in (400, 404):
            return TrackResult(
                number,
                error=NotFound(
                    f"{self.name} does not know {number} for {token}: {self._reason(response)}"
                ),
            )
        return self._result(request, self.body(response), response)

    def _reason(self, response: httpx.Response) -> str:
        """Shippo's error body is field-keyed lists or a ``detail``; fall back to the status."""
        try:
            body = response.json()
        except ValueError:
            body = None
        parts: list[str] = []
        if isinstance(body, dict):
            for field, value in body.items():
                values = value if isinstance(value, list) else [value]
                parts.extend(f"{field}: {text(v)}" for v in values if text(v))
        return self.mask("; ".join(parts)) or f"HTTP {response.status_code}"

    def _status(self, parent: object, substatus: object) -> ShipmentStatus:
        by_parent = (
            map_status(self.name, str(parent), STATUSES, S.IN_TRANSIT) if parent else S.PENDING
        )
        code = obj(substatus).get("code")
        if not code:
            return by_parent
        return map_status(f"{self.name} substatus", str(code), SUBSTATUSES, by_parent)

    def _result(
        self, request: TrackRequest, body: dict[str, Any], response: httpx.Response
    ) -> TrackResult:
        if "tracking_status" not in body and "tracking_history" not in body:
            raise self.bad(response, "expected a Track object")
        current = obj(body.get("tracking_status"))
        history = [h for h in body.get("tracking_history") or [] if isinstance(h, dict)]
        events = [e for e in (self._event(h) for h in history) if e]
        substatus = obj(current.get("substatus"))
        eta, original = (
            parse_time(body.get("eta"), end_of_day=True),
            parse_time(body.get("original_eta"), end_of_day=True),
        )
        parent = current.get("status")
        result = TrackResult(
            request.tracking_number,
            events=unique_events(events),
            status=self._status(parent, substatus) if current else None,
            substatus=text(substatus.get("text")) or text(current.get("status_details")) or None,
            estimated_delivery=eta.at if eta else None,
            original_estimated_delivery=original.at if original else None,
            carrier=carrier_from(body.get("carrier"), TOKENS) or request.carrier,
            returned=parent == "RETURNED" or any(h.get("status") == "RETURNED" for h in history),
        )
        if parent in (None, "UNKNOWN") and not events:
            detail = text(current.get("status_details")) or "no information yet"
            result.error = NotFound(
                f"{self.name}: the carrier has no record of {request.tracking_number} ({detail})"
            )
            result.status = S.PENDING
        return result

    def _event(self, h: dict[str, Any]) -> NormalizedEvent | None:
        when = parse_time(h.get("status_date")) or parse_time(h.get("object_created"))
        if when is None:
            log.warning("%s: history entry without a readable status_date skipped", self.name)
            return None
        where = obj(h.get("location"))
        substatus = obj(h.get("substatus"))
        return NormalizedEvent(
            occurred_at=when.at,
            status=self._status(h.get("status"), substatus),
            description=text(h.get("status_details")),
            substatus=text(substatus.get("text")) or text(substatus.get("code")) or None,
            location=place(
                where.get("city"), where.get("state"), where.get("zip"), where.get("country")
            ),
            utc_offset_minutes=when.utc_offset_minutes,
            raw=h,
        )
