"""The demo's made-up data is real data: valid tracking numbers of the carrier the
tracking file names, a Shopify export the real ingest takes whole, and a sandbox
that stands in for those carriers when its section says so."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from pathlib import Path

import pytest

from store.migrate import open_store
from store.settings import StoreSettings
from sync.carriers.detect import detect
from sync.ingest import ingest_file
from sync.providers import Providers
from sync.sandbox import demo_data
from sync.settings import CarrierSettings, SyncSettings, TrackingSettings

NOW = datetime(2026, 12, 1, 6, 0, tzinfo=UTC)


@pytest.mark.parametrize("carrier", demo_data.CARRIERS, ids=lambda c: c.code)
def test_numbers_are_valid_for_their_carrier(carrier: demo_data.DemoCarrier) -> None:
    rnd = random.Random(3)
    for _ in range(300):
        number = carrier.make_number(rnd)
        found = detect(number)
        assert found.valid, (number, found.reason)
        assert found.candidates == (carrier.code,), (number, found.candidates)


def test_same_seed_same_orders_numbered_oldest_first() -> None:
    a = demo_data.generate_orders(50, now=NOW, seed=4)
    b = demo_data.generate_orders(50, now=NOW, seed=4)
    assert a == b
    assert a != demo_data.generate_orders(50, now=NOW, seed=5)
    assert [o.number for o in a] == [f"#{1001 + i}" for i in range(50)]
    assert [o.created_at for o in a] == sorted(o.created_at for o in a)
    assert all(o.created_at < NOW for o in a)
    assert {o.carrier.code for o in a if o.carrier} <= set(demo_data.CARRIER_CODES)


def test_orders_ship_where_the_carrier_takes_the_parcel() -> None:
    label = NOW.replace(hour=1)
    places = {
        "US": ("Boston", "MA"),
        "GB": ("Leeds", "England"),
        "DE": ("Köln", "Nordrhein-Westfalen"),
    }
    asked: dict[str, demo_data.Parcel] = {}

    def parcel(number: str) -> demo_data.Parcel:
        # A made-up carrier that sends each number to one of three countries.
        country = ("US", "GB", "DE")[sum(map(ord, number)) % 3]
        asked[number] = demo_data.Parcel(label, *places[country], country)
        return asked[number]

    orders = demo_data.generate_orders(60, now=NOW, seed=1, parcel=parcel)
    shipped = [o for o in orders if o.tracking_number]
    assert shipped
    for o in shipped:
        assert o.tracking_number is not None
        facts = asked[o.tracking_number]
        assert (o.country, o.city, o.province) == (facts.country, facts.city, facts.region)
        assert o.shipped_at == label and o.created_at < label
        if o.country == "US":  # a Massachusetts ZIP: 0xxxx
            assert len(o.zip) == 5 and o.zip.startswith("0"), o.zip


def test_files_import_whole(tmp_path: Path) -> None:
    orders = demo_data.generate_orders(40, now=NOW, seed=2)
    export, tracking = tmp_path / "orders_export_01.csv", tmp_path / "tracking_01.csv"
    demo_data.write_shopify_export(export, orders)
    written = demo_data.write_tracking_file(tracking, orders)
    assert not list(tmp_path.glob("*.part"))
    store = open_store(StoreSettings(url=f"sqlite:///{tmp_path / 'o.db'}"))
    try:
        first = ingest_file(store, export, settings=SyncSettings(), source="demo")
        second = ingest_file(store, tracking, settings=SyncSettings(), source="demo")
    finally:
        store.dispose()
    assert (first.format, first.rows_rejected, first.orders_created) == ("shopify", 0, 40)
    assert first.line_items == sum(len(o.lines) for o in orders)
    assert (second.format, second.rows_rejected) == ("tracking", 0)
    assert second.shipments_created == written == sum(1 for o in orders if o.carrier)


def test_sandbox_covers_the_carriers_its_section_names() -> None:
    tracking = TrackingSettings(
        aggregators=("sandbox",),
        carriers={"sandbox": CarrierSettings("sandbox", {"covers": ["ups", "usps"]})},
    )
    providers = Providers.from_settings(tracking)
    assert providers.choose("ups").provider == "sandbox"
    assert providers.choose("sandbox").provider == "sandbox"
    assert providers.choose("fedex").provider is None


def test_sandbox_covers_must_be_a_list_of_codes() -> None:
    tracking = TrackingSettings(
        aggregators=("sandbox",),
        carriers={"sandbox": CarrierSettings("sandbox", {"covers": "ups"})},
    )
    providers = Providers.from_settings(tracking)
    assert "covers" in providers.broken["sandbox"]
    assert "[carriers.sandbox] cannot be used" in (providers.choose("ups").problem or "")
