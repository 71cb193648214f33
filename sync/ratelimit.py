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
from collections import deque
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
    """A token bucket (GCRA) with, optionally, a hard cap per second.

    ``burst`` lets a sender that was held up for a moment (a busy event loop,
    a loaded machine) use the slots it missed instead of losing them for good;
    ``per_second`` then makes sure that even so, no one-second window ever
    holds more than that many slots.
    """

    def __init__(
        self,
        rate: float,
        burst: float = 1.0,
        *,
        per_second: int | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if rate <= 0:
            raise ValueError(f"a rate limit must be above 0 requests per second, got {rate!r}")
        if burst < 1:
            raise ValueError(f"a burst is at least one request, got {burst!r}")
        self.rate = rate
        self.interval = 1.0 / rate
        self.tolerance = (burst - 1.0) * self.interval
        self.per_second = per_second if per_second and per_second >= 1 else None
        self._monotonic = monotonic
        self._tat = monotonic()
        self._blocked_until = 0.0
        self._recent: deque[float] = deque(maxlen=self.per_second or 1)

    def reserve(self) -> float:
        """Take the next slot; returns how many seconds to wait before using it."""
        now = self._monotonic()
        tat = max(self._tat, now)
        start = max(now, tat - self.tolerance, self._blocked_until)
        if self.per_second is not None and len(self._recent) == self.per_second:
            # The slot per_second ago must be a full second back.
            start = max(start, self._recent[0] + 1.0)
        self._recent.append(start)
        self._tat = max(tat, start) + self.interval
        return start - now

    def pause(self, seconds: float) -> None:
        self._blocked_until = max(self._blocked_until, self._monotonic() + max(0.0, seconds))

    def next_free(self) -> float:
        """Seconds until a request reserved now could go."""
        now = self._monotonic()
        return max(0.0, max(self._tat - self.tolerance, self._blocked_until) - now)


def catch_up(rate: float, headroom: float) -> float:
    """The burst a bucket may use: a third of the headroom, in requests.

    Jitter stretches a one-second window of slots by a few milliseconds; what
    lands in the stretch is at most the burst plus the rate times the stretch,
    and it must fit in the headroom. The other two thirds are for that stretch
    (about 30 ms at 200 requests a second). Slow providers get no burst at all.
    """
    return max(1.0, float(int(rate * headroom / 3)))


class LocalRateLimiter:
    """One :class:`TokenBucket` per provider, in this process.

    Each bucket runs ``headroom`` under the provider's published limit and never
    grants more than that many slots in any one second; the margin is for the
    jitter between a slot and the request reaching the provider (a busy event
    loop, the network). A small burst (:func:`catch_up`) lets a sender that was
    held up a few milliseconds catch up, within that cap.
    """

    def __init__(
        self,
        rates: Mapping[str, float],
        *,
        headroom: float = 0.05,
        burst: float | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if not 0.0 <= headroom < 1.0:
            raise ValueError(f"headroom is a share below 1, got {headroom!r}")
        self.headroom = headroom
        self._buckets = {}
        for code, rate in rates.items():
            allowed = rate * (1.0 - headroom)
            self._buckets[code] = TokenBucket(
                allowed,
                burst if burst is not None else catch_up(rate, headroom),
                per_second=int(allowed) if allowed >= 1 else None,
                monotonic=monotonic,
            )

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
