"""EasyPost Trackers adapter (``[carriers.easypost]``).

Followed: EasyPost API reference, **v2** (https://docs.easypost.com/docs/trackers
— the Tracker, TrackingDetail, TrackingLocation and CarrierDetail objects,
"Create a Tracker", "Retrieve a Tracker"; https://docs.easypost.com/docs/errors;
https://docs.easypost.com/guides/rate-limiting-guide; the Tracking Guide),
cross-checked against the official SDK EasyPost/easypost-python
(``easypost/services/tracker_service.py`` and its recorded cassettes
``tests/cassettes/test_tracker_*.yaml``).

Flow: a tracker is created once (``POST /v2/trackers`` with
``{"tracker": {"tracking_code", "carrier"}}``); its ``trk_...`` id goes into
the shipment's ``provider_ref`` and every later poll reads it
(``GET /v2/trackers/{id}``) — creating again would cost another tracker fee.
A stored id EasyPost no longer knows (404) is replaced by a new tracker.

Auth: HTTP Basic with the API key as user name and no password. Limits:
EasyPost publishes 5 requests a second for index endpoints and a load-based
limiter elsewhere; 5/s is the default for both calls, and a 429 without
``Retry-After`` waits one second. 402 (payment required) stops the provider
like bad credentials do.

Times: "when enough location information is present, EasyPost assigns the
appropriate local time zone to the event's datetime; when location information
is incomplete, timestamps default to UTC". Offsets given are kept; a naive
datetime is read in its location's zone (a bare US state counts as US), else
UTC. ``est_delivery_date`` is used as given; failing that the carrier's local
``est_delivery_date_local``/``_time_local`` are read in the destination's zone.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Sequence
from datetime import datetime
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
    AuthError,
    NormalizedEvent,
    NotFound,
    TrackRequest,
    TrackResult,
    map_status,
)
from sync.carriers.times import is_us_state, location_zone, parse_time

log = logging.getLogger("orderdeck.carriers")

S = ShipmentStatus

#: Tracker ``status`` (and each TrackingDetail's).
STATUSES: dict[str, ShipmentStatus] = {
    "unknown": S.PENDING,
    "pre_transit": S.INFO_RECEIVED,
    "in_transit": S.IN_TRANSIT,
    "out_for_delivery": S.OUT_FOR_DELIVERY,
    "delivered": S.DELIVERED,
    "available_for_pickup": S.AVAILABLE_FOR_PICKUP,
    "return_to_sender": S.EXCEPTION,
    "failure": S.EXCEPTION,
    "cancelled": S.EXCEPTION,
    "canceled": S.EXCEPTION,
    # "EasyPost or the carrier could not process the tracker": reported as not found.
    "error": S.PENDING,
}

#: ``status_detail``: every documented value, as the text kept in ``substatus``.
DETAILS: dict[str, str] = {
    "address_correction": "Address corrected",
    "arrived_at_destination": "Arrived at destination",
    "arrived_at_facility": "Arrived at facility",
    "arrived_at_pickup_location": "Arrived at pickup location",
    "awaiting_information": "Awaiting information",
    "cancelled": "Cancelled",
    "damaged": "Damaged",
    "delayed": "Delayed",
    "delivery_exception": "Delivery exception",
    "departed_facility": "Departed facility",
    "departed_origin_facility": "Departed origin facility",
    "expired": "Expired",
    "failure": "Failure",
    "held": "Held",
    "in_transit": "In transit",
    "label_created": "Label created",
    "lost": "Lost",
    "missorted": "Missorted",
    "out_for_delivery": "Out for delivery",
    "received_at_destination_facility": "Received at destination facility",
    "received_at_origin_facility": "Received at origin facility",
    "refused": "Refused",
    "return": "Return",
    "status_update": "Status update",
    "transferred_to_destination_carrier": "Transferred to destination carrier",
    "transit_exception": "Transit exception",
    "unknown": "Unknown",
    "weather_delay": "Weather delay",
}

#: Details that sharpen a coarse status (EasyPost says to trust ``status``; these
#: only refine it where the detail is unambiguous).
DETAIL_OVERRIDES: dict[tuple[str, str], ShipmentStatus] = {
    ("in_transit", "arrived_at_pickup_location"): S.AVAILABLE_FOR_PICKUP,
    ("out_for_delivery", "arrived_at_pickup_location"): S.AVAILABLE_FOR_PICKUP,
    ("unknown", "label_created"): S.INFO_RECEIVED,
}

#: Carrier as the Tracker endpoint names it (compared without case or spaces) -> orderdeck.
CARRIERS: dict[str, str] = {
    "usps": "usps",
    "ups": "ups",
    "upsdap": "ups",
    "upsmailinnovations": "ups",
    "upssurepost": "ups",
    "fedex": "fedex",
    "fedexdefault": "fedex",
    "fedexsmartpost": "fedex",
    "fedexcrossborder": "fedex",
    "dhlexpress": "dhl",
    "dhlecs": "dhl_ecommerce",
    "dhlecommercesolutions": "dhl_ecommerce",
    "dhlecommerce": "dhl_ecommerce",
    "dhlglobalmail": "dhl_ecommerce",
    "canadapost": "canada_post",
    "purolator": "purolator",
    "ontrac": "ontrac",
    "lasership": "lasership",
    "amazonshipping": "amazon",
    "australiapost": "australia_post",
    "royalmail": "royal_mail",
    "royalmailv3": "royal_mail",
    "hermes": "evri",
    "evri": "evri",
    "dpduk": "dpd",
    "dpd": "dpd",
    "parcelforce": "parcelforce",
    "yodel": "yodel",
    "aramex": "aramex",
    "postnl": "postnl",
}
#: orderdeck code -> the carrier a create request names. Carriers not listed are
#: left to EasyPost's auto-detection rather than guessed.
REQUEST_CARRIERS: dict[str, str] = {
    "usps": "USPS", "ups": "UPS", "fedex": "FedEx", "dhl": "DHLExpress",
    "dhl_ecommerce": "DHLEcs", "canada_post": "CanadaPost", "purolator": "Purolator",
    "ontrac": "OnTrac", "lasership": "LaserShip", "amazon": "AmazonShipping",
    "australia_post": "AustraliaPost", "royal_mail": "RoyalMail", "evri": "Hermes",
}  # fmt: skip


class EasyPostAdapter(AggregatorAdapter):
    code: ClassVar[str] = "easypost"
    name: ClassVar[str] = "EasyPost"
    display_name: ClassVar[str] = "EasyPost Trackers"
    default_base_url: ClassVar[str] = "https://api.easypost.com"
    default_rate_limit: ClassVar[float] = 5.0
    endpoint_limits: ClassVar[dict[str, float]] = {"create": 5.0, "read": 5.0}
    rate_limit_window: ClassVar[float] = 1.0
    batch_size: ClassVar[int] = 1
    covers: ClassVar[frozenset[str] | None] = frozenset(CARRIERS.values())

    def __init__(
        self,
        settings: Any,
        *,
        timeout: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        super().__init__(settings, timeout=timeout, transport=transport)
        self.client.auth = httpx.BasicAuth(self.api_key, "")
        # The header carries the key base64-encoded: mask that form too.
        self.secrets.append(base64.b64encode(f"{self.api_key}:".encode()).decode())
        self.client.headers["Accept"] = "application/json"

    def raise_for_status(self, response: httpx.Response, *, not_found_ok: bool = False) -> None:
        if response.status_code == 402:
            raise AuthError(
                f"{self.name} refused the request: payment required (HTTP 402): "
                f"check the account's billing for the key in {self.section}"
            )
        super().raise_for_status(response, not_found_ok=not_found_ok)

    async def track(self, requests: Sequence[TrackRequest]) -> list[TrackResult]:
        return [await self._track_one(request) for request in requests]

    async def _track_one(self, request: TrackRequest) -> TrackResult:
        if request.provider_ref:
            response = await self.call(
                "read", "GET", f"/v2/trackers/{quote(request.provider_ref, safe='')}",
                accept=(404,),
            )  # fmt: skip
            if response.status_code != 404:
                return self._result(request, self._tracker(response))
            log.info("%s: tracker %s is gone; creating a new one", self.name, request.provider_ref)
        tracker: dict[str, Any] = {"tracking_code": request.tracking_number}
        carrier = REQUEST_CARRIERS.get(request.carrier or "")
        if carrier:
            tracker["carrier"] = carrier
        response = await self.call(
            "create", "POST", "/v2/trackers", json={"tracker": tracker}, accept=(400, 422)
        )
        if response.status_code in (400, 422):
            error = self.body(response).get("error")
            message = text(obj(error).get("message"))
            return TrackResult(
                request.tracking_number,
                error=NotFound(
                    f"{self.name} cannot track {request.tracking_number}: "
                    f"{self.mask(message) or f'HTTP {response.status_code}'}"
                ),
            )
        return self._result(request, self._tracker(response))

    def _tracker(self, response: httpx.Response) -> dict[str, Any]:
        body = self.body(response)
        if body.get("object") not in (None, "Tracker") or not (
            body.get("id") or body.get("tracking_code")
        ):
            raise self.bad(response, "expected a Tracker object")
        return body

    def _status(self, status: object, detail: object) -> ShipmentStatus:
        mapped = map_status(self.name, str(status), STATUSES, S.IN_TRANSIT) if status else S.PENDING
        if detail:
            # Known details keep the status; an unknown one is logged once.
            map_status(
                f"{self.name} status_detail", str(detail), dict.fromkeys(DETAILS, mapped), mapped
            )
            return DETAIL_OVERRIDES.get((str(status), str(detail)), mapped)
        return mapped

    def _result(self, request: TrackRequest, t: dict[str, Any]) -> TrackResult:
        status, detail = t.get("status"), t.get("status_detail")
        details = [d for d in t.get("tracking_details") or [] if isinstance(d, dict)]
        events = [e for e in (self._event(d) for d in details) if e]
        carrier_detail = obj(t.get("carrier_detail"))
        result = TrackResult(
            request.tracking_number,
            events=unique_events(events),
            status=self._status(status, detail),
            substatus=DETAILS.get(str(detail)) or (text(detail) or None),
            estimated_delivery=_estimate(t, carrier_detail),
            carrier=carrier_from(t.get("carrier"), CARRIERS) or request.carrier,
            provider_ref=str(t["id"]) if t.get("id") else request.provider_ref,
            returned=status == "return_to_sender"
            or detail == "return"
            or any(
                d.get("status") == "return_to_sender" or d.get("status_detail") == "return"
                for d in details
            ),
        )
        if status == "error":
            result.error = NotFound(
                f"{self.name} could not process the tracker for {request.tracking_number}"
            )
        elif status in (None, "unknown") and not events:
            result.error = NotFound(
                f"{self.name} has no tracking information for {request.tracking_number} yet"
            )
        return result

    def _event(self, d: dict[str, Any]) -> NormalizedEvent | None:
        where = obj(d.get("tracking_location"))
        when = parse_time(d.get("datetime"), zone=_zone(where))
        if when is None:
            log.warning("%s: tracking detail without a readable datetime skipped", self.name)
            return None
        detail = d.get("status_detail")
        return NormalizedEvent(
            occurred_at=when.at,
            status=self._status(d.get("status"), detail),
            description=text(d.get("message")) or text(d.get("description")),
            substatus=DETAILS.get(str(detail)) or (text(detail) or None),
            location=place(
                where.get("city"), where.get("state"), where.get("zip"), where.get("country")
            ),
            utc_offset_minutes=when.utc_offset_minutes,
            raw=d,
        )


def _zone(where: dict[str, Any]) -> Any:
    country = where.get("country") or ("US" if is_us_state(where.get("state")) else None)
    return location_zone(country, where.get("state"))


def _estimate(t: dict[str, Any], carrier_detail: dict[str, Any]) -> datetime | None:
    parsed = parse_time(t.get("est_delivery_date"), end_of_day=True)
    if parsed:
        return parsed.at
    local_date = carrier_detail.get("est_delivery_date_local")
    if not local_date:
        return None
    destination = carrier_detail.get("destination_tracking_location")
    zone = _zone(destination) if isinstance(destination, dict) else None
    local_time = carrier_detail.get("est_delivery_time_local")
    stamp = f"{local_date}T{local_time}" if local_time else str(local_date)
    parsed = parse_time(stamp, zone=zone, end_of_day=True)
    return parsed.at if parsed else None
