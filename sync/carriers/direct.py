"""What the direct carrier adapters (UPS, FedEx, USPS, DHL) share on top of
:class:`~sync.carriers.base.HttpAdapter`: sending without mapping the status
(so a carrier's own not-found body can be read first), the carrier's documented
429 window when it sends no ``Retry-After``, and small readers for the loosely
typed JSON carriers return."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import httpx

from store.types import utcnow
from sync.carriers.base import (
    BadResponse,
    HttpAdapter,
    NotFound,
    RateLimited,
    TemporaryError,
    TrackResult,
    log,
)
from sync.carriers.localtime import next_utc_midnight


class DirectAdapter(HttpAdapter):
    #: Seconds to wait after a 429 that names no ``Retry-After``: the window the
    #: carrier documents for its per-second or per-hour limit.
    rate_window_seconds: ClassVar[float] = 60.0
    #: Words in a 429 body that mean "the daily quota is spent" (resets 00:00 GMT).
    daily_quota_words: ClassVar[tuple[str, ...]] = ("daily", "per day", "quota")

    async def send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """One request; transport trouble becomes TemporaryError, the status is not judged."""
        try:
            return await self.client.request(method, path, **kwargs)
        except httpx.TimeoutException as exc:
            raise TemporaryError(f"{self.name}: timed out ({type(exc).__name__})") from None
        except httpx.TransportError as exc:
            raise TemporaryError(
                f"{self.name}: {self.mask(str(exc)) or type(exc).__name__}"
            ) from None

    def raise_for_status(self, response: httpx.Response, *, not_found_ok: bool = False) -> None:
        try:
            super().raise_for_status(response, not_found_ok=not_found_ok)
        except RateLimited as exc:
            if exc.retry_after is None:
                exc.retry_after = self.rate_window(response)
            log.warning(
                "%s: rate limited (HTTP 429), waiting %.0fs: %s",
                self.name,
                exc.retry_after,
                self.quote(response.content, 120),
            )
            raise

    def rate_window(self, response: httpx.Response) -> float:
        """The documented wait after a 429 without ``Retry-After``."""
        text = response.content[:2000].decode("utf-8", errors="replace").casefold()
        if any(word in text for word in self.daily_quota_words):
            return next_utc_midnight(utcnow())
        return self.rate_window_seconds

    def bad_shape(self, response: httpx.Response, what: str) -> BadResponse:
        quoted = self.quote(response.content)
        log.warning("%s: unexpected answer (%s): %s", self.name, what, quoted)
        return BadResponse(f"{self.name}: unexpected answer ({what}): {quoted}")

    def not_found(self, number: str, detail: str = "") -> TrackResult:
        suffix = f": {self.mask(detail)}" if detail else ""
        return TrackResult(
            tracking_number=number,
            error=NotFound(f"{self.name} does not know {number}{suffix}"),
        )


def dig(data: Any, *path: str | int) -> Any:
    """``data[path[0]][path[1]]...`` or None when any step is missing."""
    for step in path:
        if isinstance(step, int):
            if not isinstance(data, list) or not -len(data) <= step < len(data):
                return None
            data = data[step]
        else:
            if not isinstance(data, Mapping):
                return None
            data = data.get(step)
    return data


def loose_json(response: httpx.Response) -> Any:
    """The body as JSON, or None: for reading an error answer that may not be JSON."""
    try:
        return response.json()
    except ValueError:
        return None


def text(value: Any) -> str:
    """A carrier string field, trimmed; anything else as empty."""
    if value is None:
        return ""
    if isinstance(value, str):
        return " ".join(value.split())
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return ""


def items(value: Any) -> list[Mapping[str, Any]]:
    """A list of objects from a field that may be missing, null, one object or a list."""
    if isinstance(value, Mapping):
        return [value]
    if isinstance(value, list):
        return [v for v in value if isinstance(v, Mapping)]
    return []


def place(*parts: str | None) -> str | None:
    joined = ", ".join(p for p in (text(x) for x in parts) if p)
    return joined or None
