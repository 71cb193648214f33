"""Models round-trip and their constraints hold, on SQLite and PostgreSQL alike."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from store import changes, summary
from store.engine import Store
from store.models import (
    AttentionItem,
    AuditEntry,
    IngestedFile,
    LineItem,
    Notification,
    Order,
    Shipment,
    TrackingEvent,
    WorkerHeartbeat,
)
from store.statuses import NotificationState, ShipmentStatus

T0 = datetime(2026, 11, 7, 19, 8, 25, tzinfo=UTC)


def _order(**kw: object) -> Order:
    values: dict[str, object] = dict(
        source="shopify-main",
        external_id="5001",
        number="#1001",
        created_at=T0,
        customer_name="José Müller [bold]x[/bold]",
        email="Jose@Example.COM",
        phone="+44 20 7946 0958",
        currency="EUR",
        total="129.90",
        financial_status="paid",
        fulfillment_status="fulfilled",
        tags="vip, gift",
        note="leave at door 🚪",
    )
    values.update(kw)
    return Order(**values)  # type: ignore[arg-type]


def test_order_graph_round_trips(store: Store) -> None:
    with store.write() as s:
        order = _order()
        s.add(order)
        s.flush()
        s.add(
            LineItem(
                order_id=order.id,
                position=0,
                sku="MUG-1",
                name="Mug",
                quantity=2,
                unit_price="9.95",
            )
        )
        shipment = Shipment(
            order_id=order.id,
            carrier="ups",
            tracking_number="1Z999AA10123456784",
            estimated_delivery=T0 + timedelta(days=3),
            carrier_candidates=["ups"],
        )
        s.add(shipment)
        s.flush()
        s.add(
            TrackingEvent(
                shipment_id=shipment.id,
                occurred_at=datetime(2026, 11, 8, 9, 0, tzinfo=timezone(timedelta(hours=-5))),
                utc_offset_minutes=-300,
                status=ShipmentStatus.IN_TRANSIT,
                description="Departed facility",
                location="Louisville, KY",
                raw={"code": "DP", "nested": [1, 2]},
                dedupe_hash="h1",
            )
        )
        order_id, shipment_id = order.id, shipment.id

    with store.read() as s:
        got = s.exec(select(Order).where(Order.id == order_id)).one()
        assert got.customer_name == "José Müller [bold]x[/bold]"
        assert got.created_at == T0 and got.created_at.tzinfo is not None
        assert got.total == "129.90"
        event = s.exec(select(TrackingEvent).where(TrackingEvent.shipment_id == shipment_id)).one()
        assert event.occurred_at == datetime(2026, 11, 8, 14, 0, tzinfo=UTC)
        assert event.raw == {"code": "DP", "nested": [1, 2]}
        shipment = s.get(Shipment, shipment_id)
        assert shipment is not None and shipment.carrier_candidates == ["ups"]
        assert shipment.status == "pending" and shipment.poll_failures == 0


def test_order_is_unique_per_source_and_external_id(store: Store) -> None:
    with store.write() as s:
        s.add(_order())
    with pytest.raises(IntegrityError), store.write() as s:
        s.add(_order(number="#1001-dup"))
    with store.write() as s:  # another source may reuse the id
        s.add(_order(source="woo"))
    with store.read() as s:
        assert len(s.exec(select(Order)).all()) == 2


def test_tracking_event_dedupe_and_notification_key_are_unique(store: Store) -> None:
    with store.write() as s:
        order = _order()
        s.add(order)
        s.flush()
        shipment = Shipment(order_id=order.id, tracking_number="X1")
        s.add(shipment)
        s.flush()
        s.add(
            TrackingEvent(
                shipment_id=shipment.id, occurred_at=T0, status="in_transit", dedupe_hash="same"
            )
        )
        s.add(Notification(order_id=order.id, event="shipped", channel="email", dedupe_key="k1"))
        ids = (order.id, shipment.id)
    with pytest.raises(IntegrityError), store.write() as s:
        s.add(
            TrackingEvent(
                shipment_id=ids[1], occurred_at=T0, status="in_transit", dedupe_hash="same"
            )
        )
    with pytest.raises(IntegrityError), store.write() as s:
        s.add(Notification(order_id=ids[0], event="shipped", channel="email", dedupe_key="k1"))


def test_one_open_attention_item_per_reason_and_key(store: Store) -> None:
    with store.write() as s:
        order = _order()
        s.add(order)
        s.flush()
        s.add(AttentionItem(order_id=order.id, reason="late", key="s:1"))
        oid = order.id
    with pytest.raises(IntegrityError), store.write() as s:
        s.add(AttentionItem(order_id=oid, reason="late", key="s:1"))
    with store.write() as s:
        item = s.exec(select(AttentionItem)).one()
        item.resolved_at = T0
        s.add(item)
    with store.write() as s:  # resolved items do not block a new one
        s.add(AttentionItem(order_id=oid, reason="late", key="s:1"))


def test_deleting_an_order_cascades(store: Store) -> None:
    with store.write() as s:
        order = _order()
        s.add(order)
        s.flush()
        s.add(LineItem(order_id=order.id, name="Mug"))
        s.add(Shipment(order_id=order.id, tracking_number="X1"))
        oid = order.id
    with store.write() as s:
        s.delete(s.get(Order, oid))
    with store.read() as s:
        assert s.exec(select(LineItem)).all() == []
        assert s.exec(select(Shipment)).all() == []


def test_bulk_core_insert_gets_defaults(store: Store) -> None:
    """Bulk writers leave columns out; the server defaults match the model's."""
    table = Order.__table__  # type: ignore[attr-defined]
    with store.write_connection() as conn:
        conn.execute(
            sa.insert(table),
            [
                {
                    "source": "s",
                    "external_id": str(i),
                    "number": f"#{i}",
                    "imported_at": T0,
                    "changed_at": T0,
                }
                for i in range(3)
            ],
        )
    with store.read() as s:
        rows = s.exec(select(Order)).all()
        assert [r.status for r in rows] == ["unfulfilled"] * 3
        assert all(r.shipment_count == 0 and r.search_text == "" for r in rows)


def test_other_tables_round_trip(store: Store) -> None:
    with store.write() as s:
        s.add(
            IngestedFile(
                path="/drop/a.csv", sha256="ab" * 32, outcome="processed", errors=[{"row": 3}]
            )
        )
        s.add(AuditEntry(actor="alice", action="resend", detail={"id": 1}))
        s.add(WorkerHeartbeat(worker_id="w1", role="sync", host="h", pid=1, counters={"polls": 3}))
        s.add(
            Notification(
                event="attention", channel="team", dedupe_key="t1", state=NotificationState.SENT
            )
        )
    with store.read() as s:
        assert s.exec(select(IngestedFile)).one().errors == [{"row": 3}]
        assert s.exec(select(WorkerHeartbeat)).one().counters == {"polls": 3}


def test_summary_follows_shipments_and_attention(store: Store) -> None:
    with store.write() as s:
        order = _order()
        s.add(order)
        s.flush()
        oid = order.id
        s.add(Shipment(order_id=oid, carrier="ups", tracking_number="1Z1", status="delivered"))
        s.add(
            Shipment(
                order_id=oid,
                carrier="dhl",
                tracking_number="JD0002",
                status="in_transit",
                estimated_delivery=T0 + timedelta(days=2),
                last_scan_at=T0,
            )
        )
        s.add(AttentionItem(order_id=oid, reason="stalled", key="s:2", raised_at=T0))
        s.add(
            AttentionItem(
                order_id=oid, reason="exception", key="s:2", raised_at=T0 + timedelta(hours=1)
            )
        )
        s.flush()
        summary.refresh_orders(s.connection(), [oid])
        changes.record(s.connection(), "test", [oid])
    with store.read() as s:
        got = s.get(Order, oid)
        assert got is not None
        assert (got.status, got.carrier, got.tracking_number) == ("in_transit", "dhl", "JD0002")
        assert got.shipment_count == 2
        assert got.estimated_delivery == T0 + timedelta(days=2)
        assert got.attention == "exception"
        assert "jose muller" in got.search_text and "jd0002" in got.search_text


def test_attention_raise_is_idempotent_and_clear_reopens(store: Store) -> None:
    from store import attention

    with store.write() as s:
        order = _order()
        s.add(order)
        s.flush()
        oid = order.id
        conn = s.connection()
        first = attention.raise_item(conn, order_id=oid, reason="late", shipment_id=None)
        again = attention.raise_item(conn, order_id=oid, reason="late")
        assert first is not None and again is None
        assert attention.open_reasons(conn, f"o:{oid}") == {"late"}
        assert attention.clear(conn, key=f"o:{oid}", reasons=["late"]) == 1
        assert attention.raise_item(conn, order_id=oid, reason="late") is not None
