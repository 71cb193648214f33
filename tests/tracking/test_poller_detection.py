"""Shipments whose carrier is unknown are run through carrier detection first."""

from __future__ import annotations

from store.engine import Store
from sync.carriers.sandbox import SandboxAdapter
from sync.poller import Poller
from sync.providers import Providers
from sync.sandbox import SandboxClock, SandboxServer
from sync.settings import CarrierSettings

from .conftest import add_shipments, open_reasons, shipment, sync_settings

UPS = "1Z999AA10123456784"
BAD_CHECK_DIGIT = "1Z999AA10123456785"
FEDEX_OR_USPS = "03071790000523483742"


class Aggregator(SandboxAdapter):
    code = "agg"
    name = "Aggregator"
    covers = None


def with_aggregator(sandbox: SandboxServer) -> Providers:
    return Providers(
        {"agg": Aggregator(CarrierSettings("agg", {"base_url": sandbox.url}))},
        aggregators=("agg",),
    )


async def test_a_detected_carrier_is_stored_and_tracked(
    store: Store, sandbox: SandboxServer, clock: SandboxClock
) -> None:
    [sid] = add_shipments(store, [UPS], carrier=None)
    providers = with_aggregator(sandbox)
    async with Poller(store, sync_settings(sandbox), clock=clock, providers=providers) as p:
        counters = await p.run_once()
    assert counters.polled == 1
    s = shipment(store, sid)
    assert (s.carrier, s.carrier_candidates, s.provider) == ("ups", ["ups"], "agg")


async def test_an_invalid_number_goes_to_attention_and_is_never_sent(
    store: Store, sandbox: SandboxServer, clock: SandboxClock
) -> None:
    [sid] = add_shipments(store, [BAD_CHECK_DIGIT], carrier=None)
    async with Poller(
        store, sync_settings(sandbox), clock=clock, providers=with_aggregator(sandbox)
    ) as p:
        counters = await p.run_once()
        assert (counters.invalid, counters.requests) == (1, 0)
        assert (await p.run_once()).claimed == 0  # not looked at again and again
    s = shipment(store, sid)
    assert open_reasons(store, sid) == {"invalid_tracking"}
    assert s.carrier is None and s.next_poll_at is None
    assert "check digit fails" in (s.last_error or "")
    assert sandbox.stats.as_dict()["requests"] == 0


async def test_an_ambiguous_number_needs_a_person_or_an_aggregator(
    store: Store, sandbox: SandboxServer, clock: SandboxClock
) -> None:
    [sid] = add_shipments(store, [FEDEX_OR_USPS], carrier=None)
    async with Poller(store, sync_settings(sandbox), clock=clock) as p:
        counters = await p.run_once()
    assert counters.no_provider == 1
    s = shipment(store, sid)
    assert s.carrier is None and s.carrier_candidates == ["fedex", "usps"]
    assert "could be FedEx, USPS" in (s.last_error or "")
    assert open_reasons(store, sid) == {"no_provider"}

    # An aggregator that tracks any carrier can take it as it is.
    async with Poller(
        store, sync_settings(sandbox), clock=clock, providers=with_aggregator(sandbox)
    ) as p:
        counters = await p.run_once()
    assert counters.polled == 1
    s = shipment(store, sid)
    assert s.provider == "agg" and s.carrier_candidates == ["fedex", "usps"]
    assert open_reasons(store, sid) == set()
