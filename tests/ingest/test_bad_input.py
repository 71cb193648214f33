"""Every bad file and bad row: a clear reason, and nothing lost or half-applied."""

from __future__ import annotations

from pathlib import Path

import pytest

from store.engine import Store
from sync.ingest import PARTIAL, REJECTED, IngestError, ingest_file
from sync.settings import SyncSettings
from tests.ingest.conftest import count, make_settings, order, rows


def test_mixed_file_good_rows_land(store: Store, files: Path, settings: SyncSettings) -> None:
    result = ingest_file(store, files / "shopify_bad_rows.csv", settings=settings, source="shop")
    assert result.outcome == PARTIAL
    assert (result.rows_total, result.rows_rejected, result.orders_created) == (8, 6, 2)
    found = [(e.row, e.column, e.reason) for e in result.errors]
    assert found == [
        (3, "Name", "no order number"),
        (4, "Lineitem quantity", "quantity -2 is negative"),
        (
            5,
            "Created at",
            "'next tuesday' is not a date and time (expected e.g. 2026-11-07 19:08:25 +0000)",
        ),
        (6, "Total", "'ten dollars' is not an amount"),
        (7, None, "order #2006 was not imported because row 8 was rejected"),
        (8, "Lineitem quantity", "'x' is not a quantity"),
    ]
    assert all(e.file.endswith("shopify_bad_rows.csv") for e in result.errors)
    assert {r["number"] for r in rows(store, "SELECT number FROM orders")} == {"#2001", "#2007"}
    assert count(store, "line_items") == 2
    stored = rows(store, "SELECT outcome, rows_rejected, errors FROM ingested_files")[0]
    assert stored["outcome"] == "partial" and stored["rows_rejected"] == 6


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("empty.csv", "the file is empty"),
        ("image.csv", "the file is a PNG image, not an export"),
        ("broken_quoting.csv", "broken CSV quoting near line 3: unexpected end of data"),
        (
            "latin1_tracking.csv",
            "not valid utf-8: byte 0xE9 near line 3 cannot be decoded; save the export as "
            'UTF-8, or set encoding (e.g. "cp1252") for its drop folder',
        ),
    ],
)
def test_unreadable_files_are_rejected_whole(
    store: Store, files: Path, settings: SyncSettings, name: str, reason: str
) -> None:
    result = ingest_file(store, files / name, settings=settings, source="shop")
    assert result.outcome == REJECTED
    assert result.error == reason
    assert result.rejected_whole
    assert count(store, "orders") == 0
    stored = rows(store, "SELECT outcome, error FROM ingested_files")
    assert stored == [{"outcome": "rejected", "error": reason}]


def test_unknown_columns(store: Store, files: Path, settings: SyncSettings) -> None:
    result = ingest_file(store, files / "unknown_columns.csv", settings=settings, source="x")
    assert result.outcome == REJECTED
    assert result.error is not None
    assert result.error.startswith("unknown columns: 'Foo', 'Bar', 'Baz' match no format")
    assert "[sync.formats.NAME]" in result.error


def test_binary_and_blank_files(store: Store, tmp_path: Path, settings: SyncSettings) -> None:
    blob = tmp_path / "blob.csv"
    blob.write_bytes(b"Name,Email\n\x00\x01\x02 binary")
    blank = tmp_path / "blank.csv"
    blank.write_text("\n\n   \n", encoding="utf-8")
    xlsx = tmp_path / "orders.xlsx"
    xlsx.write_bytes(b"PK\x03\x04" + b"\x00" * 40)
    assert ingest_file(store, blob, settings=settings).error == (
        "the file is binary (it contains NUL bytes), not a text export"
    )
    assert ingest_file(store, blank, settings=settings).error == "the file holds only blank space"
    assert "Excel workbook" in (ingest_file(store, xlsx, settings=settings).error or "")


def test_non_utf8_mid_file_rolls_back_everything(
    store: Store, tmp_path: Path, settings: SyncSettings
) -> None:
    """The bad byte sits far past the first batch: what was written is rolled back."""
    settings = make_settings(batch_size=100)
    body = "".join(f"#{i},c{i}@example.com,Item {i}\n" for i in range(2000))
    path = tmp_path / "late_latin1.csv"
    path.write_bytes(
        b"Name,Email,Lineitem name\n"
        + body.encode()
        + "#x,z@example.com,Caf\xe9\n".encode("cp1252")
    )
    result = ingest_file(store, path, settings=settings, source="shop")
    assert result.outcome == REJECTED
    assert result.error is not None and "not valid utf-8: byte 0xE9 near line" in result.error
    assert count(store, "orders") == 0 and count(store, "line_items") == 0


def test_encoding_option_decodes(store: Store, tmp_path: Path, settings: SyncSettings) -> None:
    path = tmp_path / "windows_export.csv"
    path.write_bytes(
        "Name,Email,Billing Name,Lineitem name,Lineitem price\r\n"
        "#1,renee@example.fr,Renée Café,Crème brûlée,4.50\r\n".encode("cp1252")
    )
    refused = ingest_file(store, path, settings=settings, source="shop")
    assert refused.outcome == REJECTED and "not valid utf-8: byte 0xE9" in (refused.error or "")
    result = ingest_file(store, path, settings=settings, source="shop", encoding="cp1252")
    assert result.outcome == "imported", result.error
    assert order(store, "#1")["customer_name"] == "Renée Café"  # decoded, not garbled
    assert rows(store, "SELECT name FROM line_items") == [{"name": "Crème brûlée"}]


def test_every_row_rejected_is_a_rejected_file(
    store: Store, tmp_path: Path, settings: SyncSettings
) -> None:
    path = tmp_path / "all_bad.csv"
    path.write_text("Name,Lineitem quantity,Lineitem name\n,1,A\n#2,-1,B\n", encoding="utf-8")
    result = ingest_file(store, path, settings=settings, source="shop")
    assert result.outcome == REJECTED
    assert (
        result.error
        == "every row was rejected (2); the first: row 2, column 'Name': no order number"
    )
    assert len(result.errors) == 2


def test_wrong_field_count_and_bad_tracking(
    store: Store, tmp_path: Path, settings: SyncSettings
) -> None:
    path = tmp_path / "shapes.csv"
    path.write_text(
        "Order Number,Tracking Number,Carrier\n"
        "1,1Z999AA10123456784,UPS,extra\n"
        "2,not a number!,UPS\n"
        "3,,UPS\n",
        encoding="utf-8",
    )
    result = ingest_file(store, path, settings=settings, source="shop")
    assert result.outcome == REJECTED
    assert [(e.row, e.column, e.reason) for e in result.errors] == [
        (2, None, "has 4 fields where the header has 3 (a stray delimiter or quote?)"),
        (
            3,
            "Tracking Number",
            "'not a number!' is not a tracking number (4 to 40 letters and digits)",
        ),
        (4, "Tracking Number", "no tracking number"),
    ]


def test_header_only_file_is_fine(store: Store, tmp_path: Path, settings: SyncSettings) -> None:
    path = tmp_path / "no_orders_today.csv"
    path.write_text("Name,Email,Lineitem name\r\n", encoding="utf-8")
    result = ingest_file(store, path, settings=settings, source="shop")
    assert result.outcome == "imported" and result.rows_total == 0


def test_json_problems(store: Store, tmp_path: Path, settings: SyncSettings) -> None:
    cases = {
        "truncated.json": ('[{"number": "1"}, {"number": ', "broken JSON near line 1"),
        "scalar.json": ("42", "JSON must be an array of orders"),
        "no_orders.json": ('{"data": []}', 'a JSON object needs an "orders" array'),
    }
    for name, (text, reason) in cases.items():
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        result = ingest_file(store, path, settings=settings, source="api")
        assert result.outcome == REJECTED, name
        assert result.error is not None and result.error.startswith(reason), result.error
    path = tmp_path / "fields.json"
    path.write_text(
        '[{"number": "A", "colour": "red"}, {"number": "B", "total": "lots"},'
        ' {"number": "C", "created_at": 5}, {"number": "D", "line_items": [{"name": "x",'
        ' "quantity": 1.5}]}, {"number": "E"}]',
        encoding="utf-8",
    )
    result = ingest_file(store, path, settings=settings, source="api")
    assert [(e.row, e.column, e.reason) for e in result.errors] == [
        (1, None, "unknown key(s): colour (see docs/ingest.md)"),
        (2, "total", "'lots' is not an amount"),
        (3, "created_at", "expected a date and time as text, got 5"),
        (4, "line_items[0].quantity", "'1.5' is not a whole number"),
    ]
    assert order(store, "E")["number"] == "E"


def test_call_errors_raise(store: Store, tmp_path: Path, settings: SyncSettings) -> None:
    with pytest.raises(IngestError, match="No such file"):
        ingest_file(store, tmp_path / "missing.csv", settings=settings)
    with pytest.raises(IngestError, match="unknown format 'xml'"):
        ingest_file(store, tmp_path, settings=settings, format="xml")
    with pytest.raises(IngestError, match="not a regular file"):
        ingest_file(store, tmp_path, settings=settings)


def test_oversize_file(store: Store, files: Path) -> None:
    settings = make_settings(max_file_bytes=100)
    result = ingest_file(store, files / "shopify_orders.csv", settings=settings)
    assert result.outcome == REJECTED
    assert (
        result.error is not None and "over the limit of 100 ([sync] max_file_size)" in result.error
    )
