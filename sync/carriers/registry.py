"""Finding carrier adapters: orderdeck's own and any installed package's.

A third-party package adds a provider by declaring an entry point::

    [project.entry-points."orderdeck.carriers"]
    mycarrier = "mypackage.tracking:MyCarrierAdapter"

The object named must be callable as ``factory(settings: CarrierSettings, *,
timeout: float)`` and return a :class:`sync.carriers.base.CarrierAdapter`.
"""

from __future__ import annotations

import logging
from functools import cache
from importlib.metadata import entry_points
from typing import Any

from sync.carriers.base import CarrierAdapter, ConfigurationError
from sync.settings import CarrierSettings

log = logging.getLogger("orderdeck.carriers")

GROUP = "orderdeck.carriers"


@cache
def factories() -> dict[str, Any]:
    """code -> adapter factory, for every installed adapter that loads."""
    found: dict[str, Any] = {}
    for ep in entry_points(group=GROUP):
        try:
            found[ep.name] = ep.load()
        except Exception as exc:  # a broken plugin must not take orderdeck down
            log.warning("carrier adapter %r (%s) failed to load: %s", ep.name, ep.value, exc)
    return found


def create(settings: CarrierSettings, *, timeout: float = 30.0) -> CarrierAdapter:
    factory = factories().get(settings.code)
    if factory is None:
        known = ", ".join(sorted(factories())) or "none"
        raise ConfigurationError(
            f"[carriers.{settings.code}]: no adapter named {settings.code!r} is installed "
            f"(known: {known})"
        )
    adapter: CarrierAdapter = factory(settings, timeout=timeout)
    return adapter
