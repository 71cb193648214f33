"""USPS Tracking 3.0: ``GET /tracking/v3/tracking/{trackingNumber}?expand=DETAIL``.

Followed: USPS's own examples repository (github.com/USPS/api-examples,
README "OAuth Token": ``POST /oauth2/v3/token`` with a JSON body of
``client_id``, ``client_secret``, ``grant_type=client_credentials``; production
``https://apis.usps.com``, testing environment for mailers
``https://apis-tem.usps.com``), the Tracking 3.0 OpenAPI description
(``TrackingDetails``: ``statusCategory``, ``status``, ``statusSummary``,
``expectedDeliveryTimeStamp``, ``trackingEvents[]`` with ``eventType``,
``eventCode``, ``eventTimestamp``, ``GMTTimestamp``, ``GMTOffset``,
``eventCity``/``eventState``/``eventZIP``/``eventCountry``; errors as
``{"error": {"code", "message", "errors": [...]}}``), and the USPS tracking
event codes (Publication 199 / Web Tools Track "event codes": 01 Delivered, 02
and 52-56 notice left, 09 and 21-31 return to sender, OF out for delivery, MA
manifest acknowledgement...), as kept by USPS::WebTools::Tracking::Codes.

Quota: a new USPS API app may make 60 calls an hour, so the default rate is
60/3600 requests/s and a 429 without ``Retry-After`` waits 60 s (one slot of
that hourly budget). One number per request.

Times: ``GMTTimestamp`` is UTC and wins, with ``GMTOffset`` kept; a bare
``eventTimestamp`` is local wall time at the scan, read in the zone of its
state (``eventCountry`` is empty for domestic scans, so it means US).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, ClassVar
from urllib.parse import quote

from store.statuses import ShipmentStatus as S
from sync.carriers.base import BadResponse, NormalizedEvent, TrackRequest, TrackResult, map_status
from sync.carriers.direct import dig, items, loose_json, place, text
from sync.carriers.localtime import at_location, end_of_day, parse_iso, parse_offset, zone_for
from sync.carriers.oauth import OAuthAdapter

#: ``statusCategory`` (lower-cased, spaces for hyphens) -> orderdeck status.
STATUS_CATEGORIES: dict[str, S] = {
    "pre shipment": S.INFO_RECEIVED,
    "accepted": S.IN_TRANSIT,
    "in transit": S.IN_TRANSIT,
    "out for delivery": S.OUT_FOR_DELIVERY,
    "delivered": S.DELIVERED,
    "available for pickup": S.AVAILABLE_FOR_PICKUP,
    "delivery attempt": S.FAILED_ATTEMPT,
    "alert": S.EXCEPTION,
    "return to sender": S.EXCEPTION,
    "missent": S.IN_TRANSIT,
    "awaiting delivery scan": S.IN_TRANSIT,
    "usps awaiting item": S.INFO_RECEIVED,
}

RETURN_CODES = frozenset({"09", "21", "22", "23", "24", "25", "26", "27", "28", "29", "31"})
ATTEMPT_CODES = frozenset({"02", "30", "51", "52", "53", "54", "55", "56"})

#: USPS tracking event codes -> orderdeck status.
EVENT_CODES: dict[str, S] = {
    "MA": S.INFO_RECEIVED,  # Manifest Acknowledgement (label created)
    "GX": S.INFO_RECEIVED,  # Shipping Label Created
    "TM": S.IN_TRANSIT,  # Shipment Acceptance (truck manifest)
    "PA": S.IN_TRANSIT,  # Shipment Acceptance (passive)
    "03": S.IN_TRANSIT,  # Accept or Pickup
    "43": S.IN_TRANSIT,  # Picked Up
    "OA": S.IN_TRANSIT,  # Origin Acceptance
    "10": S.IN_TRANSIT,  # Processed
    "PC": S.IN_TRANSIT,  # Sorting / Processing Complete
    "EF": S.IN_TRANSIT,  # Departed Sort Facility
    "SF": S.IN_TRANSIT,  # Departed Post Office
    "07": S.IN_TRANSIT,  # Arrival at Unit
    "06": S.IN_TRANSIT,  # Forwarded
    "08": S.IN_TRANSIT,  # Missent
    "15": S.IN_TRANSIT,  # Mis-shipped
    "19": S.IN_TRANSIT,  # DC eVS Arrive
    "41": S.IN_TRANSIT,  # Received at Opening Unit
    "42": S.IN_TRANSIT,  # USPS Handoff to Shipping Partner
    "80": S.IN_TRANSIT,  # Picked Up by Shipping Partner
    "81": S.IN_TRANSIT,  # Arrived Shipping Partner Facility
    "82": S.IN_TRANSIT,  # Departed Shipping Partner Facility
    "71": S.IN_TRANSIT,  # Rescheduled to Next Delivery Day
    "DX": S.IN_TRANSIT,  # Delivery Status Not Updated
    "OF": S.OUT_FOR_DELIVERY,  # Out for Delivery
    "14": S.AVAILABLE_FOR_PICKUP,  # Arrival at Pickup Point
    "16": S.AVAILABLE_FOR_PICKUP,  # Available for Pickup
    "01": S.DELIVERED,  # Delivered
    "17": S.DELIVERED,  # Picked Up By Agent
    "02": S.FAILED_ATTEMPT,  # Attempted / Notice Left
    "30": S.FAILED_ATTEMPT,  # Delivery Attempted - No Access to Delivery Location
    "51": S.FAILED_ATTEMPT,  # Business Closed
    "52": S.FAILED_ATTEMPT,  # Notice Left
    "53": S.FAILED_ATTEMPT,  # Receptacle Blocked
    "54": S.FAILED_ATTEMPT,  # Receptacle Full / Item Oversized
    "55": S.FAILED_ATTEMPT,  # No Secure Location Available
    "56": S.FAILED_ATTEMPT,  # No Authorized Recipient Available
    "04": S.EXCEPTION,  # Refused
    "05": S.EXCEPTION,  # Undeliverable as Addressed
    "11": S.EXCEPTION,  # Dead Letter
    "44": S.EXCEPTION,  # Customer Recall
    "09": S.EXCEPTION,  # Return to Sender
    "21": S.EXCEPTION,  # No Such Number
    "22": S.EXCEPTION,  # Insufficient Address
    "23": S.EXCEPTION,  # Moved, Left No Address
    "24": S.EXCEPTION,  # Forward Expired
    "25": S.EXCEPTION,  # Addressee Unknown
    "26": S.EXCEPTION,  # Vacant
    "27": S.EXCEPTION,  # Unclaimed
    "28": S.EXCEPTION,  # Deceased
    "29": S.EXCEPTION,  # Return to Sender: other
    "31": S.EXCEPTION,  # Return to Sender: not picked up
}

_NOT_FOUND = re.compile(r"not found|no record|invalid tracking|could not locate", re.I)
_RETURNED = re.compile(r"return(ed|ing)? to sender", re.I)


def _category(value: str) -> str:
    return re.sub(r"[\s_-]+", " ", value.strip().casefold())


class UspsAdapter(OAuthAdapter):
    code: ClassVar[str] = "usps"
    name: ClassVar[str] = "USPS"
    display_name: ClassVar[str] = "USPS Tracking 3.0"
    covers: ClassVar[frozenset[str] | None] = frozenset({"usps"})
    batch_size: ClassVar[int] = 1
    default_rate_limit: ClassVar[float] = 60 / 3600
    rate_window_seconds: ClassVar[float] = 60.0
    default_base_url: ClassVar[str] = "https://apis.usps.com"
    token_path: ClassVar[str] = "/oauth2/v3/token"
    token_style = "json"
    track_path: ClassVar[str] = "/tracking/v3/tracking/{number}"

    async def track(self, requests: Sequence[TrackRequest]) -> list[TrackResult]:
        return [await self._track_one(request) for request in requests]

    async def _track_one(self, request: TrackRequest) -> TrackResult:
        number = request.tracking_number
        response = await self.authorized(
            "GET",
            self.track_path.format(number=quote(number, safe="")),
            params={"expand": "DETAIL"},
            headers={"Accept": "application/json"},
        )
        if response.status_code in (400, 404):
            message = _error_text(loose_json(response))
            if response.status_code == 404 or _NOT_FOUND.search(message):
                return self.not_found(number, message)
        self.raise_for_status(response)
        body = self.json(response)
        if not isinstance(body, Mapping):
            raise self.bad_shape(response, "not a JSON object")
        if body.get("error"):
            message = _error_text(body)
            if _NOT_FOUND.search(message):
                return self.not_found(number, message)
            raise BadResponse(f"{self.name}: error for {number}: {self.mask(message)[:200]}")
        return self.parse_tracking(number, body)

    def parse_tracking(self, number: str, body: Mapping[str, Any]) -> TrackResult:
        raw_events = items(body.get("trackingEvents"))
        events = [e for e in (self.parse_event(ev) for ev in raw_events) if e]
        category = text(body.get("statusCategory"))
        status = None
        if category:
            status = map_status(self.name, _category(category), STATUS_CATEGORIES, S.IN_TRANSIT)
        returned = (
            _category(category) == "return to sender"
            or any(text(ev.get("eventCode")) in RETURN_CODES for ev in raw_events)
            or bool(_RETURNED.search(text(body.get("status"))))
        )
        return TrackResult(
            tracking_number=number,
            events=events,
            status=status,
            substatus=text(body.get("status")) or text(body.get("statusSummary")) or None,
            estimated_delivery=self.estimated_delivery(body),
            carrier="usps",
            returned=returned,
        )

    def map_event(self, event: Mapping[str, Any]) -> S:
        code = text(event.get("eventCode")).upper()
        if code:
            return map_status(self.name, code, EVENT_CODES, S.IN_TRANSIT)
        kind = text(event.get("eventType")).casefold()
        # No code: the scan text decides, the same words the codes stand for.
        for words, status in (
            ("out for delivery", S.OUT_FOR_DELIVERY),
            ("available for pickup", S.AVAILABLE_FOR_PICKUP),
            ("notice left", S.FAILED_ATTEMPT),
            ("delivery attempted", S.FAILED_ATTEMPT),
            ("delivered", S.DELIVERED),
            ("return to sender", S.EXCEPTION),
            ("label created", S.INFO_RECEIVED),
            ("pre-shipment", S.INFO_RECEIVED),
        ):
            if words in kind:
                return status
        return map_status(self.name, kind or None, {}, S.IN_TRANSIT)

    def parse_event(self, event: Mapping[str, Any]) -> NormalizedEvent | None:
        country = text(event.get("eventCountry")) or "US"
        state = text(event.get("eventState"))
        moment = self.event_time(event, country, state)
        if moment is None:
            return None
        kind = text(event.get("eventType"))
        return NormalizedEvent(
            occurred_at=moment[0],
            status=self.map_event(event),
            description=kind,
            substatus=kind or None,
            location=place(
                event.get("eventCity"),
                state,
                event.get("eventZIP") or event.get("eventZIPCode"),
                text(event.get("eventCountry")),
            ),
            utc_offset_minutes=moment[1],
            raw=dict(event),
        )

    @staticmethod
    def event_time(
        event: Mapping[str, Any], country: str, state: str
    ) -> tuple[datetime, int | None] | None:
        offset = parse_offset(text(event.get("GMTOffset")) or None)
        gmt = parse_iso(text(event.get("GMTTimestamp")))
        if gmt is not None:
            instant = gmt[0] if gmt[0].tzinfo else gmt[0].replace(tzinfo=UTC)
            if offset is not None:
                return instant.astimezone(timezone(timedelta(minutes=offset))), offset
            return instant.astimezone(UTC), None
        local = parse_iso(text(event.get("eventTimestamp")))
        if local is None:
            return None
        if local[0].tzinfo is None and offset is not None:
            return local[0].replace(tzinfo=timezone(timedelta(minutes=offset))), offset
        return at_location(text(event.get("eventTimestamp")), country, state)

    def estimated_delivery(self, body: Mapping[str, Any]) -> datetime | None:
        state = text(body.get("destinationState"))
        country = text(body.get("destinationCountryCode")) or "US"
        for key in (
            "expectedDeliveryTimeStamp",
            "predictedDeliveryTimeStamp",
            "guaranteedDeliveryTimeStamp",
        ):
            moment = at_location(text(body.get(key)), country, state)
            if moment is not None:
                return moment[0]
        for key in ("expectedDeliveryDate", "predictedDeliveryDate"):
            parsed = parse_iso(text(body.get(key)))
            if parsed is not None:
                return end_of_day(parsed[0].date(), zone_for(country, state))
        return None


def _error_text(body: Any) -> str:
    error = dig(body, "error")
    if not isinstance(error, Mapping):
        return ""
    parts = [text(error.get("code")), text(error.get("message"))]
    for entry in items(error.get("errors")):
        parts.extend(text(entry.get(k)) for k in ("code", "title", "detail"))
    return "; ".join(p for p in parts if p)
