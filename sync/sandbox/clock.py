"""The sandbox's accelerated clock.

Simulated time runs ``speed`` times faster than the wall clock from an anchor;
``speed = 0`` freezes it, which is what tests use: they :meth:`SandboxClock.set`
the time they want and nothing moves until they say so. ``epoch`` is the moment
the sandbox's world was created; every parcel's life is placed relative to it,
so moving the clock never moves a story.

The same object can drive the poller (it satisfies :class:`sync.clock.Clock`),
so the whole engine lives on the accelerated time of the demo or a test.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from store.types import utcnow


class SandboxClock:
    def __init__(
        self,
        start: datetime | None = None,
        speed: float = 1.0,
        *,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if speed < 0:
            raise ValueError("the sandbox clock's speed cannot be negative")
        start = start or utcnow()
        if start.tzinfo is None:
            raise ValueError("the sandbox clock needs an aware datetime")
        self._lock = threading.Lock()
        self._monotonic = monotonic
        self.epoch = start.astimezone(UTC)
        self._anchor_sim = self.epoch
        self._anchor_real = monotonic()
        self._speed = float(speed)

    def now(self) -> datetime:
        with self._lock:
            return self._now_locked()

    def _now_locked(self) -> datetime:
        elapsed = (self._monotonic() - self._anchor_real) * self._speed
        return self._anchor_sim + timedelta(seconds=elapsed)

    @property
    def speed(self) -> float:
        return self._speed

    def set(self, now: datetime) -> None:
        """Jump to ``now`` (forwards or backwards); the clock runs on from there."""
        if now.tzinfo is None:
            raise ValueError("the sandbox clock needs an aware datetime")
        with self._lock:
            self._anchor_sim = now.astimezone(UTC)
            self._anchor_real = self._monotonic()

    def advance(self, delta: timedelta) -> datetime:
        with self._lock:
            self._anchor_sim = self._now_locked() + delta
            self._anchor_real = self._monotonic()
            return self._anchor_sim

    def set_speed(self, speed: float) -> None:
        if speed < 0:
            raise ValueError("the sandbox clock's speed cannot be negative")
        with self._lock:
            self._anchor_sim = self._now_locked()
            self._anchor_real = self._monotonic()
            self._speed = float(speed)

    def as_dict(self) -> dict[str, object]:
        return {
            "now": self.now().isoformat(),
            "epoch": self.epoch.isoformat(),
            "speed": self._speed,
        }
