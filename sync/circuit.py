"""A per-provider circuit breaker, and the backoff the poller waits between tries.

After ``failures`` consecutive failed requests the circuit *opens*: nothing is
sent to that provider for ``cooldown`` seconds, so one dead carrier costs the
others nothing. Then one probe request is let through (*half open*): its
success closes the circuit, its failure opens it for another cool-down.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable

CLOSED = "closed"
OPEN = "open"
HALF_OPEN = "half_open"


class CircuitBreaker:
    def __init__(
        self,
        failures: int,
        cooldown: float,
        *,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if failures < 1:
            raise ValueError("a circuit opens after at least one failure")
        self.threshold = failures
        self.cooldown = cooldown
        self._monotonic = monotonic
        self.state = CLOSED
        self.consecutive_failures = 0
        self.opened_at: float | None = None
        self._probing = False

    def allow(self) -> bool:
        """May a request go now? In half-open state only one probe at a time."""
        if self.state == CLOSED:
            return True
        if self.state == OPEN:
            assert self.opened_at is not None
            if self._monotonic() < self.opened_at + self.cooldown:
                return False
            self.state = HALF_OPEN
            self._probing = False
        if self._probing:
            return False
        self._probing = True
        return True

    def success(self) -> bool:
        """Record a success; True if that closed an open circuit."""
        reopened = self.state != CLOSED
        self.state = CLOSED
        self.consecutive_failures = 0
        self.opened_at = None
        self._probing = False
        return reopened

    def failure(self) -> bool:
        """Record a failure; True if that opened the circuit."""
        self.consecutive_failures += 1
        self._probing = False
        if self.state == HALF_OPEN or (
            self.state == CLOSED and self.consecutive_failures >= self.threshold
        ):
            self.state = OPEN
            self.opened_at = self._monotonic()
            return True
        return False

    def abandon(self) -> None:
        """The probe ended with no verdict (rate limited): another may go."""
        self._probing = False

    @property
    def probing(self) -> bool:
        return self.state == HALF_OPEN and self._probing

    def retry_in(self) -> float:
        """Seconds until a probe may go (0 when requests may go now)."""
        if self.state != OPEN or self.opened_at is None:
            return 0.0
        return max(0.0, self.opened_at + self.cooldown - self._monotonic())


def full_jitter(attempt: int, base: float, cap: float, rng: random.Random | None = None) -> float:
    """Exponential backoff with full jitter: uniform in [0, min(cap, base * 2**attempt)]."""
    ceiling = min(cap, base * (2 ** max(0, attempt)))
    return (rng or random).uniform(0.0, ceiling)
