"""Per-endpoint request pacing inside one adapter.

The poller limits how often it calls an adapter; some providers publish a limit
per *endpoint* (AfterShip: create 20/s, read 5/s) or per key across endpoints
(17TRACK: 3/s), and one ``track()`` call may touch several endpoints. The
:class:`Pacer` spaces the requests to each endpoint so a burst from the poller
never turns into a 429 we could have avoided.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping


class Pacer:
    """Reserve a send slot per endpoint, at most ``rate`` requests a second each.

    Slots are handed out in call order; the reservation itself never awaits, so
    concurrent tasks in one event loop cannot take the same slot.
    """

    def __init__(
        self,
        rates: Mapping[str, float],
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        self.rates = dict(rates)
        self._interval = {key: 1.0 / rate for key, rate in rates.items() if rate > 0}
        self._next: dict[str, float] = {}
        self._clock = clock
        self._sleep = sleep

    def reserve(self, endpoint: str) -> float:
        """Seconds to wait before sending to ``endpoint`` (0 when free now)."""
        interval = self._interval.get(endpoint)
        if interval is None:
            return 0.0
        now = self._clock()
        slot = max(now, self._next.get(endpoint, now))
        self._next[endpoint] = slot + interval
        return slot - now

    async def wait(self, endpoint: str) -> None:
        delay = self.reserve(endpoint)
        if delay > 0:
            await self._sleep(delay)

    def hold(self, endpoint: str, seconds: float) -> None:
        """The provider said "slow down": send nothing to ``endpoint`` for ``seconds``."""
        until = self._clock() + max(0.0, seconds)
        self._next[endpoint] = max(self._next.get(endpoint, until), until)
