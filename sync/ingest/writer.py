"""Writing parsed records into the store, a batch at a time, inside the file's transaction.

Orders are upserted by (source, external id) with ``ON CONFLICT``; the line items
of an order that was already stored are replaced (once per file: an order whose
rows come back later in the same file gets them appended); shipments are added by
(order, tracking number) and never duplicated.

The board summary of a *new* order is computed here with
:func:`store.summary.summarize` from what the file holds, so it is written with the
order in the same statement; orders that already existed are refreshed with
:func:`store.summary.refresh_orders`, which reads their stored shipments and
attention items. Same function, same result, a third of the statements.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from notifiers.changes import Change, ShipmentChange
from store import summary
from store.models import LineItem, Order, Shipment
from store.statuses import ORDER_CANCELLED, ORDER_UNFULFILLED, ShipmentStatus
from sync.ingest.bulk import Bulk, Copy, CopyUpsert, insert_statement, upsert_statement
from sync.ingest.records import OrderRecord, RowError, ShipmentRecord, TrackingRecord

_orders: sa.Table = Order.__table__  # type: ignore[attr-defined]
_items: sa.Table = LineItem.__table__  # type: ignore[attr-defined]
_shipments: sa.Table = Shipment.__table__  # type: ignore[attr-defined]

SUMMARY_COLUMNS = (
    "status",
    "status_rank",
    "carrier",
    "tracking_number",
    "shipment_count",
    "estimated_delivery",
    "last_scan_at",
    "attention",
    "attention_since",
    "search_text",
)
_LINE_COLUMNS = ("order_id", "position", "sku", "name", "quantity", "unit_price")
_SHIPMENT_COLUMNS = (
    "order_id",
    "carrier",
    "carrier_candidates",
    "tracking_number",
    "status",
    "shipped_at",
    "created_at",
    "updated_at",
    "next_poll_at",
)
#: More touched orders than this in one file are recorded as "many" in the change feed.
_CHANGE_IDS = 500
_PENDING = ShipmentStatus.PENDING.value

OnChanges = Callable[[Connection, list[Change]], None]
CarrierResolver = Callable[[str | None, str], tuple[str | None, list[str] | None]]


@dataclass
class Tally:
    orders_created: int = 0
    orders_updated: int = 0
    line_items: int = 0
    shipments_created: int = 0


class Writer:
    """Buffers records and writes them in batches on ``conn`` (the file's transaction)."""

    def __init__(
        self,
        conn: Connection,
        *,
        source: str,
        now: datetime,
        batch_size: int,
        resolve_carrier: CarrierResolver,
        reject: Callable[[RowError], None],
        on_changes: OnChanges | None = None,
        file: str = "",
    ) -> None:
        self.conn = conn
        self.source = source
        self.now = now
        self.batch_size = max(1, batch_size)
        self.resolve_carrier = resolve_carrier
        self.reject = reject
        self.on_changes = on_changes
        self.file = file
        self.tally = Tally()
        self._orders: dict[str, OrderRecord] = {}
        self._rows = 0
        self._tracking: list[TrackingRecord] = []
        #: Orders this file already wrote (their line items were replaced once).
        self._seen: set[int] = set()
        self._touched: list[int] | None = []
        self._statements: dict[Any, Bulk | Copy | CopyUpsert] = {}
        self._carriers: dict[tuple[str | None, str], tuple[str | None, list[str] | None]] = {}

    # -- intake -------------------------------------------------------------------

    def add(self, record: OrderRecord | TrackingRecord) -> None:
        if isinstance(record, TrackingRecord):
            self._tracking.append(record)
            if len(self._tracking) >= self.batch_size:
                self._flush_tracking()
            return
        known = self._orders.get(record.external_id)
        if known is None:
            self._orders[record.external_id] = record
        else:
            _merge(known, record)
        self._rows += max(1, len(record.lines or ()))
        if self._rows >= self.batch_size:
            self._flush_orders()

    def flush(self) -> None:
        if self._orders:
            self._flush_orders()
        if self._tracking:
            self._flush_tracking()

    @property
    def touched(self) -> list[int] | None:
        """The orders this file changed, or None when there were too many to list."""
        return self._touched

    # -- helpers ------------------------------------------------------------------

    def _touch(self, ids: Iterable[int]) -> None:
        if self._touched is None:
            return
        self._touched.extend(ids)
        if len(self._touched) > _CHANGE_IDS:
            self._touched = None

    def _in(self, column: Any, values: list[Any]) -> Any:
        # Not "= ANY(array)" on PostgreSQL: once psycopg prepares the statement, the
        # generic plan scans the whole table (measured: 3x slower at 100,000 rows).
        return column.in_(values)

    def _ids_for(self, keys: list[str]) -> dict[str, int]:
        if not keys:
            return {}
        rows = self.conn.execute(
            sa.select(_orders.c.external_id, _orders.c.id).where(
                _orders.c.source == self.source, self._in(_orders.c.external_id, keys)
            )
        )
        return {external: oid for external, oid in rows}

    def _carrier(self, shipment: ShipmentRecord) -> tuple[str | None, list[str] | None]:
        key = (shipment.carrier_name, shipment.tracking_number)
        found = self._carriers.get(key)
        if found is None:
            found = self.resolve_carrier(shipment.carrier_name, shipment.tracking_number)
            if len(self._carriers) > 10_000:
                self._carriers.clear()
            self._carriers[key] = found
        return found

    def _order_statement(self, columns: tuple[str, ...]) -> Bulk | CopyUpsert:
        bulk = self._statements.get(columns)
        if bulk is None:
            insert_columns = ("source", "external_id", *columns, "imported_at", "changed_at")
            insert_columns += SUMMARY_COLUMNS
            update = [c for c in columns if c != "cancelled_at"] + ["imported_at", "changed_at"]
            exprs: dict[str, Any] = {}
            if "cancelled_at" in columns:
                # Keep the first cancellation time; a restored order clears it.
                excluded = sa.table("excluded", sa.column("cancelled_at"))
                exprs["cancelled_at"] = sa.case(
                    (excluded.c.cancelled_at.is_(None), sa.null()),
                    else_=sa.func.coalesce(_orders.c.cancelled_at, excluded.c.cancelled_at),
                )
            bulk = upsert_statement(
                self.conn,
                _orders,
                insert_columns,
                conflict=("source", "external_id"),
                update=update,
                update_exprs=exprs,
                copy=True,
                returning=(_orders.c.external_id, _orders.c.id),
            )
            self._statements[columns] = bulk
        return bulk

    def _bulk(
        self, name: str, factory: Callable[[], Bulk | Copy | CopyUpsert]
    ) -> Bulk | Copy | CopyUpsert:
        bulk = self._statements.get(name)
        if bulk is None:
            bulk = self._statements[name] = factory()
        return bulk

    # -- orders -------------------------------------------------------------------

    def _flush_orders(self) -> None:
        batch = list(self._orders.values())
        self._orders = {}
        self._rows = 0
        # PostgreSQL: the upsert itself says which orders were new (RETURNING); a
        # lookup by (source, order id) before it is planned badly on a table that
        # grows inside the transaction (no statistics yet): a scan per batch.
        returning = self.conn.dialect.name == "postgresql"
        existing = {} if returning else self._ids_for([r.external_id for r in batch])
        now = self.now
        resolved: dict[int, list[tuple[str | None, list[str] | None]]] = {}
        groups: dict[tuple[str, ...], list[tuple[Any, ...]]] = {}
        for position, record in enumerate(batch):
            carriers = [self._carrier(s) for s in record.shipments]
            resolved[position] = carriers
            fields = record.fields
            columns = tuple(fields)
            if record.external_id in existing:
                # Refreshed below from what is stored; these values are never used.
                values: tuple[Any, ...] = (
                    "unfulfilled",
                    0,
                    None,
                    None,
                    0,
                    None,
                    None,
                    None,
                    None,
                    "",
                )
            else:
                values = _new_summary(fields, record.shipments, carriers)
            groups.setdefault(columns, []).append(
                (self.source, record.external_id, *fields.values(), now, now, *values)
            )
        returned: list[Any] = []
        for columns, rows in groups.items():
            returned.extend(self._order_statement(columns).run(self.conn, rows) or ())
        if returning:
            created = {r.external_id: r.id for r in returned if r.inserted}
            existing = {r.external_id: r.id for r in returned if not r.inserted}
        else:
            created = self._ids_for([r.external_id for r in batch if r.external_id not in existing])
        ids = {**existing, **created}
        seen = self._seen
        self.tally.orders_created += len(created)
        self.tally.orders_updated += sum(1 for oid in existing.values() if oid not in seen)

        self._write_lines(batch, ids, existing)
        attach: list[tuple[int, ShipmentRecord, tuple[str | None, list[str] | None]]] = []
        for position, record in enumerate(batch):
            oid = ids[record.external_id]
            for shipment, carrier in zip(record.shipments, resolved[position], strict=True):
                attach.append((oid, shipment, carrier))
        stored_orders = {oid for oid in existing.values()}
        changes = self._attach(attach, stored_orders)
        if existing:
            summary.refresh_orders(self.conn, existing.values(), now=now)
        seen.update(ids.values())
        self._touch(ids.values())
        self._notify(changes)

    def _write_lines(
        self, batch: list[OrderRecord], ids: dict[str, int], existing: dict[str, int]
    ) -> None:
        seen = self._seen
        replace = [
            existing[r.external_id]
            for r in batch
            if r.lines is not None
            and r.external_id in existing
            and existing[r.external_id] not in seen
        ]
        if replace:
            self.conn.execute(sa.delete(_items).where(self._in(_items.c.order_id, replace)))
        rows: list[tuple[Any, ...]] = []
        for record in batch:
            if not record.lines:
                continue
            oid = ids[record.external_id]
            start = self._next_position(oid) if oid in seen else 0
            for offset, (sku, name, qty, price) in enumerate(record.lines):
                rows.append((oid, start + offset, sku, name, qty, price))
        if rows:
            self._bulk("lines", lambda: insert_statement(self.conn, _items, _LINE_COLUMNS)).run(
                self.conn, rows
            )
            self.tally.line_items += len(rows)

    def _next_position(self, order_id: int) -> int:
        value = self.conn.execute(
            sa.select(sa.func.max(_items.c.position)).where(_items.c.order_id == order_id)
        ).scalar()
        return 0 if value is None else int(value) + 1

    # -- shipments ----------------------------------------------------------------

    def _attach(
        self,
        attach: list[tuple[int, ShipmentRecord, tuple[str | None, list[str] | None]]],
        stored_orders: set[int],
    ) -> list[Change]:
        """Create the shipments not stored yet; name the carrier of stored ones that had none."""
        if not attach:
            return []
        now = self.now
        lookup = sorted({oid for oid, _, _ in attach if oid in stored_orders or oid in self._seen})
        stored: dict[tuple[int, str], tuple[int, str | None, datetime | None]] = {}
        if lookup:
            for row in self.conn.execute(
                sa.select(
                    _shipments.c.order_id,
                    _shipments.c.tracking_number,
                    _shipments.c.id,
                    _shipments.c.carrier,
                    _shipments.c.shipped_at,
                ).where(self._in(_shipments.c.order_id, lookup))
            ):
                stored[(row.order_id, row.tracking_number)] = (row.id, row.carrier, row.shipped_at)
        new_rows: list[tuple[Any, ...]] = []
        new_keys: set[tuple[int, str]] = set()
        named: list[dict[str, Any]] = []
        dated: list[dict[str, Any]] = []
        for oid, shipment, (code, candidates) in attach:
            key = (oid, shipment.tracking_number)
            if key in new_keys:
                continue
            known = stored.get(key)
            if known is None:
                new_keys.add(key)
                new_rows.append(
                    (
                        oid,
                        code,
                        candidates,
                        shipment.tracking_number,
                        _PENDING,
                        shipment.shipped_at,
                        now,
                        now,
                        now,
                    )
                )
                continue
            if known[1] is None and code is not None:
                named.append({"b_id": known[0], "b_carrier": code, "b_now": now})
            if known[2] is None and shipment.shipped_at is not None:
                dated.append({"b_id": known[0], "b_shipped": shipment.shipped_at, "b_now": now})
        where = _shipments.c.id == sa.bindparam("b_id")
        if named:
            # The file names the carrier of a shipment detection could not place.
            self.conn.execute(
                sa.update(_shipments)
                .where(where, _shipments.c.carrier.is_(None))
                .values(
                    carrier=sa.bindparam("b_carrier"),
                    carrier_candidates=None,
                    updated_at=sa.bindparam("b_now"),
                ),
                named,
            )
        if dated:
            self.conn.execute(
                sa.update(_shipments)
                .where(where, _shipments.c.shipped_at.is_(None))
                .values(shipped_at=sa.bindparam("b_shipped"), updated_at=sa.bindparam("b_now")),
                dated,
            )
        changes: list[Change] = []
        if new_rows:
            self._bulk(
                "shipments",
                lambda: upsert_statement(
                    self.conn,
                    _shipments,
                    _SHIPMENT_COLUMNS,
                    conflict=("order_id", "tracking_number"),
                ),
            ).run(self.conn, new_rows)
            orders = sorted({oid for oid, _ in new_keys})
            for row in self.conn.execute(
                sa.select(_shipments.c.id, _shipments.c.order_id, _shipments.c.tracking_number)
                .where(self._in(_shipments.c.order_id, orders), _shipments.c.created_at == now)
                .order_by(_shipments.c.id)
            ):
                if (row.order_id, row.tracking_number) in new_keys:
                    changes.append(
                        ShipmentChange(
                            order_id=row.order_id,
                            shipment_id=row.id,
                            at=now,
                            old_status=None,
                            new_status=_PENDING,
                            origin="ingest",
                        )
                    )
            self.tally.shipments_created += len(changes)
        return changes

    def _notify(self, changes: list[Change]) -> None:
        if changes and self.on_changes is not None:
            self.on_changes(self.conn, changes)

    # -- tracking files -----------------------------------------------------------

    def _flush_tracking(self) -> None:
        batch = self._tracking
        self._tracking = []
        wanted: set[str] = set()
        for record in batch:
            wanted.update(_number_variants(record.number))
        candidates: dict[str, list[tuple[int, str]]] = {}
        for row in self.conn.execute(
            sa.select(_orders.c.id, _orders.c.number, _orders.c.source).where(
                self._in(_orders.c.number, sorted(wanted))
            )
        ):
            candidates.setdefault(row.number, []).append((row.id, row.source))
        attach: list[tuple[int, ShipmentRecord, tuple[str | None, list[str] | None]]] = []
        for record in batch:
            found: dict[int, str] = {}
            for variant in _number_variants(record.number):
                for oid, source in candidates.get(variant, ()):
                    found[oid] = source
            mine = [oid for oid, source in found.items() if source == self.source]
            if len(mine) == 1:
                oid = mine[0]
            elif not mine and len(found) == 1:
                oid = next(iter(found))
            elif not found:
                self.reject(
                    RowError(
                        self.file,
                        record.row,
                        None,
                        f"no order {record.number} in the store; import the order before its "
                        "tracking number",
                    )
                )
                continue
            else:
                sources = ", ".join(sorted(set(found.values())))
                self.reject(
                    RowError(
                        self.file,
                        record.row,
                        None,
                        f"order {record.number} exists in several sources ({sources}); "
                        "import this file with --source naming one",
                    )
                )
                continue
            attach.append((oid, record.shipment, self._carrier(record.shipment)))
        if not attach:
            return
        orders = {oid for oid, _, _ in attach}
        changes = self._attach(attach, orders)
        summary.refresh_orders(self.conn, orders, now=self.now)
        self._touch(orders)
        self._notify(changes)


def _number_variants(number: str) -> tuple[str, ...]:
    bare = number.strip().lstrip("#")
    return (number, bare, "#" + bare)


def _merge(known: OrderRecord, later: OrderRecord) -> None:
    """The same order twice in one batch: later fields win, rows add up."""
    known.fields.update(later.fields)
    if later.lines is not None:
        if known.lines is None:
            known.lines = list(later.lines)
        else:
            known.lines.extend(later.lines)
    for shipment in later.shipments:
        if all(shipment.tracking_number != s.tracking_number for s in known.shipments):
            known.shipments.append(shipment)


_UNFULFILLED_RANK = summary.ORDER_STATUS_RANK[ORDER_UNFULFILLED]
_CANCELLED_RANK = summary.ORDER_STATUS_RANK[ORDER_CANCELLED]


def _new_summary(
    fields: dict[str, Any],
    shipments: list[ShipmentRecord],
    carriers: list[tuple[str | None, list[str] | None]],
) -> tuple[Any, ...]:
    if not shipments:
        # What summarize() gives an order with no shipment and no attention item
        # (a test holds the two together), without building its inputs.
        text = summary.search_text(
            fields.get("number"),
            fields.get("customer_name"),
            fields.get("email"),
            fields.get("phone"),
            fields.get("phone_e164"),
            fields.get("ship_name"),
        )
        if fields.get("cancelled_at") is not None:
            return (ORDER_CANCELLED, _CANCELLED_RANK, None, None, 0, None, None, None, None, text)
        return (ORDER_UNFULFILLED, _UNFULFILLED_RANK, None, None, 0, None, None, None, None, text)
    rows = [
        {
            "id": i,
            "carrier": code,
            "tracking_number": s.tracking_number,
            "status": _PENDING,
            "estimated_delivery": None,
            "last_scan_at": None,
        }
        for i, (s, (code, _)) in enumerate(zip(shipments, carriers, strict=True))
    ]
    values = summary.summarize(fields, rows, [])
    return tuple(values[c] for c in SUMMARY_COLUMNS)
