"""Process settings for a long-running engine.

With CPython's default thresholds, the garbage collector runs a young
collection every 700 allocations; at a couple of hundred polls a second,
objects that live for a fraction of a second (an answer waiting to be stored)
survive enough of those to reach the oldest generation, and full collections
of 100,000 objects then stop every thread for 50-200 ms: the poller misses its
rate-limit slots meanwhile. Freezing what exists at start (modules, caches)
and collecting the young generation less often lets short-lived objects die
young instead.
"""

from __future__ import annotations

import gc

_done = False


def tune_for_service() -> None:
    """Once per process: freeze the start-up heap and raise the young-generation threshold."""
    global _done
    if _done:
        return
    _done = True
    gc.collect()
    gc.freeze()
    _, second, third = gc.get_threshold()
    gc.set_threshold(50_000, max(second, 50), max(third, 100))
