"""Fixtures for the ingest tests: the committed export files and ready settings."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from store.engine import Store
from sync.settings import CsvFormat, IngestSettings, SyncSettings

FIXTURES = Path(__file__).parent / "fixtures"

ERP = CsvFormat(
    name="erp",
    columns={
        "number": "Order No",
        "created_at": "Date",
        "customer_name": "Customer",
        "email": "E-mail",
        "sku": "Article",
        "name": "Description",
        "quantity": "Qty",
        "price": "Unit price",
        "tracking_number": "Parcel",
        "carrier": "Forwarder",
    },
    delimiter=";",
    date_format="%d/%m/%Y %H:%M",
)


def make_settings(**ingest: Any) -> SyncSettings:
    return SyncSettings(
        ingest=IngestSettings(formats={"erp": ERP}, min_age_seconds=0.0, **ingest),
        default_country="GB",
        timezone="Europe/London",
    )


@pytest.fixture
def settings() -> SyncSettings:
    return make_settings()


@pytest.fixture
def files(tmp_path: Path) -> Path:
    """A private copy of the fixture files (tests move and rename them)."""
    target = tmp_path / "fixtures"
    shutil.copytree(FIXTURES, target)
    return target


def rows(store: Store, sql: str, **params: Any) -> list[dict[str, Any]]:
    with store.read_connection() as conn:
        return [dict(r) for r in conn.execute(sa.text(sql), params).mappings()]


def count(store: Store, table: str) -> int:
    with store.read_connection() as conn:
        return int(conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one())


def order(store: Store, number: str) -> dict[str, Any]:
    found = rows(store, "SELECT * FROM orders WHERE number = :n", n=number)
    assert len(found) == 1, f"{number}: {found}"
    return found[0]


def items(store: Store, number: str) -> list[tuple[Any, ...]]:
    return [
        (r["sku"], r["name"], r["quantity"], r["unit_price"])
        for r in rows(
            store,
            "SELECT i.* FROM line_items i JOIN orders o ON o.id = i.order_id "
            "WHERE o.number = :n ORDER BY i.position",
            n=number,
        )
    ]


def shipments(store: Store, number: str) -> list[dict[str, Any]]:
    return rows(
        store,
        "SELECT s.* FROM shipments s JOIN orders o ON o.id = s.order_id "
        "WHERE o.number = :n ORDER BY s.id",
        n=number,
    )
