"""The sandbox's fault knobs and its request log.

Every knob can change while the server runs (from Python, or ``PUT
/_sandbox/faults``), so a test can break the carrier, watch the poller cope,
and mend it again. Random faults are drawn from a generator seeded by the
sandbox's seed: with a rate of 0 or 1 the outcome is certain, in between it
is repeatable for the same sequence of requests.
"""

from __future__ import annotations

import bisect
import math
import random
import threading
import time
from collections import Counter, deque
from dataclasses import asdict, dataclass
from typing import Any

MALFORMED_KINDS = ("truncated", "html", "shape", "garbage")


class FaultError(ValueError):
    """A knob was given a value it cannot take."""


@dataclass
class Faults:
    #: Added to every answer, plus up to ``latency_jitter_ms`` more.
    latency_ms: float = 0.0
    latency_jitter_ms: float = 0.0
    #: Share of requests answered 500, 502 or 503.
    error_rate: float = 0.0
    #: Share of requests that hang ``hang_seconds`` and then close without an answer.
    timeout_rate: float = 0.0
    hang_seconds: float = 30.0
    #: Share of requests whose connection is closed without an answer.
    drop_rate: float = 0.0
    #: Share of requests answered 200 with a body that does not parse or fit.
    malformed_rate: float = 0.0
    #: Requests per second allowed; above it, 429 with Retry-After. 0: no limit.
    rate_limit: float = 0.0
    #: When set, requests must carry ``Authorization: Bearer KEY`` (or ``X-Api-Key``).
    api_key: str | None = None

    def validate(self) -> None:
        for name in ("error_rate", "timeout_rate", "drop_rate", "malformed_rate"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise FaultError(f"{name} is a share of requests between 0 and 1, got {value!r}")
        total = self.error_rate + self.timeout_rate + self.drop_rate + self.malformed_rate
        if total > 1.0 + 1e-9:
            raise FaultError(
                f"error, timeout, drop and malformed rates add up to {total:g}; at most 1"
            )
        for name in ("latency_ms", "latency_jitter_ms", "hang_seconds", "rate_limit"):
            value = getattr(self, name)
            if value < 0 or math.isnan(value):
                raise FaultError(f"{name} cannot be negative, got {value!r}")

    def update(self, **changes: Any) -> None:
        """Change some knobs at once; nothing changes if any value is wrong."""
        values = asdict(self)
        unknown = sorted(set(changes) - set(values))
        if unknown:
            raise FaultError(
                f"unknown fault knob(s): {', '.join(unknown)}; known: {', '.join(values)}"
            )
        for name, value in changes.items():
            if name == "api_key":
                if value is not None and not isinstance(value, str):
                    raise FaultError("api_key is a string or null")
                values[name] = value or None
            elif isinstance(value, bool) or not isinstance(value, int | float):
                raise FaultError(f"{name} is a number, got {value!r}")
            else:
                values[name] = float(value)
        candidate = Faults(**values)
        candidate.validate()
        for name in changes:
            setattr(self, name, getattr(candidate, name))

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["api_key"] = "****" if self.api_key else None
        return data


class RateWindow:
    """At most ``rate`` accepted requests in any sliding window (one second, or
    ``1/rate`` seconds for rates below one a second)."""

    def __init__(self) -> None:
        self._times: deque[float] = deque()

    def admit(self, rate: float, now: float) -> float | None:
        """None if the request may go; else the seconds until it could."""
        if rate <= 0:
            return None
        window, allowed = (1.0, int(rate)) if rate >= 1 else (1.0 / rate, 1)
        while self._times and self._times[0] <= now - window:
            self._times.popleft()
        if len(self._times) >= allowed:
            return self._times[0] + window - now
        self._times.append(now)
        return None


class Stats:
    """What the sandbox was asked: when each request arrived (monotonic), how it
    was answered, and when each tracking number was looked up (a poller that
    asks about one parcel twice in one cycle shows up here)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self.started = time.monotonic()
            self.log: list[tuple[float, str]] = []
            self.answers: Counter[str] = Counter()
            self.numbers = 0
            self.by_number: dict[str, list[float]] = {}

    def answered(self, outcome: str, arrived: float, numbers: int = 0) -> None:
        with self._lock:
            self.log.append((arrived, outcome))
            self.answers[outcome] += 1
            self.numbers += numbers

    def looked_up(self, numbers: list[str], arrived: float) -> None:
        """These (normalized) numbers were looked up by the request that arrived then."""
        with self._lock:
            for number in numbers:
                self.by_number.setdefault(number, []).append(arrived)

    def lookups(self) -> dict[str, list[float]]:
        """Each number looked up, with the arrival times of the requests that asked."""
        with self._lock:
            return {number: list(times) for number, times in self.by_number.items()}

    def arrivals(self) -> list[float]:
        with self._lock:
            return sorted(t for t, _ in self.log)

    def as_dict(self, *, arrivals: bool = False, numbers: bool = False) -> dict[str, Any]:
        with self._lock:
            log = sorted(self.log)
            answers, answered, started = dict(self.answers), self.numbers, self.started
            per_number = {n: len(times) for n, times in self.by_number.items()}
        times = [t for t, _ in log]
        data: dict[str, Any] = {
            "requests": len(times),
            "answers": answers,
            "numbers_answered": answered,
            "distinct_numbers": len(per_number),
            "max_lookups_per_number": max(per_number.values(), default=0),
            "max_requests_in_any_second": max_in_window(times, 1.0),
            "seconds": (times[-1] - times[0]) if len(times) > 1 else 0.0,
        }
        if arrivals:
            data["arrivals"] = [[round(t - started, 6), outcome] for t, outcome in log]
        if numbers:
            data["lookups_per_number"] = per_number
        return data


def max_in_window(times: list[float], window: float) -> int:
    """The most ``times`` (sorted) inside any half-open window ``[t, t + window)``."""
    best = 0
    for i, start in enumerate(times):
        j = bisect.bisect_left(times, start + window, lo=i)
        best = max(best, j - i)
    return best


class Dice:
    """The sandbox's one source of randomness for faults, seeded and thread-safe."""

    def __init__(self, seed: int) -> None:
        self._rng = random.Random(f"faults:{seed}")
        self._lock = threading.Lock()

    def roll(self) -> tuple[float, float]:
        with self._lock:
            return self._rng.random(), self._rng.random()
