"""UPS Track API: ``GET /api/track/v1/details/{inquiryNumber}``.

Followed: the UPS TrackService OpenAPI description published by UPS at
github.com/UPS-API/api-documentation, ``Tracking.yaml`` (OpenAPI 3.0.1, Track
API v1: servers ``https://onlinetools.ups.com/api`` and the Customer Integration
Environment ``https://wwwcie.ups.com/api``), its OAuth client-credentials
security scheme (``/security/v1/oauth/token``, ``client_secret_basic``), and the
activity status types and codes of the UPS Tracking appendix as transcribed by
real clients (karrio's ``ups/tracking.py``; the "Activity status type" enum D,
I, M, MV, P, X, RS, DO, DD, W, NA, O). A number UPS does not know comes back as
HTTP 404 (``response.errors``), HTTP 400 code 151018 ("Invalid tracking
number"), or HTTP 200 with shipment ``warnings`` code ``TW0001`` ("Tracking
Information Not Found").

Times: each activity has a local ``date``/``time`` and, in v1, ``gmtDate``,
``gmtTime`` and ``gmtOffset``. The GMT fields win (exact instant, the offset
kept); without them the local time is read in the zone of the activity's
country and state (:mod:`sync.carriers.localtime`), else UTC.

Estimated delivery: ``deliveryDate`` type RDD (rescheduled) over SDD
(scheduled), and the SDD a reschedule replaced as the original estimate; a date
without a time window means "by the end of that day" in the destination's zone. UPS publishes no numeric rate limit for Track: the
default is 5 requests/s and a 429 without ``Retry-After`` waits 60 s.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import Any, ClassVar
from urllib.parse import quote

import httpx

from store.statuses import ShipmentStatus as S
from sync.carriers.base import NormalizedEvent, TrackRequest, TrackResult, map_status
from sync.carriers.direct import dig, items, place, text
from sync.carriers.localtime import (
    end_of_day,
    localize,
    parse_offset,
    zone_for,
)
from sync.carriers.oauth import OAuthAdapter

#: Activity status type (``status.type``) -> orderdeck status.
STATUS_TYPES: dict[str, S] = {
    "M": S.INFO_RECEIVED,  # Billing Information Received: label created
    "MV": S.EXCEPTION,  # Billing Information Voided: label cancelled
    "P": S.IN_TRANSIT,  # Pickup
    "I": S.IN_TRANSIT,  # In Transit
    "O": S.OUT_FOR_DELIVERY,  # Out for Delivery
    "D": S.DELIVERED,  # Delivered
    "X": S.EXCEPTION,  # Exception
    "RS": S.EXCEPTION,  # Returned to Shipper (and TrackResult.returned)
    "DO": S.IN_TRANSIT,  # Delivered Origin CFS (freight only)
    "DD": S.IN_TRANSIT,  # Delivered Destination CFS (freight only)
    "W": S.IN_TRANSIT,  # Warehousing (freight only)
    "NA": S.PENDING,  # Not Available
}

#: Activity status codes (``status.code``) that say more than their type.
ACTIVITY_CODES: dict[str, S] = {
    "MP": S.INFO_RECEIVED,  # label created, UPS does not have the parcel yet
    "VP": S.EXCEPTION,  # voided information received
    "OR": S.IN_TRANSIT,  # origin scan
    "DS": S.IN_TRANSIT,  # processing at UPS facility
    "YP": S.IN_TRANSIT,  # processing at UPS facility
    "DP": S.IN_TRANSIT,  # departed from facility
    "AR": S.IN_TRANSIT,  # arrived at facility
    "IP": S.IN_TRANSIT,  # import scan
    "ZA": S.IN_TRANSIT,  # will be delivered to the preferred Access Point
    "ZC": S.IN_TRANSIT,  # will be delivered to the preferred Access Point
    "OF": S.OUT_FOR_DELIVERY,  # loaded on delivery vehicle
    "OT": S.OUT_FOR_DELIVERY,  # out for delivery today
    "YI": S.OUT_FOR_DELIVERY,  # out for delivery to UPS Access Point
    "ZP": S.AVAILABLE_FOR_PICKUP,  # UPS Access Point possession
    "KB": S.DELIVERED,  # signature obtained
    "FS": S.DELIVERED,
    "2W": S.DELIVERED,
    "8Q": S.DELIVERED,
    "9E": S.DELIVERED,
}

#: UPS reports a missed delivery as an exception (type X) whose text says so.
_ATTEMPT = re.compile(
    r"delivery attempt|attempted delivery|not available for delivery|"
    r"no one was available|receiver was not available|business was closed",
    re.I,
)
_RETURNED = re.compile(r"return(ed|ing)? to (the )?(shipper|sender)", re.I)
NOT_FOUND_CODES = frozenset({"151018", "151044", "TW0001"})


class UpsAdapter(OAuthAdapter):
    code: ClassVar[str] = "ups"
    name: ClassVar[str] = "UPS"
    display_name: ClassVar[str] = "UPS Track API"
    covers: ClassVar[frozenset[str] | None] = frozenset({"ups"})
    batch_size: ClassVar[int] = 1
    default_rate_limit: ClassVar[float] = 5.0
    rate_window_seconds: ClassVar[float] = 60.0
    default_base_url: ClassVar[str] = "https://onlinetools.ups.com"
    token_path: ClassVar[str] = "/security/v1/oauth/token"
    token_style = "basic"
    track_path: ClassVar[str] = "/api/track/v1/details/{number}"

    async def track(self, requests: Sequence[TrackRequest]) -> list[TrackResult]:
        return [await self._track_one(request) for request in requests]

    async def _track_one(self, request: TrackRequest) -> TrackResult:
        number = request.tracking_number
        response = await self.authorized(
            "GET",
            self.track_path.format(number=quote(number, safe="")),
            params={
                "locale": "en_US",
                "returnSignature": "false",
                "returnMilestones": "false",
                "returnPOD": "false",
            },
            headers={"transId": uuid.uuid4().hex, "transactionSrc": "orderdeck"},
        )
        if response.status_code in (400, 404):
            codes, message = _errors(response)
            if response.status_code == 404 or codes & NOT_FOUND_CODES:
                return self.not_found(number, message)
        self.raise_for_status(response)
        body = self.json(response)
        shipment = dig(body, "trackResponse", "shipment", 0)
        if not isinstance(shipment, Mapping):
            raise self.bad_shape(response, "no trackResponse.shipment")
        packages = items(shipment.get("package"))
        if not packages:
            warnings = items(shipment.get("warnings"))
            if any(text(w.get("code")) in NOT_FOUND_CODES for w in warnings) or not warnings:
                return self.not_found(number, "; ".join(text(w.get("message")) for w in warnings))
            raise self.bad_shape(response, "no package and an unknown warning")
        package = next(
            (p for p in packages if text(p.get("trackingNumber")) == number), packages[0]
        )
        return self.parse_package(number, package)

    def parse_package(self, number: str, package: Mapping[str, Any]) -> TrackResult:
        events = [e for e in (self.parse_activity(a) for a in items(package.get("activity"))) if e]
        current = package.get("currentStatus")
        status = None
        substatus = None
        # Trust the current status only when it names a type or a code we know;
        # otherwise the newest activity decides.
        if isinstance(current, Mapping) and (
            text(current.get("type")) or text(current.get("code")).upper() in ACTIVITY_CODES
        ):
            status = self.map_activity(current)
            substatus = text(current.get("description") or current.get("simplifiedTextDescription"))
        returned = any(
            text(dig(a, "status", "type")) == "RS"
            or _RETURNED.search(text(dig(a, "status", "description")))
            for a in items(package.get("activity"))
        )
        if isinstance(current, Mapping) and (
            text(current.get("type")) == "RS" or _RETURNED.search(text(current.get("description")))
        ):
            returned = True
        return TrackResult(
            tracking_number=number,
            events=events,
            status=status,
            substatus=substatus or None,
            estimated_delivery=self.estimated_delivery(package),
            original_estimated_delivery=self.estimated_delivery(package, original=True),
            carrier="ups",
            returned=bool(returned),
        )

    def map_activity(self, status: Mapping[str, Any]) -> S:
        kind = text(status.get("type")).upper()
        code = text(status.get("code")).upper()
        description = text(status.get("description"))
        if code in ACTIVITY_CODES and kind != "X":
            return ACTIVITY_CODES[code]
        mapped = map_status(self.name, kind or code or None, STATUS_TYPES, S.IN_TRANSIT)
        if mapped is S.EXCEPTION and kind == "X" and _ATTEMPT.search(description):
            return S.FAILED_ATTEMPT
        return mapped

    def parse_activity(self, activity: Mapping[str, Any]) -> NormalizedEvent | None:
        status = activity.get("status") if isinstance(activity.get("status"), Mapping) else {}
        address = dig(activity, "location", "address") or {}
        country = text(address.get("countryCode") or address.get("country"))
        region = text(address.get("stateProvince"))
        moment = self.activity_time(activity, country, region)
        if moment is None:
            return None
        occurred_at, offset = moment
        description = text(status.get("description"))
        return NormalizedEvent(
            occurred_at=occurred_at,
            status=self.map_activity(status),
            description=description,
            substatus=text(status.get("simplifiedTextDescription")) or description or None,
            location=place(address.get("city"), region, address.get("postalCode"), country),
            utc_offset_minutes=offset,
            raw=dict(activity),
        )

    @staticmethod
    def activity_time(
        activity: Mapping[str, Any], country: str, region: str
    ) -> tuple[datetime, int | None] | None:
        local = _ymd_hms(activity.get("date"), activity.get("time"))
        gmt = _ymd_hms(activity.get("gmtDate"), activity.get("gmtTime"))
        offset = parse_offset(text(activity.get("gmtOffset")) or None)
        if gmt is not None:
            instant = gmt.replace(tzinfo=UTC)
            if offset is None and local is not None:
                # The carrier's offset is the gap between its two clocks.
                minutes = round((local - gmt).total_seconds() / 900) * 15
                offset = minutes if abs(minutes) <= 18 * 60 else None
            if offset is not None:
                return instant.astimezone(timezone(timedelta(minutes=offset))), offset
            return instant, None
        if local is None:
            return None
        if offset is not None:
            return local.replace(tzinfo=timezone(timedelta(minutes=offset))), offset
        return localize(local, country, region)

    def estimated_delivery(
        self, package: Mapping[str, Any], *, original: bool = False
    ) -> datetime | None:
        """RDD (rescheduled) over SDD (scheduled); with ``original``, the SDD a
        reschedule replaced (None when there was no reschedule)."""
        dates = {
            text(d.get("type")).upper(): text(d.get("date"))
            for d in items(package.get("deliveryDate"))
        }
        if original:
            raw = dates.get("SDD") if dates.get("RDD") else None
        else:
            raw = dates.get("RDD") or dates.get("SDD")
        day = _ymd(raw)
        if day is None:
            return None
        destination = next(
            (
                p.get("address")
                for p in items(package.get("packageAddress"))
                if text(p.get("type")).upper() == "DESTINATION"
            ),
            None,
        )
        zone = None
        if isinstance(destination, Mapping):
            zone = zone_for(
                text(destination.get("countryCode") or destination.get("country")),
                text(destination.get("stateProvince")),
            )
        window = package.get("deliveryTime")
        if (
            not original
            and isinstance(window, Mapping)
            and text(window.get("type")).upper()
            in {
                "EDW",
                "CDW",
                "IDW",
                "CMT",
            }
        ):
            end = _hms(window.get("endTime"))
            if end is not None:
                return datetime.combine(day, end, tzinfo=zone or UTC)
        return end_of_day(day, zone)


def _errors(response: httpx.Response) -> tuple[set[str], str]:
    try:
        body = response.json()
    except ValueError:
        return set(), ""
    errors = items(dig(body, "response", "errors"))
    return (
        {text(e.get("code")) for e in errors},
        "; ".join(text(e.get("message")) for e in errors if e.get("message")),
    )


def _ymd(value: Any) -> date | None:
    raw = text(value)
    if not re.fullmatch(r"\d{8}", raw):
        return None
    try:
        return date(int(raw[:4]), int(raw[4:6]), int(raw[6:]))
    except ValueError:
        return None


def _hms(value: Any) -> time | None:
    raw = text(value)
    if not re.fullmatch(r"\d{1,6}", raw):
        return None
    raw = raw.zfill(6)
    try:
        return time(int(raw[:2]), int(raw[2:4]), int(raw[4:]))
    except ValueError:
        return None


def _ymd_hms(day: Any, clock: Any) -> datetime | None:
    parsed = _ymd(day)
    if parsed is None:
        return None
    return datetime.combine(parsed, _hms(clock) or time(0, 0))
