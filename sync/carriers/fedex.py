"""FedEx Track API: ``POST /track/v1/trackingnumbers``, up to 30 numbers a call.

Followed: the FedEx Developer Portal's Track API (v1) reference and its API
reference guide (developer.fedex.com/api/en-us/guides/api-reference.html:
"Tracking Status Codes" -- movement, regulatory -- and "Status Code and Statuses
for Webhook Tracking Events"), the OAuth guide (``POST /oauth/token``, form
``grant_type=client_credentials&client_id&client_secret``), and the "Quotas &
rate limits guide" (developer.fedex.com/api/en-us/guides/ratelimits.html): 1,400
transactions per 10 s per project -- a 429 then lasts the rest of that 10-second
window -- and a default quota of 100,000 Track requests a day, whose 429 says
"Daily transaction quota exceeded. Retry after 12:00AM GMT". The default rate
is that daily quota spread over the day (about 1.16 requests/s, each carrying
up to 30 numbers); a short burst is still far under 140/s. Request and response
shapes were checked against karrio's ``fedex/tracking.py``.

Per number, a result either has ``scanEvents`` or an ``error`` such as
``TRACKING.TRACKINGNUMBER.NOTFOUND``, which becomes that number's NotFound.

Times: ``scanEvents[].date`` and ``dateAndTimes[].dateTime`` carry their UTC
offset, which is kept; one without an offset is read in the scan location's
zone (country + state), else UTC.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, ClassVar

from store.statuses import ShipmentStatus as S
from sync.carriers.base import (
    NormalizedEvent,
    TemporaryError,
    TrackRequest,
    TrackResult,
    map_status,
)
from sync.carriers.direct import dig, items, loose_json, place, text
from sync.carriers.localtime import at_location, end_of_day, parse_iso, zone_for
from sync.carriers.oauth import OAuthAdapter

#: FedEx tracking status / scan event codes -> orderdeck status.
STATUS_CODES: dict[str, S] = {
    # Movement
    "AA": S.IN_TRANSIT,  # At Airport
    "AC": S.IN_TRANSIT,  # At Canada Post facility
    "AD": S.OUT_FOR_DELIVERY,  # At Delivery
    "AF": S.IN_TRANSIT,  # At local FedEx Facility
    "AO": S.IN_TRANSIT,  # Shipment arriving On-time
    "AP": S.INFO_RECEIVED,  # At Pickup (not picked up yet)
    "AR": S.IN_TRANSIT,  # Arrived at FedEx location
    "AX": S.IN_TRANSIT,  # At USPS facility
    "CA": S.EXCEPTION,  # Shipment Cancelled
    "CH": S.IN_TRANSIT,  # Location Changed
    "DD": S.EXCEPTION,  # Delivery Delay
    "DE": S.EXCEPTION,  # Delivery Exception
    "DL": S.DELIVERED,  # Delivered
    "DP": S.IN_TRANSIT,  # Departed
    "DR": S.IN_TRANSIT,  # Vehicle furnished but not used
    "DS": S.INFO_RECEIVED,  # Vehicle Dispatched (to pick up)
    "DY": S.IN_TRANSIT,  # Delay / delivery date updated
    "EA": S.IN_TRANSIT,  # Enroute to Airport / Export Approved
    "ED": S.OUT_FOR_DELIVERY,  # Enroute to Delivery
    "EO": S.IN_TRANSIT,  # Enroute to Origin Airport
    "EP": S.INFO_RECEIVED,  # Enroute to Pickup
    "FD": S.IN_TRANSIT,  # At FedEx Destination
    "HL": S.AVAILABLE_FOR_PICKUP,  # Hold at Location
    "HP": S.AVAILABLE_FOR_PICKUP,  # Ready for Recipient Pickup
    "IT": S.IN_TRANSIT,  # In Transit
    "IX": S.IN_TRANSIT,  # In transit (see Details)
    "LO": S.IN_TRANSIT,  # Left Origin
    "OC": S.INFO_RECEIVED,  # Order Created / shipment information sent to FedEx
    "OD": S.OUT_FOR_DELIVERY,  # Out for Delivery
    "OF": S.IN_TRANSIT,  # At FedEx origin facility
    "OW": S.IN_TRANSIT,  # On the way
    "OX": S.IN_TRANSIT,  # Shipment information sent to USPS
    "PD": S.INFO_RECEIVED,  # Pickup Delay
    "PF": S.IN_TRANSIT,  # Plane in Flight
    "PL": S.IN_TRANSIT,  # Plane Landed
    "PM": S.IN_TRANSIT,  # In Progress
    "PU": S.IN_TRANSIT,  # Picked Up
    "PX": S.IN_TRANSIT,  # Picked up (see Details)
    "RR": S.IN_TRANSIT,  # CDO requested
    "RM": S.IN_TRANSIT,  # CDO Modified
    "RC": S.IN_TRANSIT,  # CDO Cancelled
    "RS": S.EXCEPTION,  # Return to Shipper (and TrackResult.returned)
    "RP": S.INFO_RECEIVED,  # Return label link emailed to return sender
    "LP": S.EXCEPTION,  # Return label link cancelled by shipment originator
    "RG": S.INFO_RECEIVED,  # Return label link expiring soon
    "RD": S.EXCEPTION,  # Return label link expired
    "SE": S.EXCEPTION,  # Shipment Exception
    "SF": S.IN_TRANSIT,  # At Sort Facility
    "SP": S.IN_TRANSIT,  # Split Status
    "TR": S.IN_TRANSIT,  # Transfer / enroute to delivery
    # Regulatory
    "CC": S.IN_TRANSIT,  # Cleared Customs
    "CD": S.EXCEPTION,  # Clearance Delay
    "CP": S.IN_TRANSIT,  # Clearance in Progress
    # Webhook tracking event codes that also appear as scan event types
    "DO": S.IN_TRANSIT,  # Dropped Off
    "LC": S.EXCEPTION,  # Return label link cancelled
    "US": S.IN_TRANSIT,  # Scheduled delivery updated
    "IP": S.IN_TRANSIT,  # In FedEx possession
    "IN": S.IN_TRANSIT,  # On Demand Care completed
    "MD": S.INFO_RECEIVED,  # Manifest data
    "AE": S.IN_TRANSIT,  # Shipment arriving early
    "HA": S.IN_TRANSIT,  # Hold at location request accepted
    "RT": S.IN_TRANSIT,  # Return to Shipper requested
    "RA": S.IN_TRANSIT,  # Address change requested
    "PR": S.IN_TRANSIT,  # Redirect: address change completed
    "AS": S.IN_TRANSIT,  # Address corrected
}

#: A delivery exception whose text says nobody could take the parcel.
_ATTEMPT = re.compile(
    r"attempt|customer not available|recipient not (available|in)|no one (was )?available|"
    r"business closed",
    re.I,
)
NOT_FOUND_CODES = frozenset(
    {
        "TRACKING.TRACKINGNUMBER.NOTFOUND",
        "TRACKING.TRACKINGNUMBER.INVALID",
        "TRACKING.REFERENCENUMBER.NOTFOUND",
    }
)
#: The ``dateAndTimes`` types that are an estimate of delivery, best first.
ETA_TYPES = ("ESTIMATED_DELIVERY", "APPOINTMENT_DELIVERY", "COMMITMENT")


class FedexAdapter(OAuthAdapter):
    code: ClassVar[str] = "fedex"
    name: ClassVar[str] = "FedEx"
    display_name: ClassVar[str] = "FedEx Track API"
    covers: ClassVar[frozenset[str] | None] = frozenset({"fedex"})
    batch_size: ClassVar[int] = 30
    default_rate_limit: ClassVar[float] = 100_000 / 86_400
    rate_window_seconds: ClassVar[float] = 10.0
    default_base_url: ClassVar[str] = "https://apis.fedex.com"
    token_path: ClassVar[str] = "/oauth/token"
    token_style = "form"
    track_path: ClassVar[str] = "/track/v1/trackingnumbers"

    async def track(self, requests: Sequence[TrackRequest]) -> list[TrackResult]:
        results: list[TrackResult] = []
        for start in range(0, len(requests), self.batch_size):
            results.extend(await self._track_batch(requests[start : start + self.batch_size]))
        return results

    async def _track_batch(self, batch: Sequence[TrackRequest]) -> list[TrackResult]:
        numbers = [r.tracking_number for r in batch]
        response = await self.authorized(
            "POST",
            self.track_path,
            json={
                "includeDetailedScans": True,
                "trackingInfo": [{"trackingNumberInfo": {"trackingNumber": n}} for n in numbers],
            },
            headers={"X-locale": "en_US", "Content-Type": "application/json"},
        )
        if response.status_code in (400, 404):
            codes = {text(e.get("code")) for e in items(dig(loose_json(response), "errors"))}
            if codes and codes <= NOT_FOUND_CODES:
                return [self.not_found(n) for n in numbers]
            if response.status_code == 404:
                raise self.bad_shape(response, f"HTTP 404: check base_url in {self.section}")
        self.raise_for_status(response)
        body = self.json(response)
        complete = dig(body, "output", "completeTrackResults")
        if not isinstance(complete, list):
            raise self.bad_shape(response, "no output.completeTrackResults")
        by_number: dict[str, list[Mapping[str, Any]]] = {}
        for entry in items(complete):
            by_number.setdefault(text(entry.get("trackingNumber")), []).extend(
                items(entry.get("trackResults"))
            )
        results = []
        for number in numbers:
            found = by_number.get(number)
            if not found:
                results.append(self.not_found(number, "not in the answer"))
                continue
            results.append(self.parse_results(number, found))
        return results

    def parse_results(self, number: str, found: list[Mapping[str, Any]]) -> TrackResult:
        usable = [r for r in found if not r.get("error")]
        if not usable:
            error = found[0].get("error") if isinstance(found[0].get("error"), Mapping) else {}
            code = text(error.get("code"))
            message = text(error.get("message"))
            if code in NOT_FOUND_CODES or "NOTFOUND" in code:
                return self.not_found(number, message)
            return TrackResult(
                tracking_number=number,
                error=TemporaryError(f"{self.name}: {code or 'error'} for {number}: {message}"),
            )
        # A number FedEx reused can have several results: take the freshest.
        result = max(usable, key=_newest_scan)
        events = [e for e in (self.parse_scan(s) for s in items(result.get("scanEvents"))) if e]
        latest = result.get("latestStatusDetail")
        status = substatus = None
        if isinstance(latest, Mapping) and text(latest.get("code") or latest.get("derivedCode")):
            status = self.map_code(
                text(latest.get("code") or latest.get("derivedCode")),
                _reasons(latest),
            )
            substatus = text(latest.get("description") or latest.get("statusByLocale")) or None
        returned = any(
            text(s.get("eventType")) == "RS" or text(s.get("derivedStatusCode")) == "RS"
            for s in items(result.get("scanEvents"))
        ) or (isinstance(latest, Mapping) and text(latest.get("code")) == "RS")
        return TrackResult(
            tracking_number=number,
            events=events,
            status=status,
            substatus=substatus,
            estimated_delivery=self.estimated_delivery(result),
            carrier="fedex",
            returned=returned,
        )

    def map_code(self, code: str, detail: str = "") -> S:
        mapped = map_status(self.name, code.upper() or None, STATUS_CODES, S.IN_TRANSIT)
        if code.upper() == "DE" and _ATTEMPT.search(detail):
            return S.FAILED_ATTEMPT
        return mapped

    def parse_scan(self, scan: Mapping[str, Any]) -> NormalizedEvent | None:
        where = scan.get("scanLocation") if isinstance(scan.get("scanLocation"), Mapping) else {}
        country = text(where.get("countryCode"))
        region = text(where.get("stateOrProvinceCode"))
        moment = at_location(text(scan.get("date")), country, region)
        if moment is None:
            return None
        code = text(scan.get("eventType") or scan.get("derivedStatusCode"))
        description = text(scan.get("eventDescription"))
        exception = text(scan.get("exceptionDescription"))
        return NormalizedEvent(
            occurred_at=moment[0],
            status=self.map_code(code, f"{description} {exception}"),
            description=description or text(scan.get("derivedStatus")),
            substatus=exception or text(scan.get("derivedStatus")) or None,
            location=place(where.get("city"), region, where.get("postalCode"), country),
            utc_offset_minutes=moment[1],
            raw=dict(scan),
        )

    def estimated_delivery(self, result: Mapping[str, Any]) -> datetime | None:
        dates = {
            text(d.get("type")).upper(): text(d.get("dateTime"))
            for d in items(result.get("dateAndTimes"))
        }
        address = dig(result, "recipientInformation", "address") or dig(
            result, "destinationLocation", "locationContactAndAddress", "address"
        )
        country = text(dig(address, "countryCode"))
        region = text(dig(address, "stateOrProvinceCode"))
        candidates = [dates.get(kind) for kind in ETA_TYPES[:1]]
        candidates.append(text(dig(result, "estimatedDeliveryTimeWindow", "window", "ends")))
        candidates.extend(dates.get(kind) for kind in ETA_TYPES[1:])
        for raw in candidates:
            if not raw:
                continue
            parsed = parse_iso(raw)
            if parsed is None:
                continue
            if re.fullmatch(r"\s*\d{4}-\d{2}-\d{2}\s*", raw):
                return end_of_day(parsed[0].date(), zone_for(country, region))
            moment = at_location(raw, country, region)
            if moment is not None:
                return moment[0]
        return None


def _newest_scan(result: Mapping[str, Any]) -> str:
    stamps = []
    for scan in items(result.get("scanEvents")):
        parsed = parse_iso(text(scan.get("date")))
        if parsed is not None:
            stamps.append(parsed[0].replace(tzinfo=None).isoformat())
    return max(stamps, default="")


def _reasons(latest: Mapping[str, Any]) -> str:
    parts = [text(latest.get("description"))]
    for detail in items(latest.get("ancillaryDetails")):
        parts.extend(text(detail.get(k)) for k in ("reasonDescription", "actionDescription"))
    return " ".join(p for p in parts if p)
