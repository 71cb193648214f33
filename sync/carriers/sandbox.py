"""The adapter for the sandbox carrier (``orderdeck sandbox``, docs/sandbox.md).

``[carriers.sandbox]`` takes ``base_url`` (default ``http://127.0.0.1:8765``),
``rate_limit`` (requests per second), ``batch_size`` (numbers per request, 1-50;
1 uses ``GET /v1/track/NUMBER``, more uses ``POST /v1/track``), ``api_key`` when
the sandbox was started with one, and ``covers``: carrier codes it stands in for
when listed in ``[tracking] aggregators`` (the demo tracks its UPS, USPS, FedEx...
parcels at the sandbox this way).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import httpx

from store.statuses import ShipmentStatus
from sync.carriers.base import (
    BadResponse,
    ConfigurationError,
    HttpAdapter,
    NormalizedEvent,
    NotFound,
    TrackRequest,
    TrackResult,
    map_status,
)
from sync.carriers.pooling import ExclusiveConnections
from sync.settings import CarrierSettings

S = ShipmentStatus

#: The sandbox's event codes, each to its normalized status.
STATUS_MAP: dict[str, ShipmentStatus] = {
    "LC": S.INFO_RECEIVED,
    "PU": S.IN_TRANSIT,
    "DF": S.IN_TRANSIT,
    "IT": S.IN_TRANSIT,
    "AF": S.IN_TRANSIT,
    "DE": S.IN_TRANSIT,
    "OD": S.OUT_FOR_DELIVERY,
    "FA": S.FAILED_ATTEMPT,
    "AP": S.AVAILABLE_FOR_PICKUP,
    "DL": S.DELIVERED,
    "EX": S.EXCEPTION,
    "RS": S.EXCEPTION,
    "RT": S.EXCEPTION,
}

#: Codes whose substatus is a fixed phrase; FA and EX carry the carrier's reason instead.
SUBSTATUS: dict[str, str] = {
    "LC": "label created",
    "DE": "delayed",
    "RS": "returning to sender",
    "RT": "returned to sender",
}

MAX_BATCH = 50


class SandboxAdapter(HttpAdapter):
    code = "sandbox"
    name = "Sandbox carrier"
    display_name = "Sandbox carrier"
    default_rate_limit = 20.0
    batch_size = 10
    covers = frozenset({"sandbox"})
    default_base_url = "http://127.0.0.1:8765"
    #: Requests in flight at once, each on a connection of its own.
    max_connections = 16

    def __init__(
        self,
        settings: CarrierSettings,
        *,
        timeout: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        super().__init__(
            settings,
            timeout=timeout,
            transport=transport or ExclusiveConnections(type(self).max_connections),
        )
        batch = settings.options.get("batch_size", type(self).batch_size)
        if isinstance(batch, bool) or not isinstance(batch, int) or not 1 <= batch <= MAX_BATCH:
            raise ConfigurationError(
                f"{self.section} batch_size: expected a whole number from 1 to {MAX_BATCH}, "
                f"got {batch!r}"
            )
        self.batch_size = batch
        key = settings.options.get("api_key")
        if key:
            self.client.headers["Authorization"] = f"Bearer {key}"
        covers = settings.options.get("covers")
        if covers is not None:
            if not isinstance(covers, list) or not all(isinstance(c, str) and c for c in covers):
                raise ConfigurationError(
                    f'{self.section} covers: expected a list of carrier codes such as ["ups", '
                    f'"usps"], got {covers!r}'
                )
            # Per instance: this section's sandbox stands in for these carriers too.
            self.covers = frozenset({"sandbox", *covers})  # type: ignore[misc]

    async def track(self, requests: Sequence[TrackRequest]) -> list[TrackResult]:
        if not requests:
            return []
        if len(requests) == 1:
            return [await self._track_one(requests[0].tracking_number)]
        response = await self.request(
            "POST",
            "/v1/track",
            json={"tracking_numbers": [r.tracking_number for r in requests]},
        )
        body = self.json(response)
        results = body.get("results") if isinstance(body, dict) else None
        if not isinstance(results, list) or len(results) != len(requests):
            raise BadResponse(
                f"{self.name}: expected {len(requests)} results, got {self.quote(response.content)}"
            )
        out = []
        for request, item in zip(requests, results, strict=True):
            if not isinstance(item, dict):
                raise BadResponse(f"{self.name}: a result is not an object: {item!r:.80}")
            if item.get("found") is False:
                out.append(self._not_found(request.tracking_number, item.get("error")))
            else:
                out.append(self.parse(item, request.tracking_number))
        return out

    async def _track_one(self, number: str) -> TrackResult:
        response = await self.request("GET", f"/v1/track/{number}", not_found_ok=True)
        if response.status_code == 404:
            body = self.json(response)
            error = body.get("error") if isinstance(body, dict) else None
            if not isinstance(error, dict) or error.get("code") != "not_found":
                raise BadResponse(
                    f"{self.name}: HTTP 404 without a tracking answer (is {self.section} "
                    f"base_url {self.base_url!r} the sandbox?)"
                )
            return self._not_found(number, error)
        if response.status_code == 400:
            body = self.json(response)
            return self._not_found(number, body.get("error") if isinstance(body, dict) else None)
        return self.parse(self.json(response), number)

    def _not_found(self, number: str, error: Any) -> TrackResult:
        message = error.get("message") if isinstance(error, dict) else None
        return TrackResult(
            tracking_number=number,
            error=NotFound(f"{self.name}: {message or 'not found'}"),
        )

    def parse(self, data: Any, number: str) -> TrackResult:
        """One parcel's answer to a :class:`TrackResult`; anything amiss is BadResponse."""
        if not isinstance(data, dict):
            raise BadResponse(f"{self.name}: expected an object for {number}, got {data!r:.80}")
        raw_events = data.get("events")
        if not isinstance(raw_events, list):
            raise BadResponse(f"{self.name}: {number}: 'events' is missing or not a list")
        events = [self._event(number, e) for e in raw_events]
        status_code = _field(data, "status", dict, number, self.name).get("code")
        status = (
            map_status(self.code, status_code, STATUS_MAP, S.IN_TRANSIT) if status_code else None
        )
        latest = max(events, key=lambda e: e.occurred_at) if events else None
        substatus = latest.substatus if latest else None
        returned = bool(data.get("returned", False))
        if returned:
            # On its way back the scans say "in transit"; the parcel's state is the return.
            back = any(e.raw is not None and e.raw.get("code") == "RT" for e in events)
            status = S.EXCEPTION
            substatus = SUBSTATUS["RT"] if back else SUBSTATUS["RS"]
        eta_text = data.get("estimated_delivery")
        eta = _time(eta_text, number, self.name, "estimated_delivery")[0] if eta_text else None
        return TrackResult(
            tracking_number=str(data.get("tracking_number") or number),
            events=events,
            status=status,
            substatus=substatus,
            estimated_delivery=eta,
            carrier="sandbox",
            returned=returned,
        )

    def _event(self, number: str, raw: Any) -> NormalizedEvent:
        if not isinstance(raw, dict):
            raise BadResponse(f"{self.name}: {number}: an event is not an object: {raw!r:.80}")
        code = _field(raw, "code", str, number, self.name)
        at, offset = _time(_field(raw, "time", str, number, self.name), number, self.name, "time")
        description = str(raw.get("description") or code)
        detail = raw.get("detail")
        if detail:
            description = f"{description}: {detail}"
        substatus = SUBSTATUS.get(code) or (
            str(detail) if code in ("FA", "EX") and detail else None
        )
        return NormalizedEvent(
            occurred_at=at,
            status=map_status(self.code, code, STATUS_MAP, S.IN_TRANSIT),
            description=description,
            substatus=substatus,
            location=_location(raw.get("location")),
            utc_offset_minutes=offset,
            raw=raw,
        )


def _field(data: dict[str, Any], key: str, kind: type, number: str, provider: str) -> Any:
    value = data.get(key)
    if not isinstance(value, kind):
        raise BadResponse(f"{provider}: {number}: {key!r} is missing or not a {kind.__name__}")
    return value


def _time(text: Any, number: str, provider: str, key: str) -> tuple[datetime, int | None]:
    try:
        value = datetime.fromisoformat(str(text))
    except ValueError:
        raise BadResponse(f"{provider}: {number}: {key} {text!r} is not a date and time") from None
    if value.tzinfo is None or value.utcoffset() is None:
        raise BadResponse(f"{provider}: {number}: {key} {text!r} has no UTC offset")
    offset = value.utcoffset()
    minutes = int(offset.total_seconds() // 60) if offset is not None else None
    return value.astimezone(UTC), minutes


def _location(raw: Any) -> str | None:
    if not isinstance(raw, dict):
        return None
    parts = [raw.get("city"), raw.get("region"), raw.get("country")]
    text = ", ".join(str(p) for p in parts if p)
    return text or None
