"""Every format lands with its line items, contacts and shipments (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from store.engine import Store
from sync.ingest import IMPORTED, PARTIAL, REJECTED, ingest_file
from sync.ingest.sniff import detect
from sync.settings import SyncSettings
from tests.ingest.conftest import count, items, order, rows, shipments


def test_shopify_export_with_its_quirks(store: Store, files: Path, settings: SyncSettings) -> None:
    result = ingest_file(store, files / "shopify_orders.csv", settings=settings, source="shop")
    assert result.outcome == IMPORTED, result.error
    assert result.format == "shopify"
    assert (result.rows_total, result.rows_rejected) == (8, 0)
    assert (result.orders_created, result.orders_updated, result.line_items) == (5, 0, 8)

    first = order(store, "#1001")
    assert first["external_id"] == "#1001"  # the number: every export has it
    assert first["source"] == "shop"
    assert first["customer_name"] == "José Müller"
    assert first["note"] == "Leave at the door\nRing twice 🚪"  # a quoted newline, emoji
    assert first["tags"] == "vip, gift"
    assert first["total"] == "129.90" and first["currency"] == "EUR"
    assert first["ship_address1"] == "1 Rue de l'Église" and first["ship_country"] == "FR"
    assert items(store, "#1001") == [
        ("MUG-L", "Mug, large", 2, "19.95"),
        ("TEA-EG", 'Tea "Earl Grey", loose leaf', 1, "90.00"),
    ]
    # Markup and a formula are data, stored exactly as typed.
    assert order(store, "#1002")["customer_name"] == "[bold]x[/bold] Smith"
    assert order(store, "#1004")["customer_name"] == '=HYPERLINK("http://example.com","click")'
    assert len(items(store, "#1004")) == 3
    assert order(store, "#1005")["customer_name"] == "山田 太郎"
    assert items(store, "#1002") == [("SOCK-1", "Sock 🧦 pair", 1, "12.50")]


def test_shopify_times_cancellation_and_summary(
    store: Store, files: Path, settings: SyncSettings
) -> None:
    ingest_file(store, files / "shopify_orders.csv", settings=settings, source="shop")
    cancelled = order(store, "#1003")
    assert cancelled["status"] == "cancelled"
    stamp = cancelled["cancelled_at"]
    if isinstance(stamp, str):  # SQLite hands back text through a raw query
        stamp = datetime.fromisoformat(stamp).replace(tzinfo=UTC)
    assert stamp == datetime(2026, 11, 8, 14, 30, tzinfo=UTC)  # -0500 read correctly
    assert order(store, "#1001")["status"] == "unfulfilled"
    assert "jose muller" in order(store, "#1001")["search_text"]


def test_shopify_contacts_normalized_and_flagged(
    store: Store, files: Path, settings: SyncSettings
) -> None:
    ingest_file(store, files / "shopify_orders.csv", settings=settings, source="shop")
    jose = order(store, "#1001")
    assert jose["email"] == "Jose@Example.COM"  # kept as given
    assert jose["email_normalized"] == "Jose@example.com"  # domain lower-cased
    assert bool(jose["email_valid"]) is True
    assert jose["phone_e164"] == "+33142685300"
    smith = order(store, "#1002")
    assert bool(smith["email_valid"]) is False
    assert "email 'not-an-email'" in smith["contact_problems"]
    assert smith["phone"] == "07911 123456"
    assert smith["phone_e164"] == "+447911123456"  # read in the order's country
    assert bool(smith["phone_valid"]) is True
    assert order(store, "#1005")["phone_e164"] == "+819012345678"  # JP, from its address


def test_woocommerce_export_with_tracking(
    store: Store, files: Path, settings: SyncSettings
) -> None:
    result = ingest_file(store, files / "woocommerce_orders.csv", settings=settings, source="woo")
    assert result.outcome == IMPORTED, result.error
    assert result.format == "woocommerce"
    assert (result.orders_created, result.line_items, result.shipments_created) == (4, 5, 3)
    jurgen = order(store, "3001")
    assert jurgen["customer_name"] == "Jürgen Groß"
    assert jurgen["financial_status"] == "paid" and jurgen["fulfillment_status"] == "fulfilled"
    assert jurgen["note"] == "Bitte klingeln"
    assert jurgen["phone_e164"] == "+4930901820"
    # A blank order number continues the order above.
    assert items(store, "3001") == [
        ("BIER-6", "Bierkrug", 2, "24.50"),
        ("KRUG-2", 'Krug "Spezial", groß', 1, "0.00"),
    ]
    dhl = shipments(store, "3001")
    assert [(s["carrier"], s["tracking_number"]) for s in dhl] == [("dhl", "1234567890")]
    assert [s["carrier"] for s in shipments(store, "3002")] == ["royal_mail"]
    # No provider column value: detection names the carrier from the number itself.
    assert [s["carrier"] for s in shipments(store, "3004")] == ["ups"]
    assert order(store, "3003")["status"] == "cancelled"
    assert order(store, "3003")["cancelled_at"] is not None
    dana = order(store, "3004")
    assert bool(dana["phone_valid"]) is False and "phone '12345'" in dana["contact_problems"]
    assert order(store, "3002")["status"] == "pending"


def test_tracking_file_attaches_to_existing_orders(
    store: Store, files: Path, settings: SyncSettings
) -> None:
    ingest_file(store, files / "shopify_orders.csv", settings=settings, source="shop")
    result = ingest_file(store, files / "tracking.csv", settings=settings, source="shop")
    assert result.outcome == PARTIAL
    assert result.format == "tracking"
    assert result.shipments_created == 3
    assert [(e.row, e.reason) for e in result.errors] == [
        (5, "no order #9999 in the store; import the order before its tracking number")
    ]
    ups = shipments(store, "#1001")
    assert [(s["carrier"], s["tracking_number"], s["status"]) for s in ups] == [
        ("ups", "1Z999AA10123456784", "pending")
    ]
    assert ups[0]["next_poll_at"] is not None  # due for its first poll
    # "1002" matches "#1002"; no carrier given, so detection decides.
    assert [s["carrier"] for s in shipments(store, "#1002")] == ["royal_mail"]
    board = order(store, "#1001")
    assert (board["status"], board["carrier"], board["shipment_count"]) == ("pending", "ups", 1)
    assert "1z999aa10123456784" in board["search_text"]


def test_generic_csv_through_a_column_map(
    store: Store, files: Path, settings: SyncSettings
) -> None:
    result = ingest_file(store, files / "erp_orders.csv", settings=settings, source="erp")
    assert result.outcome == IMPORTED, result.error
    assert result.format == "erp"
    assert items(store, "E-100") == [
        ("SKU-9", "Widget", 4, "2.50"),
        ("SKU-8", "Gadget", 1, "10.00"),
    ]
    eve = order(store, "E-100")
    assert eve["customer_name"] == "Eve Adams" and eve["email_normalized"] == "EVE@example.com"
    created = eve["created_at"]
    if isinstance(created, str):
        created = datetime.fromisoformat(created).replace(tzinfo=UTC)
    assert created == datetime(2026, 11, 7, 14, 30, tzinfo=UTC)  # London, GMT in November
    assert [s["carrier"] for s in shipments(store, "E-100")] == ["ups"]


def test_json_object_with_orders(store: Store, files: Path, settings: SyncSettings) -> None:
    result = ingest_file(store, files / "orders.json", settings=settings, source="api")
    assert result.outcome == PARTIAL
    assert result.format == "json"
    assert [(e.row, e.column, e.reason) for e in result.errors] == [
        (3, "line_items[0].quantity", "quantity -1 is negative")
    ]
    ava = order(store, "J-1")
    assert ava["external_id"] == "j1"
    assert ava["customer_name"] == "Ava Kowalska" and ava["ship_city"] == "Gdańsk"
    assert ava["email_normalized"] == "AVA@example.pl" and ava["phone_e164"] == "+48221234567"
    assert ava["total"] == "199.99" and ava["tags"] == "b2b, pl"
    assert ava["note"] == "Fragile 📦\nhandle with care"
    assert items(store, "J-1") == [("VASE-1", "Vase", 1, "149.99"), ("WRAP", "Gift wrap", 2, "25")]
    assert [s["carrier"] for s in shipments(store, "J-1")] == ["ups"]
    assert order(store, "J-2")["status"] == "cancelled"


def test_json_array_streams_past_its_buffer(
    store: Store, tmp_path: Path, settings: SyncSettings
) -> None:
    records = [
        {"number": f"A-{i}", "customer_name": "Ünïcödé " * 20, "line_items": [{"name": "x"}]}
        for i in range(600)
    ]
    path = tmp_path / "big.json"
    path.write_text(json.dumps(records, ensure_ascii=False, indent=1), encoding="utf-8")
    assert path.stat().st_size > 3 * 65536
    result = ingest_file(store, path, settings=settings, source="api")
    assert result.outcome == IMPORTED, result.error
    assert (result.rows_total, result.orders_created) == (600, 600)


def test_ndjson_bad_line_does_not_sink_the_rest(
    store: Store, files: Path, settings: SyncSettings
) -> None:
    result = ingest_file(store, files / "orders.ndjson", settings=settings, source="feed")
    assert result.outcome == PARTIAL
    assert result.format == "ndjson"
    assert result.orders_created == 2
    assert len(result.errors) == 1 and result.errors[0].row == 2
    assert result.errors[0].reason.startswith("not valid JSON")
    assert order(store, "N-1")["phone_e164"] == "+33612345678"


def test_format_override(store: Store, files: Path, settings: SyncSettings) -> None:
    result = ingest_file(
        store, files / "tracking.csv", settings=settings, source="shop", format="shopify"
    )
    assert result.outcome == REJECTED
    assert result.error is not None and "not a Shopify order export" in result.error
    assert "'Lineitem name'" in result.error
    assert count(store, "orders") == 0


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("shopify_orders.csv", "shopify"),
        ("woocommerce_orders.csv", "woocommerce"),
        ("tracking.csv", "tracking"),
        ("erp_orders.csv", "erp"),
        ("orders.json", "json"),
        ("orders.ndjson", "ndjson"),
    ],
)
def test_detection(files: Path, settings: SyncSettings, name: str, expected: str) -> None:
    head = (files / name).read_bytes()[:4096].decode("utf-8-sig")
    assert detect(files / name, head, settings.ingest.formats) == expected


def test_extra_and_missing_optional_columns(
    store: Store, tmp_path: Path, settings: SyncSettings
) -> None:
    path = tmp_path / "trimmed.csv"
    path.write_text(
        "Name,Email,Fulfillment Date,Lineitem quantity,Lineitem name,Lineitem price,Favourite colour,"
        "Tracking Number,Tracking Company\n"
        "#7,x@example.com,2026-11-07 10:00:00 +0000,1,Thing,5.00,blue,1Z999AA10123456784,UPS\n",
        encoding="utf-8",
    )
    result = ingest_file(store, path, settings=settings, source="shop")
    assert result.outcome == IMPORTED, result.error
    assert result.format == "shopify"
    ship = shipments(store, "#7")
    assert [(s["carrier"], s["tracking_number"]) for s in ship] == [("ups", "1Z999AA10123456784")]
    assert ship[0]["shipped_at"] is not None  # from the "Fulfillment Date" variant
    assert rows(store, "SELECT count(*) AS n FROM line_items")[0]["n"] == 1


def test_generic_status_and_its_own_columns(store: Store, tmp_path: Path) -> None:
    from sync.settings import CsvFormat, IngestSettings

    fmt = CsvFormat(
        name="pos",
        columns={
            "number": "Ticket",
            "external_id": "Ticket ID",
            "status": "State",
            "financial_status": "Paid",
            "name": "Item",
        },
    )
    settings = SyncSettings(ingest=IngestSettings(formats={"pos": fmt}))
    path = tmp_path / "pos.csv"
    path.write_text(
        "Ticket,Ticket ID,State,Paid,Item\nT-1,77,cancelled,refunded,Tea\nT-2,78,completed,paid,Cake\n"
    )
    result = ingest_file(store, path, settings=settings, source="pos")
    assert result.outcome == IMPORTED and result.format == "pos", result.error
    first = order(store, "T-1")
    assert first["external_id"] == "77" and first["status"] == "cancelled"
    assert first["financial_status"] == "refunded"  # their column, not the status mapping
    assert order(store, "T-2")["fulfillment_status"] == "fulfilled"
