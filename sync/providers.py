"""Who tracks which shipment: the provider chosen per carrier.

A shipment's ``carrier`` moves the parcel; its *provider* answers tracking
questions about it. The direct adapter for the carrier wins when its
``[carriers.CODE]`` section is configured (and loads); otherwise the first
aggregator in ``[tracking] aggregators`` whose ``covers`` includes the carrier
(``None`` covers every carrier, and is the only kind that can take a parcel
whose carrier is still unknown). ``sandbox`` parcels go to the sandbox adapter
the same way. No provider at all is a reason for attention, never a silent skip.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Connection

from store import upsert
from store.models import CarrierState
from sync.carriers import registry
from sync.carriers.base import CarrierAdapter
from sync.carriers.names import carrier_name
from sync.settings import TrackingSettings

log = logging.getLogger("orderdeck.poller")

_carrier_state = CarrierState.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Choice:
    provider: str | None
    #: Why there is none, in words for the attention queue.
    problem: str | None = None


class Providers:
    def __init__(
        self,
        adapters: Mapping[str, CarrierAdapter],
        *,
        aggregators: Sequence[str] = (),
        broken: Mapping[str, str] | None = None,
        rate_limits: Mapping[str, float] | None = None,
    ) -> None:
        self.adapters = dict(adapters)
        self.aggregators = tuple(aggregators)
        #: code -> why its section could not be turned into an adapter.
        self.broken = dict(broken or {})
        self._rate_limits = dict(rate_limits or {})

    @classmethod
    def from_settings(cls, tracking: TrackingSettings) -> Providers:
        """An adapter for every enabled ``[carriers.CODE]`` section that loads."""
        adapters: dict[str, CarrierAdapter] = {}
        broken: dict[str, str] = {}
        limits: dict[str, float] = {}
        for code, settings in tracking.carriers.items():
            if not settings.enabled:
                continue
            try:
                adapters[code] = registry.create(settings, timeout=tracking.poll.timeout_seconds)
            except Exception as exc:  # a broken section or plugin stops only itself
                broken[code] = str(exc) or type(exc).__name__
                log.warning("[carriers.%s] cannot be used: %s", code, broken[code])
                continue
            if settings.rate_limit is not None:
                limits[code] = settings.rate_limit
        return cls(adapters, aggregators=tracking.aggregators, broken=broken, rate_limits=limits)

    def rate_limit(self, code: str) -> float:
        """Requests per second for ``code``: its configured override, else the adapter's."""
        if code in self._rate_limits:
            return self._rate_limits[code]
        adapter = self.adapters[code]
        configured = getattr(adapter, "rate_limit", None)
        return float(configured or adapter.default_rate_limit)

    def batch_size(self, code: str) -> int:
        return max(1, int(self.adapters[code].batch_size))

    def choose(self, carrier: str | None, candidates: Iterable[str] = ()) -> Choice:
        if carrier is not None:
            direct = self.adapters.get(carrier)
            if direct is not None and (direct.covers is None or carrier in direct.covers):
                return Choice(carrier)
        for code in self.aggregators:
            adapter = self.adapters.get(code)
            if adapter is None:
                continue
            if adapter.covers is None or (carrier is not None and carrier in adapter.covers):
                return Choice(code)
        return Choice(None, self._problem(carrier, list(candidates)))

    def _problem(self, carrier: str | None, candidates: list[str]) -> str:
        if carrier is None:
            if candidates:
                names = ", ".join(carrier_name(c) for c in candidates)
                return (
                    f"the carrier is not certain (it could be {names}): set the carrier, "
                    "or list an aggregator that detects carriers in [tracking] aggregators"
                )
            return "the carrier is not known: set it on the shipment"
        if carrier in self.broken:
            return f"[carriers.{carrier}] cannot be used: {self.broken[carrier]}"
        aggregators = [a for a in self.aggregators if a in self.broken]
        hint = (
            f" ([carriers.{aggregators[0]}] cannot be used: {self.broken[aggregators[0]]})"
            if aggregators
            else ""
        )
        return (
            f"no tracking provider for {carrier_name(carrier)} ({carrier}): configure "
            f"[carriers.{carrier}] or an aggregator in [tracking] aggregators{hint}"
        )

    async def aclose(self) -> None:
        for code, adapter in self.adapters.items():
            try:
                await adapter.aclose()
            except Exception as exc:  # closing must not hide the real outcome
                log.debug("closing %s failed: %s", code, exc)


def record_health(conn: Connection, code: str, *, requests_delta: int = 0, **values: Any) -> None:
    """Upsert a provider's row of ``carrier_state`` (what ``orderdeck status`` shows):
    ``values`` are columns to set, ``requests_delta`` is added to its request count."""
    row = {"carrier": code, "requests": requests_delta, **values}
    stmt = upsert.insert(conn, _carrier_state).values(**row)
    updates: dict[str, Any] = {k: stmt.excluded[k] for k in values}
    updates["requests"] = _carrier_state.c.requests + requests_delta
    conn.execute(
        stmt.on_conflict_do_update(index_elements=[_carrier_state.c.carrier], set_=updates)
    )
