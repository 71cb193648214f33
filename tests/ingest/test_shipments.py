"""Shipments from tracking numbers, carrier names and detection, and the on_changes seam."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from notifiers.changes import Change, ShipmentChange
from store.engine import Store
from sync.carriers import detect as detect_mod
from sync.ingest import ingest_file
from sync.ingest.ingest import resolve_carrier
from sync.settings import SyncSettings
from tests.ingest.conftest import order, rows, shipments


class Recorder:
    def __init__(self) -> None:
        self.calls: list[list[Change]] = []
        self.in_transaction: list[bool] = []

    def __call__(self, conn: Connection, changes: list[Change]) -> None:
        self.calls.append(list(changes))
        self.in_transaction.append(conn.in_transaction())
        # What the rules would do: write in the same transaction.
        conn.execute(sa.text("SELECT 1"))

    @property
    def changes(self) -> list[Change]:
        return [c for call in self.calls for c in call]


def test_on_changes_gets_exactly_the_new_shipments(
    store: Store, files: Path, settings: SyncSettings
) -> None:
    recorder = Recorder()
    ingest_file(
        store, files / "shopify_orders.csv", settings=settings, source="shop", on_changes=recorder
    )
    assert recorder.changes == []  # orders without tracking numbers: nothing shipped
    result = ingest_file(
        store, files / "tracking.csv", settings=settings, source="shop", on_changes=recorder
    )
    assert result.shipments_created == 3
    got = recorder.changes
    assert all(isinstance(c, ShipmentChange) for c in got)
    assert all(recorder.in_transaction)
    stored = rows(store, "SELECT id, order_id FROM shipments ORDER BY id")
    assert sorted((c.shipment_id, c.order_id) for c in got) == [
        (s["id"], s["order_id"]) for s in stored
    ]
    for change in got:
        assert isinstance(change, ShipmentChange)
        assert change.origin == "ingest"
        assert change.old_status is None and change.new_status == "pending"
        assert change.delivered_when_first_seen is False
    # The same numbers again (a new file, so not a duplicate): no new shipment, no change.
    again = files / "tracking_again.csv"
    again.write_text(
        "Order Number,Tracking Number,Carrier\n#1001,1Z999AA10123456784,UPS\n", encoding="utf-8"
    )
    before = len(recorder.changes)
    result = ingest_file(store, again, settings=settings, source="shop", on_changes=recorder)
    assert result.shipments_created == 0 and len(recorder.changes) == before


def test_a_failing_hook_rolls_the_file_back(
    store: Store, files: Path, settings: SyncSettings
) -> None:
    def broken(conn: Connection, changes: list[Change]) -> None:
        raise RuntimeError("rules exploded")

    with pytest.raises(RuntimeError, match="rules exploded"):
        ingest_file(
            store,
            files / "woocommerce_orders.csv",
            settings=settings,
            source="w",
            on_changes=broken,
        )
    assert rows(store, "SELECT count(*) AS n FROM orders")[0]["n"] == 0
    assert rows(store, "SELECT count(*) AS n FROM ingested_files")[0]["n"] == 0


def test_carrier_names_are_mapped(store: Store, tmp_path: Path, settings: SyncSettings) -> None:
    path = tmp_path / "orders.ndjson"
    lines = [
        '{"number": "1", "shipments": [{"tracking_number": "1Z999AA10123456784", "carrier": "United Parcel Service"}]}',
        '{"number": "2", "shipments": [{"tracking_number": "RR123456785GB", "carrier": "Royal Mail Tracked 24"}]}',
        '{"number": "3", "shipments": [{"tracking_number": "ABCD1234"}]}',
        '{"number": "4", "shipments": [{"tracking_number": "ABCD1234", "carrier": "Speedy Couriers Ltd"}]}',
        '{"number": "5", "shipments": [{"tracking_number": "1Z999AA10123456784", "carrier": "ups"}, {"tracking_number": "1z 999 aa1 0123456784"}]}',
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = ingest_file(store, path, settings=settings, source="api")
    assert result.outcome == "imported", result.errors
    assert [s["carrier"] for s in shipments(store, "1")] == ["ups"]
    assert [s["carrier"] for s in shipments(store, "2")] == ["royal_mail"]
    # Nobody can tell: no carrier yet, the poller's detection takes it from here.
    for number in ("3", "4"):
        found = shipments(store, number)
        assert [(s["carrier"], s["tracking_number"]) for s in found] == [(None, "ABCD1234")]
    assert order(store, "3")["status"] == "pending"
    # One shipment per number, however it was written.
    assert len(shipments(store, "5")) == 1


def test_a_later_file_names_the_carrier(
    store: Store, tmp_path: Path, settings: SyncSettings
) -> None:
    first = tmp_path / "a.ndjson"
    first.write_text('{"number": "9", "shipments": [{"tracking_number": "ABCD1234"}]}\n')
    ingest_file(store, first, settings=settings, source="api")
    second = tmp_path / "b.csv"
    second.write_text("Order Number,Tracking Number,Carrier,Ship Date\n9,ABCD1234,DPD,2026-11-10\n")
    result = ingest_file(store, second, settings=settings, source="api")
    assert result.shipments_created == 0
    (ship,) = shipments(store, "9")
    assert ship["carrier"] == "dpd" and ship["shipped_at"] is not None
    assert order(store, "9")["carrier"] == "dpd"


def test_unsure_detection_keeps_candidates(monkeypatch: pytest.MonkeyPatch) -> None:
    def two(text: str) -> detect_mod.Detection:
        return detect_mod.Detection(
            input=text,
            tracking_number=text,
            carrier="usps",
            valid=True,
            candidates=("usps", "fedex"),
            tracking_url=None,
        )

    monkeypatch.setattr(detect_mod, "detect", two)
    assert resolve_carrier(None, "X1234") == (None, ["usps", "fedex"])
    assert resolve_carrier("FedEx Ground", "X1234") == ("fedex", None)
    assert resolve_carrier(None, "1Z999AA10123456784")[0] is None  # patched: unsure


def test_sure_and_invalid_detection() -> None:
    assert resolve_carrier(None, "1Z999AA10123456784") == ("ups", None)
    assert resolve_carrier(None, "ABCD1234") == (None, None)
    assert resolve_carrier("Nobody Knows Express", "RR123456785GB") == ("royal_mail", None)


def test_unsure_shipment_is_stored_without_carrier(
    store: Store, tmp_path: Path, settings: SyncSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    def two(text: str) -> detect_mod.Detection:
        return detect_mod.Detection(
            input=text,
            tracking_number=text,
            carrier="usps",
            valid=True,
            candidates=("usps", "fedex"),
            tracking_url=None,
        )

    monkeypatch.setattr(detect_mod, "detect", two)
    path = tmp_path / "t.ndjson"
    path.write_text('{"number": "U1", "shipments": [{"tracking_number": "420123459400111"}]}\n')
    ingest_file(store, path, settings=settings, source="api")
    (ship,) = shipments(store, "U1")
    assert ship["carrier"] is None
    candidates = ship["carrier_candidates"]
    if isinstance(candidates, str):  # SQLite JSON comes back as text through a raw query
        import json

        candidates = json.loads(candidates)
    assert candidates == ["usps", "fedex"]
