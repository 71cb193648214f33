"""DHL Shipment Tracking - Unified: ``GET /track/shipments?trackingNumber=``.

Followed: the DHL API Developer Portal page "Shipment Tracking - Unified"
(developer.dhl.com/api-reference/shipment-tracking, v1.5.8): production
``https://api-eu.dhl.com``, the ``DHL-API-Key`` header, query parameters
``trackingNumber``, ``service``, ``recipientPostalCode``, ``language``; the
answer ``shipments[]`` with ``service``, ``status`` and ``events[]`` (each
``timestamp``, ``location.address`` {``countryCode``, ``postalCode``,
``addressLocality``}, ``statusCode`` one of ``pre-transit``, ``transit``,
``delivered``, ``failure``, ``unknown``, and free-text ``status`` /
``description`` / ``remark``), ``estimatedTimeOfDelivery`` and
``estimatedDeliveryTimeFrame``; errors as RFC 7807 problem JSON, 404 "No
result found". Rate limits from the same page and DHL's knowledge base: the
initial (starter) service level allows 1 call per second and 250 calls a day;
the daily count resets at 00:00 GMT. So the default rate is 1/s, a 429 without
``Retry-After`` waits 1 s, or until midnight GMT when its text speaks of the
day's quota. DHL offers no sandbox to external customers (its knowledge base
says to test in production).

DHL's ``statusCode`` is coarse; where its text is unambiguous ("out for
delivery", "ready for pick-up", "delivery attempt", "returned to sender") the
event is placed on the finer orderdeck status, and the text kept as substatus.

Times: ``timestamp`` with an offset keeps it; without one it is local time at
the event's country (DHL addresses carry no state, so a country spanning
several zones is read as UTC).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, ClassVar

from store.statuses import ShipmentStatus as S
from sync.carriers.base import NormalizedEvent, TrackRequest, TrackResult, map_status
from sync.carriers.direct import DirectAdapter, dig, items, loose_json, place, text
from sync.carriers.localtime import at_location, end_of_day, parse_iso, zone_for

STATUS_CODES: dict[str, S] = {
    "pre-transit": S.INFO_RECEIVED,
    "transit": S.IN_TRANSIT,
    "delivered": S.DELIVERED,
    "failure": S.EXCEPTION,
    "unknown": S.PENDING,
}

#: Finer statuses read from DHL's text, checked in order.
_REFINE: tuple[tuple[re.Pattern[str], frozenset[S], S], ...] = (
    (
        re.compile(r"out for delivery|with (the )?(delivery )?courier for delivery|"
                   r"loaded onto the delivery vehicle", re.I),
        frozenset({S.IN_TRANSIT}),
        S.OUT_FOR_DELIVERY,
    ),
    (
        re.compile(r"ready for (pick-?up|collection)|available for (pick-?up|collection)|"
                   r"can be picked up|awaiting collection", re.I),
        frozenset({S.IN_TRANSIT, S.EXCEPTION}),
        S.AVAILABLE_FOR_PICKUP,
    ),
    (
        re.compile(r"delivery attempt|could not be delivered|recipient (was )?not (at home|"
                   r"available)|not home", re.I),
        frozenset({S.IN_TRANSIT, S.EXCEPTION}),
        S.FAILED_ATTEMPT,
    ),
)  # fmt: skip
_RETURNED = re.compile(r"return(ed|ing)? to (the )?(sender|shipper)|returned to origin", re.I)

#: DHL ``service`` -> the orderdeck carrier code that moves such parcels.
SERVICES: dict[str, str] = {
    "express": "dhl",
    "freight": "dhl",
    "dgf": "dhl",
    "dsc": "dhl",
    "sameday": "dhl",
    "parcel-uk": "dhl",
    "parcel-nl": "dhl",
    "parcel-pl": "dhl",
    "ecommerce": "dhl_ecommerce",
    "ecommerce-apac": "dhl_ecommerce",
    "ecommerce-europe": "dhl_ecommerce",
    "ecommerce-iberia": "dhl_ecommerce",
    "parcel-de": "deutsche_post",
    "post-de": "deutsche_post",
    "post-international": "deutsche_post",
}
#: orderdeck carrier -> the ``service`` DHL should search first.
SERVICE_FOR: dict[str, str] = {"dhl": "express", "dhl_ecommerce": "ecommerce"}


class DhlAdapter(DirectAdapter):
    code: ClassVar[str] = "dhl"
    name: ClassVar[str] = "DHL"
    display_name: ClassVar[str] = "DHL Shipment Tracking - Unified"
    covers: ClassVar[frozenset[str] | None] = frozenset({"dhl", "dhl_ecommerce", "deutsche_post"})
    batch_size: ClassVar[int] = 1
    default_rate_limit: ClassVar[float] = 1.0
    rate_window_seconds: ClassVar[float] = 1.0
    default_base_url: ClassVar[str] = "https://api-eu.dhl.com"
    required_keys: ClassVar[tuple[str, ...]] = ("api_key",)
    track_path: ClassVar[str] = "/track/shipments"

    async def track(self, requests: Sequence[TrackRequest]) -> list[TrackResult]:
        return [await self._track_one(request) for request in requests]

    async def _track_one(self, request: TrackRequest) -> TrackResult:
        number = request.tracking_number
        params = {"trackingNumber": number, "language": "en"}
        if request.carrier in SERVICE_FOR:
            params["service"] = SERVICE_FOR[request.carrier]
        if request.destination_zip:
            params["recipientPostalCode"] = request.destination_zip
        response = await self.send(
            "GET",
            self.track_path,
            params=params,
            headers={
                "DHL-API-Key": str(self.settings.options["api_key"]),
                "Accept": "application/json",
            },
        )
        if response.status_code == 404:
            return self.not_found(number, text(dig(loose_json(response), "detail")))
        self.raise_for_status(response)
        body = self.json(response)
        shipments = items(dig(body, "shipments"))
        if not isinstance(body, Mapping) or "shipments" not in body:
            raise self.bad_shape(response, "no shipments")
        if not shipments:
            return self.not_found(number, "no shipments in the answer")
        shipment = next((s for s in shipments if text(s.get("id")) == number), shipments[0])
        return self.parse_shipment(number, shipment)

    def parse_shipment(self, number: str, shipment: Mapping[str, Any]) -> TrackResult:
        events = [e for e in (self.parse_event(ev) for ev in items(shipment.get("events"))) if e]
        current = shipment.get("status")
        status = substatus = None
        if isinstance(current, Mapping) and text(current.get("statusCode")):
            status = self.map_event(current)
            substatus = _words(current) or None
        texts = [_words(ev) for ev in items(shipment.get("events"))]
        if isinstance(current, Mapping):
            texts.append(_words(current))
        return TrackResult(
            tracking_number=number,
            events=events,
            status=status,
            substatus=substatus,
            estimated_delivery=self.estimated_delivery(shipment),
            carrier=SERVICES.get(text(shipment.get("service")), "dhl"),
            provider_ref=text(shipment.get("service")) or None,
            returned=any(_RETURNED.search(t) for t in texts),
        )

    def map_event(self, event: Mapping[str, Any]) -> S:
        code = text(event.get("statusCode")).casefold()
        mapped = map_status(self.name, code or None, STATUS_CODES, S.IN_TRANSIT)
        words = _words(event)
        for pattern, applies_to, finer in _REFINE:
            if mapped in applies_to and pattern.search(words):
                return finer
        return mapped

    def parse_event(self, event: Mapping[str, Any]) -> NormalizedEvent | None:
        address = dig(event, "location", "address") or {}
        country = text(dig(address, "countryCode"))
        moment = at_location(text(event.get("timestamp")), country)
        if moment is None:
            return None
        description = text(event.get("description")) or text(event.get("status"))
        return NormalizedEvent(
            occurred_at=moment[0],
            status=self.map_event(event),
            description=description,
            substatus=text(event.get("status")) or text(event.get("remark")) or None,
            location=place(dig(address, "addressLocality"), dig(address, "postalCode"), country),
            utc_offset_minutes=moment[1],
            raw=dict(event),
        )

    def estimated_delivery(self, shipment: Mapping[str, Any]) -> datetime | None:
        country = text(dig(shipment, "destination", "address", "countryCode"))
        for raw in (
            text(shipment.get("estimatedTimeOfDelivery")),
            text(dig(shipment, "estimatedDeliveryTimeFrame", "estimatedThrough")),
        ):
            if not raw:
                continue
            if re.fullmatch(r"\d{4}-\d{2}-\d{2}", raw):
                parsed = parse_iso(raw)
                if parsed is not None:
                    return end_of_day(parsed[0].date(), zone_for(country))
            moment = at_location(raw, country)
            if moment is not None:
                return moment[0]
        return None


def _words(event: Mapping[str, Any]) -> str:
    return " ".join(
        p for p in (text(event.get(k)) for k in ("status", "description", "remark")) if p
    )
