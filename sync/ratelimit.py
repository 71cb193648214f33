"""Per-provider rate limiting: a request never leaves faster than its provider allows.

The poller only talks to the :class:`RateLimiter` protocol, so a limiter whose
bucket lives in the database (``carrier_state.tokens`` / ``refilled_at``, shared by
every worker of a scale-out deployment) can replace :class:`LocalRateLimiter`
without touching the poller.

:class:`TokenBucket` is a token bucket written as GCRA (the "virtual scheduling"
form): each caller reserves the next free slot, in arrival order, so waiting
callers are served first come, first served and the spacing between two
requests is never below ``1 / rate`` once the burst is used up.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from typing import Protocol


class RateLimiter(Protocol):
    async def acquire(self, provider: str) -> None:
        """Return when one request to ``provider`` may be sent (now)."""
        ...

    def pause(self, provider: str, seconds: float) -> None:
        """Send nothing to ``provider`` for ``seconds`` (a ``Retry-After``)."""
        ...


class TokenBucket:
    def __init__(
        self,
        rate: float,
        burst: float = 1.0,
        *,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if rate <= 0:
            raise ValueError(f"a rate limit must be above 0 requests per second, got {rate!r}")
        if burst < 1:
            raise ValueError(f"a burst is at least one request, got {burst!r}")
        self.rate = rate
        self.interval = 1.0 / rate
        self.tolerance = (burst - 1.0) * self.interval
        self._monotonic = monotonic
        self._tat = monotonic()
        self._blocked_until = 0.0

    def reserve(self) -> float:
        """Take the next slot; returns how many seconds to wait before using it."""
        now = self._monotonic()
        tat = max(self._tat, now)
        start = max(now, tat - self.tolerance, self._blocked_until)
        self._tat = max(tat, start) + self.interval
        return start - now

    def pause(self, seconds: float) -> None:
        self._blocked_until = max(self._blocked_until, self._monotonic() + max(0.0, seconds))

    def next_free(self) -> float:
        """Seconds until a request reserved now could go."""
        now = self._monotonic()
        return max(0.0, max(self._tat - self.tolerance, self._blocked_until) - now)


class LocalRateLimiter:
    """One :class:`TokenBucket` per provider, in this process.

    ``headroom`` keeps each bucket that share under the provider's published
    limit, so that network jitter bunching requests together on the way never
    pushes the provider's count for one second over its limit.
    """

    def __init__(
        self,
        rates: Mapping[str, float],
        *,
        headroom: float = 0.05,
        burst: float = 1.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if not 0.0 <= headroom < 1.0:
            raise ValueError(f"headroom is a share below 1, got {headroom!r}")
        self.headroom = headroom
        self._buckets = {
            code: TokenBucket(rate * (1.0 - headroom), burst, monotonic=monotonic)
            for code, rate in rates.items()
        }

    def bucket(self, provider: str) -> TokenBucket:
        try:
            return self._buckets[provider]
        except KeyError:
            raise KeyError(f"no rate limit configured for provider {provider!r}") from None

    async def acquire(self, provider: str) -> None:
        delay = self.bucket(provider).reserve()
        if delay > 0:
            await asyncio.sleep(delay)

    def pause(self, provider: str, seconds: float) -> None:
        self.bucket(provider).pause(seconds)
