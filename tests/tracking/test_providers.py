"""Which provider tracks which carrier."""

from __future__ import annotations

from sync.carriers.sandbox import SandboxAdapter
from sync.providers import Providers
from sync.settings import CarrierSettings, TrackingSettings


class Direct(SandboxAdapter):
    code = "ups"
    name = "UPS direct"
    covers = frozenset({"ups"})


class Everything(SandboxAdapter):
    code = "aftership"
    name = "Everything"
    covers = None


class PostOnly(SandboxAdapter):
    code = "postal"
    name = "Postal only"
    covers = frozenset({"royal_mail", "usps"})


def build(
    *adapters: SandboxAdapter,
    aggregators: tuple[str, ...] = (),
    broken: dict[str, str] | None = None,
) -> Providers:
    return Providers({a.code: a for a in adapters}, aggregators=aggregators, broken=broken)


def make(cls: type[SandboxAdapter]) -> SandboxAdapter:
    return cls(CarrierSettings(cls.code, {}))


def test_the_direct_adapter_wins() -> None:
    p = build(make(Direct), make(Everything), aggregators=("aftership",))
    assert p.choose("ups").provider == "ups"
    assert p.choose("dhl").provider == "aftership"


def test_the_first_aggregator_that_covers_the_carrier() -> None:
    p = build(make(PostOnly), make(Everything), aggregators=("postal", "aftership"))
    assert p.choose("usps").provider == "postal"
    assert p.choose("fedex").provider == "aftership"


def test_an_unknown_carrier_needs_an_aggregator_that_covers_all() -> None:
    assert build(make(PostOnly), aggregators=("postal",)).choose(None).provider is None
    every = build(make(PostOnly), make(Everything), aggregators=("postal", "aftership"))
    assert every.choose(None, ["usps", "ups"]).provider == "aftership"


def test_an_aggregator_not_listed_is_not_used() -> None:
    assert build(make(Everything)).choose("dhl").provider is None


def test_sandbox_parcels_go_to_the_sandbox() -> None:
    p = build(make(SandboxAdapter), make(Everything), aggregators=("aftership",))
    assert p.choose("sandbox").provider == "sandbox"


def test_why_there_is_no_provider() -> None:
    none = build()
    assert "[carriers.dhl]" in (none.choose("dhl").problem or "")
    assert "DHL Express" in (none.choose("dhl").problem or "")
    assert "could be UPS, USPS" in (none.choose(None, ["ups", "usps"]).problem or "")
    broken = build(broken={"dhl": "needs api_key"})
    assert "[carriers.dhl] cannot be used: needs api_key" in (broken.choose("dhl").problem or "")


def test_from_settings_skips_disabled_and_records_broken_sections() -> None:
    tracking = TrackingSettings(
        carriers={
            "sandbox": CarrierSettings("sandbox", {"rate_limit": 3.0}),
            "nosuch": CarrierSettings("nosuch", {}),
            "off": CarrierSettings("off", {"enabled": False}),
        }
    )
    p = Providers.from_settings(tracking)
    assert set(p.adapters) == {"sandbox"}
    assert p.rate_limit("sandbox") == 3.0
    assert "no adapter named 'nosuch'" in p.broken["nosuch"]
    assert "off" not in p.broken
