"""Nothing is doubled: the same file twice, a later export, repeated orders in one file."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from store import changes
from store.engine import Store
from sync.ingest import DUPLICATE, IMPORTED, ingest_file
from sync.settings import SyncSettings
from tests.ingest.conftest import count, items, make_settings, order, rows, shipments


def test_same_file_twice_is_skipped_by_its_digest(
    store: Store, files: Path, settings: SyncSettings
) -> None:
    first = ingest_file(store, files / "shopify_orders.csv", settings=settings, source="shop")
    with store.read_connection() as conn:
        seq = changes.latest_seq(conn)
    copy = files / "renamed_copy.csv"
    copy.write_bytes((files / "shopify_orders.csv").read_bytes())
    again = ingest_file(store, copy, settings=settings, source="shop")
    assert again.outcome == DUPLICATE
    assert again.sha256 == first.sha256
    assert again.error is not None and "already imported" in again.error
    assert "shopify_orders.csv" in again.error
    assert (count(store, "orders"), count(store, "line_items")) == (5, 8)
    with store.read_connection() as conn:
        assert changes.latest_seq(conn) == seq  # nothing written
    recorded = rows(store, "SELECT outcome, rows_total, orders_created FROM ingested_files")
    assert recorded == [{"outcome": "imported", "rows_total": 8, "orders_created": 5}]


def test_later_export_updates_and_adds(store: Store, files: Path, settings: SyncSettings) -> None:
    ingest_file(store, files / "shopify_orders.csv", settings=settings, source="shop")
    later = ingest_file(store, files / "shopify_orders_later.csv", settings=settings, source="shop")
    assert later.outcome == IMPORTED
    assert (later.orders_created, later.orders_updated, later.line_items) == (1, 2, 4)
    assert count(store, "orders") == 6
    jose = order(store, "#1001")
    assert jose["fulfillment_status"] == "fulfilled" and jose["total"] == "149.85"
    assert jose["email"] == "jose@example.com" and jose["tags"] == "vip"
    # Replaced, not appended: the mug's quantity changed from 2 to 3.
    assert items(store, "#1001") == [
        ("MUG-L", "Mug, large", 3, "19.95"),
        ("TEA-EG", 'Tea "Earl Grey", loose leaf', 1, "90.00"),
    ]
    assert items(store, "#1004") == [
        ("PEN-1", "Pen", 1, "5.00"),
        ("PCL-1", "Pencil", 5, "2.00"),
        ("ERS-1", "Eraser", 1, "45.00"),
    ]  # not in the later export: untouched
    assert order(store, "#1006")["customer_name"] == "Zoë Ørsted"
    assert order(store, "#1003")["status"] == "cancelled"
    assert count(store, "line_items") == 8 - 2 + 2 + 1


def test_sources_keep_their_orders_apart(store: Store, files: Path, settings: SyncSettings) -> None:
    ingest_file(store, files / "shopify_orders.csv", settings=settings, source="shop-a")
    copy = files / "other_shop.csv"
    copy.write_bytes((files / "shopify_orders.csv").read_bytes() + b"\r\n")
    ingest_file(store, copy, settings=settings, source="shop-b")
    assert count(store, "orders") == 10


def test_reimport_keeps_shipments_and_tracking_is_not_doubled(
    store: Store, files: Path, settings: SyncSettings
) -> None:
    ingest_file(store, files / "woocommerce_orders.csv", settings=settings, source="woo")
    before = shipments(store, "3001")
    edited = files / "woo_again.csv"
    edited.write_bytes(
        (files / "woocommerce_orders.csv").read_bytes().replace(b"Bitte klingeln", b"Hinten")
    )
    again = ingest_file(store, edited, settings=settings, source="woo")
    assert again.outcome == IMPORTED
    assert again.shipments_created == 0 and again.orders_updated == 4
    assert shipments(store, "3001") == before
    assert count(store, "shipments") == 3
    assert order(store, "3001")["note"] == "Hinten"
    assert order(store, "3001")["status"] == "pending"  # summary refreshed from the store


def test_order_split_across_batches_and_repeated(store: Store, tmp_path: Path) -> None:
    settings = make_settings(batch_size=3)
    lines = ["Name,Email,Financial Status,Created at,Lineitem quantity,Lineitem name"]
    for i in range(10):
        head = f"#{i},c{i}@example.com,paid,2026-11-07 10:00:00 +0000"
        lines += [f"{head},1,A{i}", f"#{i},c{i}@example.com,,,2,B{i}"]
    # Order #3 comes back later in the same file: its rows are added, not replaced.
    lines.append("#3,c3@example.com,,,3,C3")
    path = tmp_path / "split.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = ingest_file(store, path, settings=settings, source="shop")
    assert result.outcome == IMPORTED, result.error
    assert (result.orders_created, result.orders_updated, result.line_items) == (10, 0, 21)
    assert [(i[1], i[2]) for i in items(store, "#3")] == [("A3", 1), ("B3", 2), ("C3", 3)]
    assert order(store, "#3")["financial_status"] == "paid"  # the continuation kept it


def test_change_feed_and_ingested_file_are_recorded(
    store: Store, files: Path, settings: SyncSettings
) -> None:
    with store.read_connection() as conn:
        seq = changes.latest_seq(conn)
    ingest_file(store, files / "shopify_orders.csv", settings=settings, source="shop")
    with store.read_connection() as conn:
        feed = changes.changes_since(conn, seq)
        ids = {r for (r,) in conn.execute(sa.text("SELECT id FROM orders"))}
    assert {c.kind for c in feed} == {"ingest"}
    assert {c.order_id for c in feed} == ids
    record = rows(store, "SELECT * FROM ingested_files")[0]
    assert record["format"] == "shopify" and record["source"] == "shop"
    assert record["finished_at"] is not None and len(record["sha256"]) == 64
