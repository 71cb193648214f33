"""What the sync engine asks of a clock.

The engine reads "now" through a :class:`Clock` so that tests and the demo can
run it on the sandbox's accelerated time (:class:`sync.sandbox.clock.SandboxClock`
satisfies this protocol). Waiting (backoff, rate limits, circuit cool-downs)
always happens on the real monotonic clock; only the *schedule* (when a
shipment is due, how old a scan is) uses this one.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from store.types import utcnow


class Clock(Protocol):
    def now(self) -> datetime: ...

    #: Simulated seconds per real second; 0 means the clock is frozen.
    @property
    def speed(self) -> float: ...


class SystemClock:
    speed = 1.0

    def now(self) -> datetime:
        return utcnow()


def real_seconds(clock: Clock, simulated_seconds: float, *, frozen: float) -> float:
    """How long to really wait for ``simulated_seconds`` to pass on ``clock``;
    ``frozen`` when the clock does not move on its own."""
    if clock.speed <= 0:
        return frozen
    return max(0.0, simulated_seconds / clock.speed)
