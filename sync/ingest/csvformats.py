"""CSV exports: which header holds which field, per format, and rows -> orders.

Every CSV format is a table of header spellings per orderdeck field; one engine
reads them all. Orders are keyed by their number (Shopify's ``Name``, WooCommerce's
``Order Number``), not by an internal id column that some exports leave out: a
later export must find the same orders whichever columns it was made with. Headers match case- and space-insensitively. Rows of one order
sit next to each other (Shopify repeats ``Name`` on its continuation rows,
the WooCommerce plugin may leave ``Order Number`` blank on them); order-level
fields come from an order's first row.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import Any

from sync.ingest import values
from sync.ingest.contacts import contact_columns
from sync.ingest.errors import BadRow, BadValue, FileRejected
from sync.ingest.records import OrderRecord, RowError, ShipmentRecord, TrackingRecord
from sync.ingest.textio import decode_error
from sync.settings import CsvFormat

# Longest first where one spelling is a prefix of another does not matter: matching
# is on whole (normalized) headers.
SHOPIFY: dict[str, tuple[str, ...]] = {
    "number": ("Name",),
    "email": ("Email",),
    "financial_status": ("Financial Status",),
    "fulfillment_status": ("Fulfillment Status",),
    "fulfilled_at": ("Fulfilled at", "Fulfillment Date", "Fulfilled At"),
    "currency": ("Currency",),
    "total": ("Total",),
    "created_at": ("Created at", "Created At", "Order Date"),
    "updated_at": ("Updated at",),
    "cancelled_at": ("Cancelled at", "Cancelled At"),
    "quantity": ("Lineitem quantity", "Line item quantity"),
    "name": ("Lineitem name", "Line item name"),
    "price": ("Lineitem price", "Line item price"),
    "sku": ("Lineitem sku", "Line item sku"),
    "billing_name": ("Billing Name",),
    "billing_phone": ("Billing Phone",),
    "billing_country": ("Billing Country",),
    "ship_name": ("Shipping Name",),
    "ship_company": ("Shipping Company",),
    "ship_address1": ("Shipping Address1", "Shipping Address 1", "Shipping Street"),
    "ship_address2": ("Shipping Address2", "Shipping Address 2"),
    "ship_city": ("Shipping City",),
    "ship_province": ("Shipping Province", "Shipping Province Code"),
    "ship_zip": ("Shipping Zip",),
    "ship_country": ("Shipping Country", "Shipping Country Code"),
    "ship_phone": ("Shipping Phone",),
    "note": ("Notes", "Note"),
    "tags": ("Tags",),
    "phone": ("Phone",),
    "tracking_number": (
        "Tracking Number",
        "Tracking Numbers",
        "Fulfillment: Tracking Number",
        "Fulfillment Tracking Number",
    ),
    "carrier": (
        "Tracking Company",
        "Fulfillment: Tracking Company",
        "Fulfillment Tracking Company",
        "Shipping Carrier",
    ),
}

#: The "Advanced Order Export For WooCommerce" plugin's default labels, and the
#: shipment-tracking plugins' columns it can add.
WOOCOMMERCE: dict[str, tuple[str, ...]] = {
    "number": ("Order Number", "Order #", "Order No"),
    "status": ("Order Status", "Status"),
    "created_at": ("Order Date", "Order Created Date", "Date Created"),
    "updated_at": ("Order Modification Date", "Date Modified"),
    "first_name": ("First Name (Billing)", "Billing First Name"),
    "last_name": ("Last Name (Billing)", "Billing Last Name"),
    "customer_name": ("Full Name (Billing)", "Customer Name"),
    "email": ("Email (Billing)", "Billing Email", "Customer Email"),
    "phone": ("Phone (Billing)", "Billing Phone"),
    "billing_country": ("Country Code (Billing)", "Country (Billing)", "Billing Country"),
    "ship_first_name": ("First Name (Shipping)", "Shipping First Name"),
    "ship_last_name": ("Last Name (Shipping)", "Shipping Last Name"),
    "ship_name": ("Full Name (Shipping)",),
    "ship_company": ("Company (Shipping)", "Shipping Company"),
    "ship_address1": ("Address 1&2 (Shipping)", "Address 1 (Shipping)", "Shipping Address 1"),
    "ship_address2": ("Address 2 (Shipping)", "Shipping Address 2"),
    "ship_city": ("City (Shipping)", "Shipping City"),
    "ship_province": ("State Code (Shipping)", "State (Shipping)", "Shipping State"),
    "ship_zip": ("Postcode (Shipping)", "Shipping Postcode"),
    "ship_country": ("Country Code (Shipping)", "Country (Shipping)", "Shipping Country"),
    "ship_phone": ("Phone (Shipping)", "Shipping Phone"),
    "currency": ("Order Currency", "Currency"),
    "total": ("Order Total Amount", "Order Total", "Total"),
    "note": ("Customer Note", "Customer Provided Note"),
    "sku": ("SKU", "Item SKU"),
    "name": ("Item Name", "Product Name"),
    "quantity": ("Quantity (- Refund)", "Quantity", "Qty", "Item Quantity"),
    "price": ("Item Cost", "Item Price", "Price"),
    "tracking_number": ("Tracking Number", "Tracking Numbers", "Tracking Code"),
    "carrier": ("Tracking Provider", "Custom Tracking Provider", "Shipping Carrier", "Carrier"),
    "shipped_at": ("Date Shipped", "Shipped Date", "Ship Date"),
}

TRACKING: dict[str, tuple[str, ...]] = {
    "number": (
        "Order Number",
        "Order",
        "Order Name",
        "Order #",
        "Order No",
        "Order ID",
        "Name",
        "Order Reference",
        "Reference",
    ),
    "tracking_number": (
        "Tracking Number",
        "Tracking Numbers",
        "Tracking",
        "Tracking No",
        "Tracking #",
        "Tracking Code",
        "Tracking ID",
        "Tracking Reference",
        "Parcel Number",
    ),
    "carrier": (
        "Carrier",
        "Tracking Company",
        "Tracking Provider",
        "Shipping Carrier",
        "Courier",
        "Carrier Name",
        "Shipping Company",
    ),
    "shipped_at": (
        "Ship Date",
        "Shipped At",
        "Shipped",
        "Date Shipped",
        "Fulfilled at",
        "Shipped On",
    ),
}

#: A generic ``[sync.formats.NAME]`` names its item column ``name``; so do these tables.
_LINE_FIELDS = ("sku", "name", "quantity", "price")

_WOO_FINANCIAL = {
    "pending": "pending",
    "on-hold": "pending",
    "processing": "paid",
    "completed": "paid",
    "refunded": "refunded",
    "failed": "failed",
    "cancelled": "voided",
    "canceled": "voided",
    "checkout-draft": "pending",
}

_TIME_FIELDS = frozenset({"created_at", "updated_at", "cancelled_at", "shipped_at", "fulfilled_at"})
_NAME_LIKE = frozenset(
    {
        "customer_name",
        "first_name",
        "last_name",
        "billing_name",
        "ship_name",
        "ship_first_name",
        "ship_last_name",
        "ship_company",
        "ship_address1",
        "ship_address2",
        "ship_city",
        "ship_province",
        "ship_zip",
        "ship_country",
        "currency",
        "financial_status",
        "fulfillment_status",
        "tags",
        "status",
    }
)
#: Order fields stored as given (direct copies of a column).
_DIRECT = (
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
    "financial_status",
    "fulfillment_status",
    "tags",
    "note",
)
#: Columns that, when filled, mark a Shopify row as an order's first row.
_HEAD_MARKERS = ("financial_status", "created_at", "currency", "total")


def norm_header(header: str) -> str:
    return re.sub(r"\s+", " ", header.replace("\ufeff", "")).strip().casefold()


def _delimiter(head: str) -> str:
    """The delimiter of a CSV from its first line: the most frequent of , ; tab |."""
    first = head.split("\n", 1)[0]
    outside: list[str] = []
    quoted = False
    for ch in first:
        if ch == '"':
            quoted = not quoted
        elif not quoted:
            outside.append(ch)
    text = "".join(outside)
    counts = {d: text.count(d) for d in (",", ";", "\t", "|")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def read_header(head: str, delimiter: str | None = None) -> tuple[list[str], str]:
    """The header row (and the delimiter) from the first characters of a file."""
    delim = delimiter or _delimiter(head)
    try:
        header = next(csv.reader([head.split("\n", 1)[0].rstrip("\r")], delimiter=delim))
    except (StopIteration, csv.Error):
        header = []
    return header, delim


@dataclass
class Layout:
    """Where each field sits in one file, for one format."""

    format: str
    kind: str  # "orders" or "tracking"
    header: list[str]
    delimiter: str
    columns: dict[str, int]
    date_format: str | None = None
    #: True when a blank order number continues the previous order (WooCommerce).
    blank_continues: bool = False
    woo_status: bool = False
    #: Shopify: a row counts as an order's first row only if one of these is filled.
    head_markers: tuple[int, ...] = ()
    missing: list[str] = field(default_factory=list)

    def header_of(self, name: str) -> str:
        return self.header[self.columns[name]]


def match_columns(header: list[str], table: dict[str, tuple[str, ...]]) -> dict[str, int]:
    positions: dict[str, int] = {}
    for index, title in enumerate(header):
        positions.setdefault(norm_header(title), index)
    found: dict[str, int] = {}
    for name, spellings in table.items():
        for spelling in spellings:
            index = positions.get(norm_header(spelling))
            if index is not None:
                found[name] = index
                break
    return found


def builtin_table(fmt: str) -> dict[str, tuple[str, ...]]:
    return {"shopify": SHOPIFY, "woocommerce": WOOCOMMERCE, "tracking": TRACKING}[fmt]


def layout_for(
    fmt: str, header: list[str], delimiter: str, custom: CsvFormat | None = None
) -> Layout:
    """The layout of ``header`` in format ``fmt``, or :class:`FileRejected` saying what
    is missing."""
    if custom is not None:
        table = {name: (title,) for name, title in custom.columns.items()}
        columns = match_columns(header, table)
        missing = [custom.columns[n] for n in custom.columns if n not in columns]
        if missing:
            raise FileRejected(
                f"the header lacks the column(s) {_quote_list(missing)} that "
                f"[sync.formats.{custom.name}] maps; its columns are {_quote_list(header, 12)}"
            )
        return Layout(
            format=custom.name,
            kind=custom.kind,
            header=header,
            delimiter=delimiter,
            columns=columns,
            date_format=custom.date_format,
            blank_continues=True,
            woo_status="status" in columns,
        )
    table = builtin_table(fmt)
    columns = match_columns(header, table)
    required = {"shopify": ("number", "name"), "woocommerce": ("number",)}.get(
        fmt, ("number", "tracking_number")
    )
    absent = [repr(table[n][0]) for n in required if n not in columns]
    if fmt == "woocommerce" and not ({"name", "sku", "status", "email"} & columns.keys()):
        absent.append(f"{table['name'][0]!r} or {table['status'][0]!r}")
    if absent:
        raise FileRejected(
            f"not a {_FORMAT_NAMES[fmt]}: the header lacks {', '.join(absent)}; "
            f"its columns are {_quote_list(header, 12)}"
        )
    layout = Layout(
        format=fmt,
        kind="tracking" if fmt == "tracking" else "orders",
        header=header,
        delimiter=delimiter,
        columns=columns,
        blank_continues=fmt == "woocommerce",
        woo_status=fmt == "woocommerce" and "status" in columns,
    )
    if fmt == "shopify":
        layout.head_markers = tuple(columns[m] for m in _HEAD_MARKERS if m in columns)
    return layout


_FORMAT_NAMES = {
    "shopify": "Shopify order export",
    "woocommerce": "WooCommerce order export",
    "tracking": "tracking file",
}


def _quote_list(items: Iterable[str], limit: int = 0) -> str:
    listed = list(items)
    shown = listed[:limit] if limit else listed
    text = ", ".join(repr(i) for i in shown)
    if limit and len(listed) > limit:
        text += f", ... ({len(listed)} in all)"
    return text or "(none)"


def _conv_time(zone: tzinfo, date_format: str | None) -> Callable[[str], datetime | None]:
    def conv(value: str) -> datetime | None:
        return values.timestamp(value, zone, date_format)

    return conv


class RowReader:
    """Turns the rows of one CSV file into :class:`OrderRecord` / :class:`TrackingRecord`
    and :class:`RowError`, an order at a time."""

    def __init__(
        self,
        layout: Layout,
        *,
        file: str,
        zone: tzinfo,
        default_country: str | None,
        now: datetime,
    ) -> None:
        self.layout = layout
        self.file = file
        self.default_country = default_country
        self.now = now
        self.width = len(layout.header)
        cols = layout.columns
        self._time = _conv_time(zone, layout.date_format)
        self.i_number = cols["number"]
        self.i_external = cols.get("external_id")
        self.i_sku = cols.get("sku")
        self.i_name = cols.get("name")
        self.i_qty = cols.get("quantity")
        self.i_price = cols.get("price")
        self.i_tracking = cols.get("tracking_number")
        self.i_carrier = cols.get("carrier")
        self.i_shipped = cols.get("shipped_at")
        if self.i_shipped is None:
            self.i_shipped = cols.get("fulfilled_at")
        self.has_lines = self.i_name is not None or self.i_sku is not None
        #: The order fields this file sets (an update leaves the others alone).
        present = {f for f in cols if f in _DIRECT or f in _TIME_FIELDS}
        present.discard("shipped_at")
        present.discard("fulfilled_at")
        if {"customer_name", "first_name", "last_name", "billing_name", "ship_name"} & cols.keys():
            present.add("customer_name")
        if {"ship_first_name", "ship_last_name"} & cols.keys():
            present.add("ship_name")
        if {"email"} & cols.keys():
            present.add("email")
        if {"phone", "billing_phone", "ship_phone"} & cols.keys():
            present.add("phone")
        if "total" in cols:
            present.add("total")
        if layout.woo_status:
            present.update({"financial_status", "fulfillment_status", "cancelled_at"})
        self.present = present
        self._plan()

    # -- one cell ---------------------------------------------------------------

    def _cell(self, row: list[str], name: str) -> str | None:
        index = self.layout.columns.get(name)
        return values.text(row[index]) if index is not None else None

    def _fail(self, name: str, exc: BadValue) -> BadRow:
        return BadRow(str(exc), self.layout.header_of(name))

    # -- order fields -----------------------------------------------------------

    def _plan(self) -> None:
        """Column positions for :meth:`order_fields`, worked out once per file."""
        cols = self.layout.columns
        self._direct = [(n, cols[n]) for n in _DIRECT if n in cols and n != "note"]
        self._note = cols.get("note")
        self._times = [
            (n, cols[n]) for n in ("created_at", "updated_at", "cancelled_at") if n in cols
        ]
        self._total = cols.get("total")
        self._ship_names = [cols[n] for n in ("ship_first_name", "ship_last_name") if n in cols]
        self._names = [cols[n] for n in ("customer_name",) if n in cols]
        self._first_last = [cols[n] for n in ("first_name", "last_name") if n in cols]
        self._billing_name = cols.get("billing_name")
        self._email = cols.get("email")
        self._phones = [cols[n] for n in ("phone", "ship_phone", "billing_phone") if n in cols]
        self._countries = [cols[n] for n in ("ship_country", "billing_country") if n in cols]
        self._status = cols.get("status") if self.layout.woo_status else None
        self._financial = cols.get("financial_status")
        self._fulfillment = cols.get("fulfillment_status")

    def order_fields(self, row: list[str]) -> dict[str, Any]:
        fields: dict[str, Any] = {}
        one_line = values.one_line
        for name, index in self._direct:
            fields[name] = one_line(row[index])
        if self._note is not None:
            fields["note"] = row[self._note].strip() or None
        for name, index in self._times:
            cell = row[index]
            if cell:
                try:
                    fields[name] = self._time(cell)
                except BadValue as exc:
                    raise self._fail(name, exc) from None
            else:
                fields[name] = None
        if self._total is not None:
            try:
                fields["total"] = values.amount(row[self._total])
            except BadValue as exc:
                raise self._fail("total", exc) from None
        if self._ship_names:
            joined = " ".join(p for p in (row[i].strip() for i in self._ship_names) if p)
            fields["ship_name"] = fields.get("ship_name") or one_line(joined)
        if "customer_name" in self.present:
            name = None
            for index in self._names:
                name = one_line(row[index])
            if not name and self._first_last:
                name = one_line(
                    " ".join(p for p in (row[i].strip() for i in self._first_last) if p)
                )
            if not name and self._billing_name is not None:
                name = one_line(row[self._billing_name])
            fields["customer_name"] = name or fields.get("ship_name")
        email = None
        if self._email is not None:
            email = row[self._email].strip() or None
            fields["email"] = email
        phone = None
        if self._phones:
            for index in self._phones:
                phone = row[index].strip() or None
                if phone:
                    break
            fields["phone"] = phone
        if self._status is not None:
            status = row[self._status].strip() or None
            slug = status.casefold().removeprefix("wc-") if status else None
            if slug is not None:
                # A column of their own (a generic map may have both) wins.
                if self._financial is None:
                    fields["financial_status"] = _WOO_FINANCIAL.get(slug, slug)
                if self._fulfillment is None:
                    fields["fulfillment_status"] = (
                        "fulfilled" if slug == "completed" else "unfulfilled"
                    )
            cancelled = values.is_cancelled_status(status)
            if fields.get("cancelled_at") is None:
                fields["cancelled_at"] = self.now if cancelled else None
        if self._email is not None or self._phones:
            region = None
            if phone:
                for index in self._countries:
                    region = values.country(row[index])
                    if region:
                        break
            (
                fields["email_normalized"],
                fields["email_valid"],
                fields["phone_e164"],
                fields["phone_valid"],
                fields["contact_problems"],
            ) = contact_columns(email, phone, region or self.default_country)
        return fields

    def line(self, row: list[str]) -> tuple[str | None, str, int, str | None] | None:
        sku = row[self.i_sku].strip() or None if self.i_sku is not None else None
        name = values.one_line(row[self.i_name]) if self.i_name is not None else None
        if sku is None and name is None:
            return None
        qty = 1
        if self.i_qty is not None:
            cell = row[self.i_qty]
            if cell.isdigit() and len(cell) < 10:
                qty = int(cell)
            else:
                try:
                    qty = values.quantity(cell)
                except BadValue as exc:
                    raise self._fail("quantity", exc) from None
        price = None
        if self.i_price is not None:
            try:
                price = values.amount(row[self.i_price])
            except BadValue as exc:
                raise self._fail("price", exc) from None
        return (sku, name or sku or "", qty, price)

    def shipments(self, row: list[str]) -> list[ShipmentRecord]:
        if self.i_tracking is None:
            return []
        try:
            numbers = values.tracking_numbers(row[self.i_tracking])
        except BadValue as exc:
            raise self._fail("tracking_number", exc) from None
        if not numbers:
            return []
        carrier = values.one_line(row[self.i_carrier]) if self.i_carrier is not None else None
        shipped = None
        if self.i_shipped is not None:
            try:
                shipped = self._time(row[self.i_shipped])
            except BadValue as exc:
                name = "shipped_at" if "shipped_at" in self.layout.columns else "fulfilled_at"
                raise self._fail(name, exc) from None
        return [ShipmentRecord(n, carrier, shipped) for n in numbers]

    # -- the file ---------------------------------------------------------------

    def _error(self, row: int, column: str | None, reason: str) -> RowError:
        return RowError(self.file, row, column, reason)

    def records(
        self, rows: Iterable[tuple[int, list[str]]]
    ) -> Iterator[OrderRecord | TrackingRecord | RowError]:
        if self.layout.kind == "tracking":
            yield from self._tracking(rows)
        else:
            yield from self._orders(rows)

    def _shape_error(self, line: int, row: list[str]) -> RowError:
        return self._error(
            line,
            None,
            f"has {len(row)} fields where the header has {self.width} "
            "(a stray delimiter or quote?)",
        )

    def _tracking(
        self, rows: Iterable[tuple[int, list[str]]]
    ) -> Iterator[TrackingRecord | RowError]:
        for line, row in rows:
            if len(row) != self.width:
                yield self._shape_error(line, row)
                continue
            number = values.text(row[self.i_number])
            if number is None:
                yield self._error(line, self.layout.header_of("number"), "no order number")
                continue
            try:
                found = self.shipments(row)
            except BadRow as exc:
                yield self._error(line, exc.column, exc.reason)
                continue
            if not found:
                yield self._error(
                    line, self.layout.header_of("tracking_number"), "no tracking number"
                )
                continue
            for shipment in found:
                yield TrackingRecord(number, line, shipment)

    def _orders(self, rows: Iterable[tuple[int, list[str]]]) -> Iterator[OrderRecord | RowError]:
        current: OrderRecord | None = None
        current_number: str | None = None
        group_rows: list[int] = []
        bad: list[RowError] = []
        i_number = self.i_number
        width = self.width
        head_markers = self.layout.head_markers
        blank_continues = self.layout.blank_continues
        number_header = self.layout.header[i_number]
        has_lines = self.has_lines
        has_tracking = self.i_tracking is not None

        def finish() -> Iterator[OrderRecord | RowError]:
            if current is None:
                return
            if bad:
                first = bad[0].row
                bad_rows = {e.row for e in bad}
                held = [
                    self._error(
                        other,
                        None,
                        f"order {current_number} was not imported because row {first} was rejected",
                    )
                    for other in group_rows
                    if other not in bad_rows
                ]
                yield from sorted([*bad, *held], key=lambda e: e.row or 0)
            else:
                yield current

        for line, row in rows:
            if len(row) != width:
                yield self._shape_error(line, row)
                continue
            number = row[i_number].strip()
            if not number:
                if blank_continues and current is not None:
                    number = current_number or ""
                else:
                    yield self._error(line, number_header, "no order number")
                    continue
            if number != current_number:
                yield from finish()
                bad = []
                group_rows = []
                current_number = number
                external = None
                if self.i_external is not None:
                    external = row[self.i_external].strip() or None
                current = OrderRecord(external or number, line, {})
                is_head = not head_markers or any(row[i].strip() for i in head_markers)
                if is_head:
                    try:
                        fields = self.order_fields(row)
                        fields["number"] = number
                        current.fields = fields
                    except BadRow as exc:
                        bad.append(self._error(line, exc.column, exc.reason))
                else:
                    current.fields = {"number": number}
            assert current is not None
            group_rows.append(line)
            try:
                if has_lines:
                    item = self.line(row)
                    if item is not None:
                        current.lines.append(item)  # type: ignore[union-attr]
                if has_tracking:
                    for shipment in self.shipments(row):
                        if all(
                            shipment.tracking_number != t.tracking_number for t in current.shipments
                        ):
                            current.shipments.append(shipment)
            except BadRow as exc:
                bad.append(self._error(line, exc.column, exc.reason))
        yield from finish()


def csv_rows(stream: Any, delimiter: str, encoding: str) -> Iterator[tuple[int, list[str]]]:
    """(line where the record starts, fields) for every record after the header.

    Raises :class:`FileRejected` for broken quoting or undecodable bytes; blank
    lines are skipped.
    """
    reader = csv.reader(stream, delimiter=delimiter, strict=True)
    try:
        next(reader)  # the header, already read by detection
        while True:
            start = reader.line_num + 1
            try:
                row = next(reader)
            except StopIteration:
                return
            if not row or (len(row) == 1 and not row[0].strip()):
                continue
            yield start, row
    except csv.Error as exc:
        raise FileRejected(
            f"broken CSV quoting near line {reader.line_num}: {exc}", row=reader.line_num
        ) from None
    except UnicodeDecodeError as exc:
        raise decode_error(exc, encoding, reader.line_num + 1) from None
