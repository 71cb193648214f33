"""What a parsed file hands to the writer: orders with their line items and shipments,
tracking rows, and rejected rows. Plain slotted classes: a million of them pass by."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

#: Order columns a file may set, in table order; also the flat field names that
#: ``[sync.formats.NAME.columns]`` and the JSON schema use.
ORDER_FIELDS: tuple[str, ...] = (
    "number",
    "created_at",
    "updated_at",
    "customer_name",
    "email",
    "phone",
    "ship_name",
    "ship_company",
    "ship_address1",
    "ship_address2",
    "ship_city",
    "ship_province",
    "ship_zip",
    "ship_country",
    "ship_phone",
    "currency",
    "total",
    "financial_status",
    "fulfillment_status",
    "cancelled_at",
    "tags",
    "note",
)

#: Columns derived from the contact fields (see :mod:`sync.ingest.contacts`).
CONTACT_FIELDS: tuple[str, ...] = (
    "email_normalized",
    "email_valid",
    "phone_e164",
    "phone_valid",
    "contact_problems",
)


class ShipmentRecord:
    __slots__ = ("carrier_name", "shipped_at", "tracking_number")

    def __init__(
        self, tracking_number: str, carrier_name: str | None, shipped_at: datetime | None
    ) -> None:
        self.tracking_number = tracking_number
        self.carrier_name = carrier_name
        self.shipped_at = shipped_at

    def __reduce__(self) -> tuple[Any, ...]:
        # Plain tuples pickle in C; slotted objects would go through copyreg in Python.
        return (ShipmentRecord, (self.tracking_number, self.carrier_name, self.shipped_at))


class OrderRecord:
    """One order as a file gave it.

    ``fields`` holds only the order columns the file carries (a column the format
    lacks keeps its stored value on update); ``lines`` are (sku, name, quantity,
    unit_price) tuples, or None when the file says nothing about line items (they
    are then left as they are).
    """

    __slots__ = ("external_id", "fields", "lines", "row", "shipments")

    def __init__(self, external_id: str, row: int, fields: dict[str, Any]) -> None:
        self.external_id = external_id
        self.row = row
        self.fields = fields
        self.lines: list[tuple[str | None, str, int, str | None]] | None = []
        self.shipments: list[ShipmentRecord] = []

    def __reduce__(self) -> tuple[Any, ...]:
        return (
            _order_record,
            (self.external_id, self.row, self.fields, self.lines, self.shipments),
        )


def _order_record(
    external_id: str,
    row: int,
    fields: dict[str, Any],
    lines: list[tuple[str | None, str, int, str | None]] | None,
    shipments: list[ShipmentRecord],
) -> OrderRecord:
    record = OrderRecord(external_id, row, fields)
    record.lines = lines
    record.shipments = shipments
    return record


class TrackingRecord:
    """A row of a tracking file: attach this number to that (existing) order."""

    __slots__ = ("number", "row", "shipment")

    def __init__(self, number: str, row: int, shipment: ShipmentRecord) -> None:
        self.number = number
        self.row = row
        self.shipment = shipment

    def __reduce__(self) -> tuple[Any, ...]:
        return (TrackingRecord, (self.number, self.row, self.shipment))


@dataclass(frozen=True)
class RowError:
    """A rejected row: where it is and why. ``row`` counts lines from 1 (the header
    is row 1 in a CSV); in JSON it is the record's position, in NDJSON its line."""

    file: str
    row: int | None
    column: str | None
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {"file": self.file, "row": self.row, "column": self.column, "reason": self.reason}

    def __str__(self) -> str:
        where = f"row {self.row}" if self.row is not None else "file"
        if self.column:
            where += f", column {self.column!r}"
        return f"{where}: {self.reason}"
