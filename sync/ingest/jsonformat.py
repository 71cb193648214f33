"""JSON (an array, or ``{"orders": [...]}``) and NDJSON in orderdeck's schema.

The schema is written down in ``docs/ingest.md``. A JSON file is streamed element by
element (``json.JSONDecoder.raw_decode`` over a sliding buffer), so a file of a
million orders is never held whole.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, tzinfo
from typing import Any

from sync.ingest import values
from sync.ingest.contacts import contact_columns
from sync.ingest.errors import BadRow, BadValue, FileRejected
from sync.ingest.records import OrderRecord, RowError, ShipmentRecord, TrackingRecord
from sync.ingest.textio import decode_error

_CHUNK = 1 << 16
_MAX_RECORD = 16 * 1024 * 1024
_WS = " \t\r\n"

_ADDRESS_KEYS = {
    "name": "ship_name",
    "company": "ship_company",
    "address1": "ship_address1",
    "address2": "ship_address2",
    "city": "ship_city",
    "province": "ship_province",
    "zip": "ship_zip",
    "country": "ship_country",
    "phone": "ship_phone",
}
_TEXT_KEYS = (
    "currency",
    "financial_status",
    "fulfillment_status",
    "note",
    "customer_name",
    "email",
    "phone",
)
_TIME_KEYS = ("created_at", "updated_at", "cancelled_at")
_ORDER_KEYS = frozenset(
    {
        "number",
        "external_id",
        "status",
        "customer",
        "shipping_address",
        "total",
        "tags",
        "line_items",
        "shipments",
        *_TEXT_KEYS,
        *_TIME_KEYS,
        *_ADDRESS_KEYS.values(),
    }
)
_TRACKING_KEYS = frozenset({"number", "tracking_number", "carrier", "shipped_at"})


class _Buffer:
    """A window on the text stream that ``raw_decode`` can work on."""

    def __init__(self, stream: Any, encoding: str) -> None:
        self.stream = stream
        self.encoding = encoding
        self.buf = ""
        self.pos = 0
        self.eof = False
        self.lines_before = 0  # newlines in text already dropped from the buffer

    def line(self, pos: int | None = None) -> int:
        at = self.pos if pos is None else pos
        return self.lines_before + self.buf.count("\n", 0, at) + 1

    def more(self) -> bool:
        if self.eof:
            return False
        try:
            chunk = self.stream.read(_CHUNK)
        except UnicodeDecodeError as exc:
            raise decode_error(exc, self.encoding, self.line(len(self.buf))) from None
        if not chunk:
            self.eof = True
            return False
        if self.pos > _CHUNK:
            self.lines_before += self.buf.count("\n", 0, self.pos)
            self.buf = self.buf[self.pos :]
            self.pos = 0
        self.buf += chunk
        if len(self.buf) - self.pos > _MAX_RECORD:
            raise FileRejected(
                f"a JSON value near line {self.line()} is larger than 16 MB, or its brackets "
                "are unbalanced"
            )
        return True

    def peek(self) -> str:
        """The next character that is not white space ('' at the end)."""
        while True:
            while self.pos < len(self.buf) and self.buf[self.pos] in _WS:
                self.pos += 1
            if self.pos < len(self.buf):
                return self.buf[self.pos]
            if not self.more():
                return ""

    def expect(self, char: str, what: str) -> None:
        got = self.peek()
        if got != char:
            shown = repr(got) if got else "the end of the file"
            raise FileRejected(
                f"broken JSON near line {self.line()}: expected {what}, found {shown}"
            )
        self.pos += 1

    def value(self, decoder: json.JSONDecoder) -> Any:
        self.peek()
        while True:
            try:
                obj, end = decoder.raw_decode(self.buf, self.pos)
            except json.JSONDecodeError as exc:
                if self.more():
                    continue
                raise FileRejected(
                    f"broken JSON near line {self.line(exc.pos)}: {exc.msg}", row=self.line(exc.pos)
                ) from None
            if end >= len(self.buf) and self.more():
                continue  # a number may go on in the next chunk
            self.pos = end
            return obj


def json_elements(stream: Any, encoding: str) -> Iterator[tuple[int, Any]]:
    """(position from 1, element) for an array, or the ``orders`` array of an object."""
    decoder = json.JSONDecoder()
    buf = _Buffer(stream, encoding)
    first = buf.peek()
    if first == "{":
        buf.pos += 1
        found = False
        while True:
            if buf.peek() == "}":
                buf.pos += 1
                break
            key = buf.value(decoder)
            if not isinstance(key, str):
                raise FileRejected(f"broken JSON near line {buf.line()}: expected a key")
            buf.expect(":", "':'")
            if key == "orders" and not found:
                found = True
                if buf.peek() != "[":
                    raise FileRejected('"orders" must be an array of orders')
                yield from _array(buf, decoder)
            else:
                buf.value(decoder)
            if buf.peek() == ",":
                buf.pos += 1
        if not found:
            raise FileRejected('a JSON object needs an "orders" array (or give a top-level array)')
    elif first == "[":
        yield from _array(buf, decoder)
    else:
        raise FileRejected('JSON must be an array of orders or an object with "orders"')
    if buf.peek() != "":
        raise FileRejected(f"broken JSON near line {buf.line()}: extra data after the end")


def _array(buf: _Buffer, decoder: json.JSONDecoder) -> Iterator[tuple[int, Any]]:
    buf.expect("[", "'['")
    index = 0
    if buf.peek() == "]":
        buf.pos += 1
        return
    while True:
        index += 1
        yield index, buf.value(decoder)
        nxt = buf.peek()
        if nxt == ",":
            buf.pos += 1
            continue
        if nxt == "]":
            buf.pos += 1
            return
        shown = repr(nxt) if nxt else "the end of the file"
        raise FileRejected(
            f"broken JSON near line {buf.line()}: expected ',' or ']', found {shown}"
        )


def ndjson_elements(stream: Any, encoding: str) -> Iterator[tuple[int, Any] | RowError]:
    line_no = 0
    try:
        for line in stream:
            line_no += 1
            if not line.strip():
                continue
            try:
                yield line_no, json.loads(line)
            except json.JSONDecodeError as exc:
                yield RowError("", line_no, None, f"not valid JSON: {exc.msg} (column {exc.colno})")
    except UnicodeDecodeError as exc:
        raise decode_error(exc, encoding, line_no + 1) from None


class JsonReader:
    """Turns schema records into :class:`OrderRecord` / :class:`TrackingRecord`."""

    def __init__(
        self, *, file: str, zone: tzinfo, default_country: str | None, now: datetime
    ) -> None:
        self.file = file
        self.zone = zone
        self.default_country = default_country
        self.now = now

    def records(
        self, elements: Iterator[tuple[int, Any] | RowError]
    ) -> Iterator[OrderRecord | TrackingRecord | RowError]:
        for item in elements:
            if isinstance(item, RowError):
                yield RowError(self.file, item.row, item.column, item.reason)
                continue
            index, obj = item
            try:
                yield self.record(index, obj)
            except BadRow as exc:
                yield RowError(self.file, index, exc.column, exc.reason)

    def _time(self, value: Any, key: str) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, str):
            raise BadRow(f"expected a date and time as text, got {value!r}", key)
        try:
            return values.timestamp(value, self.zone)
        except BadValue as exc:
            raise BadRow(str(exc), key) from None

    def record(self, index: int, obj: Any) -> OrderRecord | TrackingRecord:
        if not isinstance(obj, dict):
            raise BadRow(f"expected an order object, got {type(obj).__name__}")
        number = _scalar_text(obj.get("number"), "number")
        if number is None:
            raise BadRow("no order number", "number")
        if "tracking_number" in obj and not ({"line_items", "customer"} & obj.keys()):
            unknown = sorted(set(obj) - _TRACKING_KEYS)
            if unknown:
                raise BadRow(f"unknown key(s) in a tracking record: {', '.join(unknown)}")
            shipments = self._shipments([obj], "")
            if not shipments:
                raise BadRow("no tracking number", "tracking_number")
            if len(shipments) > 1:
                raise BadRow("one tracking number per tracking record", "tracking_number")
            return TrackingRecord(number, index, shipments[0])
        unknown = sorted(set(obj) - _ORDER_KEYS)
        if unknown:
            raise BadRow(f"unknown key(s): {', '.join(unknown)} (see docs/ingest.md)")
        external = _scalar_text(obj.get("external_id"), "external_id") or number
        fields: dict[str, Any] = {"number": number}
        flat = dict(obj)
        customer = flat.pop("customer", None)
        if customer is not None:
            if not isinstance(customer, dict):
                raise BadRow("expected an object with name, email, phone", "customer")
            for sub, key in (("name", "customer_name"), ("email", "email"), ("phone", "phone")):
                if sub in customer:
                    flat.setdefault(key, customer[sub])
        address = flat.pop("shipping_address", None)
        if address is not None:
            if not isinstance(address, dict):
                raise BadRow("expected an address object", "shipping_address")
            for sub, key in _ADDRESS_KEYS.items():
                if sub in address:
                    flat.setdefault(key, address[sub])
        for key in (*_TEXT_KEYS, *_ADDRESS_KEYS.values()):
            if key in flat:
                text = _scalar_text(flat[key], key)
                fields[key] = text if key == "note" else values.one_line(text)
        for key in _TIME_KEYS:
            if key in flat:
                fields[key] = self._time(flat[key], key)
        if "total" in flat:
            fields["total"] = _amount(flat["total"], "total")
        if "tags" in flat:
            tags = flat["tags"]
            if isinstance(tags, list):
                fields["tags"] = ", ".join(str(t) for t in tags if t is not None) or None
            else:
                fields["tags"] = values.one_line(_scalar_text(tags, "tags"))
        if "status" in flat:
            status = _scalar_text(flat["status"], "status")
            if values.is_cancelled_status(status) and fields.get("cancelled_at") is None:
                fields["cancelled_at"] = self.now
            elif "cancelled_at" not in fields:
                fields["cancelled_at"] = None
        if "email" in fields or "phone" in fields:
            region = values.country(fields.get("ship_country")) or self.default_country
            (
                fields["email_normalized"],
                fields["email_valid"],
                fields["phone_e164"],
                fields["phone_valid"],
                fields["contact_problems"],
            ) = contact_columns(fields.get("email"), fields.get("phone"), region)
        record = OrderRecord(external, index, fields)
        if "line_items" in flat:
            items = flat["line_items"]
            if not isinstance(items, list):
                raise BadRow("expected an array", "line_items")
            record.lines = [self._line(item, i) for i, item in enumerate(items)]
        else:
            record.lines = None
        if "shipments" in flat:
            found = flat["shipments"]
            if not isinstance(found, list):
                raise BadRow("expected an array", "shipments")
            record.shipments = self._shipments(found, "shipments")
        return record

    def _line(self, item: Any, i: int) -> tuple[str | None, str, int, str | None]:
        where = f"line_items[{i}]"
        if not isinstance(item, dict):
            raise BadRow("expected an object with sku, name, quantity, price", where)
        unknown = sorted(set(item) - {"sku", "name", "quantity", "price"})
        if unknown:
            raise BadRow(f"unknown key(s): {', '.join(unknown)}", where)
        sku = _scalar_text(item.get("sku"), f"{where}.sku")
        name = values.one_line(_scalar_text(item.get("name"), f"{where}.name"))
        if sku is None and name is None:
            raise BadRow("a line item needs a name or a sku", where)
        qty_raw = item.get("quantity", 1)
        if isinstance(qty_raw, bool) or not isinstance(qty_raw, int | float | str):
            raise BadRow(f"expected a whole number, got {qty_raw!r}", f"{where}.quantity")
        try:
            qty = values.quantity(str(qty_raw))
        except BadValue as exc:
            raise BadRow(str(exc), f"{where}.quantity") from None
        price = _amount(item.get("price"), f"{where}.price")
        return (sku, name or sku or "", qty, price)

    def _shipments(self, found: list[Any], where: str) -> list[ShipmentRecord]:
        result: list[ShipmentRecord] = []
        for i, item in enumerate(found):
            at = f"{where}[{i}]" if where else ""
            if not isinstance(item, dict):
                raise BadRow("expected an object with tracking_number, carrier", at or None)
            unknown = sorted(set(item) - {"tracking_number", "carrier", "shipped_at", "number"})
            if unknown and where:
                raise BadRow(f"unknown key(s): {', '.join(unknown)}", at)
            key = f"{at}.tracking_number" if at else "tracking_number"
            try:
                numbers = values.tracking_numbers(_scalar_text(item.get("tracking_number"), key))
            except BadValue as exc:
                raise BadRow(str(exc), key) from None
            carrier = values.one_line(
                _scalar_text(item.get("carrier"), f"{at}.carrier" if at else "carrier")
            )
            shipped = self._time(item.get("shipped_at"), f"{at}.shipped_at" if at else "shipped_at")
            for number in numbers:
                if all(number != r.tracking_number for r in result):
                    result.append(ShipmentRecord(number, carrier, shipped))
        return result


def _scalar_text(value: Any, key: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, (bool, dict | list)):
        raise BadRow(f"expected text, got {json.dumps(value)[:40]}", key)
    return values.text(str(value))


def _amount(value: Any, key: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise BadRow(f"expected an amount, got {value!r}", key)
    try:
        return values.amount(str(value))
    except BadValue as exc:
        raise BadRow(str(exc), key) from None
