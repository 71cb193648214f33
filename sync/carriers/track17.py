"""17TRACK Tracking API v2.2 adapter (``[carriers.17track]``).

Followed: 17TRACK API documentation **v2.2**
(https://api.17track.net/en/doc?version=v2.2, mirrored at
asset.17track.net/api/document/v2.2_en — "register", "gettrackinfo", status and
sub-status definitions, error codes, rate limits), cross-checked against
public v2.2 client code (17TRACK enums and error-code tables in open-source
Python/TypeScript clients) for the exact field names of ``track_info``.

Flow: numbers are registered (``POST /track/v2.2/register``, at most 40 a
call; only a successful registration costs quota), then read back with
``POST /track/v2.2/gettrackinfo`` (40 a call, free). A registered number keeps
its carrier key in ``provider_ref`` so it is never registered (and charged)
twice; a number 17TRACK has forgotten (-18019902) is registered again in the
same call.

Auth: the ``17token`` header. Limit: 3 requests a second per key, all
endpoints together; a 429 without ``Retry-After`` waits the 1-second window.
Quota problems are their own errors: -18019907 (daily limit) waits until the
next UTC midnight, -18019908 (quota used up) says to top up; numbers already
registered keep updating.

Times: each event carries ``time_iso`` (carrier-local, with offset) and
``time_utc``; both are used as given. A ``time_raw`` without a zone is local to
the event's country (and US/CA/AU state), else read as UTC. The estimated
delivery window (``time_metrics.estimated_delivery_date``) is taken at its end.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import httpx

from store.statuses import ShipmentStatus
from store.types import utcnow
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
    BadResponse,
    ConfigurationError,
    NormalizedEvent,
    NotFound,
    RateLimited,
    TemporaryError,
    TrackingError,
    TrackRequest,
    TrackResult,
    map_status,
)
from sync.carriers.times import location_zone, offset_zone, parse_time

log = logging.getLogger("orderdeck.carriers")

S = ShipmentStatus

#: ``latest_status.status``: the nine main statuses.
STATUSES: dict[str, ShipmentStatus] = {
    "NotFound": S.PENDING,
    "InfoReceived": S.INFO_RECEIVED,
    "InTransit": S.IN_TRANSIT,
    "Expired": S.EXPIRED,
    "AvailableForPickup": S.AVAILABLE_FOR_PICKUP,
    "OutForDelivery": S.OUT_FOR_DELIVERY,
    "DeliveryFailure": S.FAILED_ATTEMPT,
    "Delivered": S.DELIVERED,
    "Exception": S.EXCEPTION,
}

#: ``latest_status.sub_status`` (and an event's ``stage``): every documented value.
SUB_STATUSES: dict[str, ShipmentStatus] = {
    "NotFound_Other": S.PENDING,
    "NotFound_InvalidCode": S.PENDING,
    "InfoReceived": S.INFO_RECEIVED,
    "InTransit_PickedUp": S.IN_TRANSIT,
    "InTransit_Other": S.IN_TRANSIT,
    "InTransit_Departure": S.IN_TRANSIT,
    "InTransit_Arrival": S.IN_TRANSIT,
    "InTransit_CustomsProcessing": S.IN_TRANSIT,
    "InTransit_CustomsReleased": S.IN_TRANSIT,
    # "Related information is required for clearance": someone has to act.
    "InTransit_CustomsRequiringInformation": S.EXCEPTION,
    "Expired_Other": S.EXPIRED,
    "AvailableForPickup_Other": S.AVAILABLE_FOR_PICKUP,
    "OutForDelivery_Other": S.OUT_FOR_DELIVERY,
    "DeliveryFailure_Other": S.FAILED_ATTEMPT,
    "DeliveryFailure_NoBody": S.FAILED_ATTEMPT,
    "DeliveryFailure_Security": S.FAILED_ATTEMPT,
    "DeliveryFailure_Rejected": S.FAILED_ATTEMPT,
    "DeliveryFailure_InvalidAddress": S.FAILED_ATTEMPT,
    "Delivered_Other": S.DELIVERED,
    "Exception_Other": S.EXCEPTION,
    "Exception_Returning": S.EXCEPTION,
    "Exception_Returned": S.EXCEPTION,
    "Exception_NoBody": S.EXCEPTION,
    "Exception_Security": S.EXCEPTION,
    "Exception_Damage": S.EXCEPTION,
    "Exception_Damaged": S.EXCEPTION,
    "Exception_Rejected": S.EXCEPTION,
    "Exception_Delayed": S.EXCEPTION,
    "Exception_Lost": S.EXCEPTION,
    "Exception_Destroyed": S.EXCEPTION,
    "Exception_Cancel": S.EXCEPTION,
}

RETURN_SUB_STATUSES = frozenset({"Exception_Returning", "Exception_Returned"})
RETURN_MILESTONES = frozenset({"Returning", "Returned"})

#: 17TRACK numeric carrier key -> orderdeck carrier code. Extend or correct it with
#: ``carrier_keys = { code = key, ... }`` in ``[carriers.17track]``.
CARRIER_KEYS: dict[int, str] = {
    100001: "dhl",  # DHL Express
    100002: "ups",
    100003: "fedex",
    21051: "usps",
    3011: "china_post",
    1151: "australia_post",
    11031: "royal_mail",
    7041: "deutsche_post",  # Deutsche Post DHL (DHL Paket)
}

# Error codes (v2.2 "Error code" table).
AUTH_CODES = {
    -18010001: "this IP address is not in the key's whitelist",
    -18010002: "the security key is invalid",
    -18010004: "the account is disabled",
    -18010005: "access is not authorized",
}
ALREADY_REGISTERED = -18019901
NOT_REGISTERED = -18019902
CARRIER_NOT_DETECTED = -18019903
DAILY_LIMIT = -18019907
QUOTA_EXHAUSTED = -18019908
NO_INFO_YET = -18019909
INTERNAL_ERROR = -18010003
#: Per-number codes that mean "this number as given cannot be tracked".
UNTRACKABLE = {
    -18010010, -18010011, -18010012, -18010013, -18010015, -18010016, -18010018,
    -18010019, -18010020, -18010022, -18019903, -18019910,
}  # fmt: skip


class Track17Adapter(AggregatorAdapter):
    code: ClassVar[str] = "17track"
    name: ClassVar[str] = "17TRACK"
    display_name: ClassVar[str] = "17TRACK (API v2.2)"
    default_base_url: ClassVar[str] = "https://api.17track.net"
    api_version: ClassVar[str] = "v2.2"
    default_rate_limit: ClassVar[float] = 3.0
    # One budget for the key: register and gettrackinfo share it.
    endpoint_limits: ClassVar[dict[str, float]] = {"api": 3.0}
    rate_limit_window: ClassVar[float] = 1.0
    batch_size: ClassVar[int] = 40
    covers: ClassVar[frozenset[str] | None] = None

    def __init__(
        self,
        settings: Any,
        *,
        timeout: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        super().__init__(settings, timeout=timeout, transport=transport)
        version = str(settings.options.get("api_version") or self.api_version).strip("/ ")
        self.root = f"/track/{version}"
        self.keys = dict(CARRIER_KEYS)
        extra = settings.options.get("carrier_keys") or {}
        if not isinstance(extra, Mapping):
            raise ConfigurationError(
                f"{self.section} carrier_keys: expected a table of carrier code = 17TRACK key"
            )
        for code, number in extra.items():
            try:
                self.keys[int(number)] = str(code)
            except (TypeError, ValueError):
                raise ConfigurationError(
                    f"{self.section} carrier_keys.{code}: expected a number, got {number!r}"
                ) from None
        self.key_for = {code: number for number, code in reversed(list(self.keys.items()))}
        self.client.headers.update({"17token": self.api_key, "Accept": "application/json"})

    async def track(self, requests: Sequence[TrackRequest]) -> list[TrackResult]:
        results: list[TrackResult] = []
        for start in range(0, len(requests), self.batch_size):
            results.extend(await self._track_batch(requests[start : start + self.batch_size]))
        return results

    async def _track_batch(self, requests: Sequence[TrackRequest]) -> list[TrackResult]:
        carrier: dict[str, int | None] = {r.tracking_number: self._key_of(r) for r in requests}
        errors: dict[str, TrackingError] = {}
        infos: dict[str, dict[str, Any]] = {}
        registered = {r.tracking_number for r in requests if r.provider_ref}
        new = [r.tracking_number for r in requests if not r.provider_ref]
        if new:
            await self._register(new, carrier, errors)
            registered.update(n for n in new if n not in errors)
        wanted = [r.tracking_number for r in requests if r.tracking_number not in errors]
        forgotten = await self._fetch(wanted, carrier, infos, errors)
        if forgotten:
            log.info(
                "%s: %d number(s) were not registered; registering them", self.name, len(forgotten)
            )
            registered.difference_update(forgotten)
            await self._register(forgotten, carrier, errors)
            again = [n for n in forgotten if n not in errors]
            registered.update(again)
            await self._fetch(again, carrier, infos, errors)
        results = []
        for request in requests:
            number = request.tracking_number
            if number in infos:
                results.append(self._result(request, infos[number], carrier.get(number)))
                continue
            error = errors.get(number) or BadResponse(f"{self.name}: no answer for {number}")
            ref = _ref(carrier.get(number)) if number in registered else None
            results.append(TrackResult(number, error=error, provider_ref=ref))
        return results

    def _key_of(self, request: TrackRequest) -> int | None:
        if request.provider_ref and request.provider_ref.isdigit():
            return int(request.provider_ref)
        return self.key_for.get(request.carrier or "")

    async def _post(self, path: str, items: list[dict[str, Any]]) -> dict[str, Any]:
        response = await self.call("api", "POST", f"{self.root}/{path}", json=items)
        body = self.body(response)
        code = body.get("code")
        data = body.get("data")
        if code != 0:
            self._raise_call_error(response, body)
        if not isinstance(data, dict):
            raise self.bad(response, "'data' is missing")
        for side in ("accepted", "rejected"):
            if not isinstance(data.get(side) or [], list):
                raise self.bad(response, f"'data.{side}' is not a list")
        return data

    def _raise_call_error(self, response: httpx.Response, body: dict[str, Any]) -> None:
        """A non-zero top-level ``code``: the whole call failed."""
        errors = obj(body.get("data")).get("errors")
        first = obj(errors[0]) if isinstance(errors, list) and errors else {}
        code = first.get("code", body.get("code"))
        message = self.mask(text(first.get("message") or body.get("message")))
        if code in AUTH_CODES:
            raise AuthError(
                f"{self.name} refused the key ({code}: {AUTH_CODES[code]}): check {self.section}"
            )
        if code in (DAILY_LIMIT, QUOTA_EXHAUSTED):
            raise self._quota_error(code, message)
        if code == 429:
            raise RateLimited(
                f"{self.name}: rate limited (code 429), retry in {self.rate_limit_window:g} s",
                retry_after=self.rate_limit_window,
            )
        if code == INTERNAL_ERROR:
            raise TemporaryError(f"{self.name}: internal service error ({code})")
        raise self.bad(response, f"request refused (code {code!r}: {message or 'no message'})")

    def _quota_error(self, code: int, message: str) -> RateLimited:
        if code == DAILY_LIMIT:
            now = utcnow()
            midnight = datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), UTC)
            return RateLimited(
                f"{self.name}: the account's daily registration limit is reached ({code}); "
                "new numbers register after midnight UTC, registered ones keep updating",
                retry_after=(midnight - now).total_seconds(),
            )
        return RateLimited(
            f"{self.name}: the account's tracking quota is used up ({code}); buy more quota at "
            "17TRACK to register new numbers, registered ones keep updating",
            retry_after=3600.0,
        )

    async def _register(
        self, numbers: list[str], carrier: dict[str, int | None], errors: dict[str, TrackingError]
    ) -> None:
        items = []
        for number in numbers:
            item: dict[str, Any] = {"number": number}
            if carrier.get(number):
                item["carrier"] = carrier[number]
            items.append(item)
        data = await self._post("register", items)
        for accepted in data.get("accepted") or []:
            number = _match(accepted, numbers)
            if number and isinstance(accepted.get("carrier"), int) and accepted["carrier"] > 0:
                carrier[number] = accepted["carrier"]
        for rejected in data.get("rejected") or []:
            number = _match(rejected, numbers)
            if number is None:
                continue
            code, message = _error(rejected)
            if code == ALREADY_REGISTERED:
                continue
            errors[number] = self._number_error(number, code, self.mask(message))

    async def _fetch(
        self,
        numbers: list[str],
        carrier: dict[str, int | None],
        infos: dict[str, dict[str, Any]],
        errors: dict[str, TrackingError],
    ) -> list[str]:
        """Read track info; returns the numbers 17TRACK says are not registered."""
        if not numbers:
            return []
        items = []
        for number in numbers:
            item: dict[str, Any] = {"number": number}
            if carrier.get(number):
                item["carrier"] = carrier[number]
            items.append(item)
        data = await self._post("gettrackinfo", items)
        forgotten: list[str] = []
        for accepted in data.get("accepted") or []:
            number = _match(accepted, numbers)
            if number is None:
                continue
            if isinstance(accepted.get("carrier"), int) and accepted["carrier"] > 0:
                carrier[number] = accepted["carrier"]
            infos[number] = accepted
            errors.pop(number, None)
        for rejected in data.get("rejected") or []:
            number = _match(rejected, numbers)
            if number is None:
                continue
            code, message = _error(rejected)
            if code == NOT_REGISTERED and number not in forgotten and number not in infos:
                forgotten.append(number)
            elif number not in infos:
                errors[number] = self._number_error(number, code, self.mask(message))
        return [n for n in forgotten if n not in errors]

    def _number_error(self, number: str, code: int | None, message: str) -> TrackingError:
        detail = f"{code}: {message}" if message else str(code)
        if code in (DAILY_LIMIT, QUOTA_EXHAUSTED):
            return self._quota_error(code, message)
        if code == NO_INFO_YET:
            return NotFound(f"{self.name} has no tracking information for {number} yet")
        if code == CARRIER_NOT_DETECTED:
            return NotFound(
                f"{self.name} cannot tell which carrier {number} belongs to ({detail}); "
                "set the shipment's carrier"
            )
        if code in UNTRACKABLE:
            return NotFound(f"{self.name} cannot track {number} ({detail})")
        if code == INTERNAL_ERROR or code == -18019911:
            return TemporaryError(f"{self.name}: {number} could not be registered now ({detail})")
        return BadResponse(f"{self.name}: {number} was refused ({detail})")

    def _status(self, main: object, sub: object) -> ShipmentStatus:
        by_main = map_status(self.name, str(main), STATUSES, S.IN_TRANSIT) if main else S.IN_TRANSIT
        if not sub:
            return by_main
        return map_status(f"{self.name} sub-status", str(sub), SUB_STATUSES, by_main)

    def _result(self, request: TrackRequest, item: dict[str, Any], key: int | None) -> TrackResult:
        info = item.get("track_info")
        number = request.tracking_number
        if not isinstance(info, dict):
            return TrackResult(
                number,
                status=S.PENDING,
                provider_ref=_ref(key),
                error=NotFound(f"{self.name} has no tracking information for {number} yet"),
            )
        latest = obj(info.get("latest_status"))
        main, sub = latest.get("status"), latest.get("sub_status")
        tracking = obj(info.get("tracking"))
        providers = [p for p in tracking.get("providers") or [] if isinstance(p, dict)]
        events: list[NormalizedEvent] = []
        for provider in providers:
            for raw in provider.get("events") or []:
                if isinstance(raw, dict):
                    event = self._event(raw)
                    if event:
                        events.append(event)
        events = unique_events(events)
        shipping = obj(info.get("shipping_info"))
        recipient = shipping.get("recipient_address") or {}
        zone = location_zone(recipient.get("country"), recipient.get("state"))
        milestones = info.get("milestone") if isinstance(info.get("milestone"), list) else []
        first_provider = providers[0].get("provider") if providers else None
        provider_name = obj(first_provider).get("name")
        result = TrackResult(
            number,
            events=events,
            status=self._status(main, sub),
            substatus=text(latest.get("sub_status_descr")) or (str(sub) if sub else None),
            estimated_delivery=_estimate(info, zone),
            carrier=self.keys.get(key or 0) or carrier_from(provider_name, {}) or request.carrier,
            provider_ref=_ref(key),
            returned=sub in RETURN_SUB_STATUSES
            or any(e.substatus in RETURN_SUB_STATUSES for e in events)
            or any(
                isinstance(m, dict)
                and m.get("key_stage") in RETURN_MILESTONES
                and m.get("time_utc")
                for m in milestones
            ),
        )
        if main == "NotFound" or (main is None and not events):
            why = "the number is invalid" if sub == "NotFound_InvalidCode" else "no information yet"
            result.error = NotFound(f"{self.name}: carrier has no record of {number} ({why})")
        return result

    def _event(self, raw: dict[str, Any]) -> NormalizedEvent | None:
        address = obj(raw.get("address"))
        when = parse_time(raw.get("time_iso")) or parse_time(raw.get("time_utc"))
        if when is None and isinstance(raw.get("time_raw"), dict):
            time_raw = raw["time_raw"]
            zone = offset_zone(time_raw.get("timezone")) or location_zone(
                address.get("country"), address.get("state")
            )
            stamp = " ".join(str(time_raw.get(k) or "") for k in ("date", "time")).strip()
            when = parse_time(stamp, zone=zone)
        if when is None:
            log.warning("%s: event without a readable time skipped", self.name)
            return None
        stage = raw.get("sub_status") or raw.get("stage")
        if stage:
            main = str(stage).split("_", 1)[0]
            status = self._status(main if main in STATUSES else None, stage)
        else:
            status = S.IN_TRANSIT
        translated = raw.get("description_translation")
        description = text(raw.get("description")) or (text(obj(translated).get("description")))
        return NormalizedEvent(
            occurred_at=when.at,
            status=status,
            description=description,
            substatus=str(stage) if stage else None,
            location=text(raw.get("location"))
            or place(address.get("city"), address.get("state"), address.get("country")),
            utc_offset_minutes=when.utc_offset_minutes,
            raw=raw,
        )


def _ref(key: int | None) -> str:
    """What ``provider_ref`` holds: the carrier key, or "0" (registered, carrier not known yet)."""
    return str(key) if key else "0"


def _match(item: object, numbers: list[str]) -> str | None:
    if not isinstance(item, dict):
        return None
    given = str(item.get("number") or "").replace(" ", "").upper()
    for number in numbers:
        if number.replace(" ", "").upper() == given:
            return number
    return None


def _error(item: dict[str, Any]) -> tuple[int | None, str]:
    error = obj(item.get("error"))
    code = error.get("code")
    return (code if isinstance(code, int) else None), text(error.get("message"))


def _estimate(info: dict[str, Any], zone: Any) -> datetime | None:
    metrics = obj(info.get("time_metrics"))
    window = metrics.get("estimated_delivery_date")
    if isinstance(window, str):
        window = {"to": window}
    if not isinstance(window, dict):
        return None
    for edge in ("to", "from"):
        parsed = parse_time(window.get(edge), zone=zone, end_of_day=True)
        if parsed:
            return parsed.at
    return None
