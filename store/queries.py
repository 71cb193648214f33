"""Read queries shared by the command line and the console."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from store import search
from store.errors import NotFoundError, OrderdeckError
from store.heartbeat import process_gone
from store.models import (
    AttentionItem,
    CarrierState,
    IngestedFile,
    LineItem,
    Notification,
    Order,
    Shipment,
    WorkerHeartbeat,
)
from store.statuses import NotificationState
from store.types import utcnow


@dataclass(frozen=True)
class OrderFilter:
    status: str | None = None
    carrier: str | None = None
    attention: str | None = None  # a reason, or "any"
    search: str | None = None
    source: str | None = None
    limit: int = 50


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def search_condition(text: str, dialect: str = "postgresql") -> Any:
    """Substring, case- and accent-insensitive, over the order's search text
    (through the search index of ``dialect``: see :mod:`store.search`)."""
    return search.condition(dialect, text) if search.needle(text) else sa.true()


def list_orders(session: Session, flt: OrderFilter) -> list[Order]:
    query = select(Order)
    if flt.status:
        query = query.where(Order.status == flt.status)
    if flt.carrier:
        query = query.where(
            col(Order.id).in_(select(Shipment.order_id).where(Shipment.carrier == flt.carrier))
        )
    if flt.attention:
        if flt.attention == "any":
            query = query.where(col(Order.attention).is_not(None))
        else:
            query = query.where(Order.attention == flt.attention)
    if flt.source:
        query = query.where(Order.source == flt.source)
    if flt.search:
        dialect = session.get_bind().dialect.name
        found = search.condition(dialect, flt.search, session.connection())
        if found is not None:
            query = query.where(found)
    query = query.order_by(col(Order.changed_at).desc(), col(Order.id).desc()).limit(flt.limit)
    return list(session.exec(query))


def find_order(session: Session, number: str, source: str | None = None) -> Order:
    """An order by its display number, with or without the leading ``#``."""
    wanted = number.strip()
    variants = {wanted, wanted.lstrip("#"), "#" + wanted.lstrip("#")}
    query = select(Order).where(col(Order.number).in_(variants))
    if source:
        query = query.where(Order.source == source)
    found = list(session.exec(query.order_by(col(Order.id))))
    if not found:
        found = list(
            session.exec(select(Order).where(col(Order.external_id).in_(variants)).limit(2))
        )
    if not found:
        where = f" from source {source!r}" if source else ""
        raise NotFoundError(f"no order {wanted!r}{where}")
    if len(found) > 1:
        sources = ", ".join(sorted({o.source for o in found}))
        raise OrderdeckError(
            f"order number {wanted!r} exists in several sources ({sources}); name one with --source"
        )
    return found[0]


def orders_as_dicts(session: Session, orders: list[Order]) -> list[dict[str, Any]]:
    """The JSON shape scripts rely on (see README, "JSON output")."""
    ids = [o.id for o in orders]
    items: dict[int, list[LineItem]] = defaultdict(list)
    shipments: dict[int, list[Shipment]] = defaultdict(list)
    if ids:
        for item in session.exec(
            select(LineItem)
            .where(col(LineItem.order_id).in_(ids))
            .order_by(col(LineItem.order_id), col(LineItem.position), col(LineItem.id))
        ):
            items[item.order_id].append(item)
        for shipment in session.exec(
            select(Shipment).where(col(Shipment.order_id).in_(ids)).order_by(col(Shipment.id))
        ):
            shipments[shipment.order_id].append(shipment)
    return [order_dict(o, items[o.id or 0], shipments[o.id or 0]) for o in orders]


def order_dict(order: Order, items: list[LineItem], shipments: list[Shipment]) -> dict[str, Any]:
    return {
        "number": order.number,
        "source": order.source,
        "external_id": order.external_id,
        "customer_name": order.customer_name,
        "email": order.email,
        "email_valid": order.email_valid,
        "phone": order.phone,
        "phone_e164": order.phone_e164,
        "phone_valid": order.phone_valid,
        "financial_status": order.financial_status,
        "fulfillment_status": order.fulfillment_status,
        "created_at": _iso(order.created_at),
        "cancelled_at": _iso(order.cancelled_at),
        "total": order.total,
        "currency": order.currency,
        "status": order.status,
        "attention": order.attention,
        "shipping_address": {
            "name": order.ship_name,
            "company": order.ship_company,
            "address1": order.ship_address1,
            "address2": order.ship_address2,
            "city": order.ship_city,
            "province": order.ship_province,
            "zip": order.ship_zip,
            "country": order.ship_country,
            "phone": order.ship_phone,
        },
        "tags": order.tags,
        "note": order.note,
        "line_items": [
            {"sku": i.sku, "name": i.name, "quantity": i.quantity, "price": i.unit_price}
            for i in items
        ],
        "shipments": [
            {
                "carrier": s.carrier,
                "tracking_number": s.tracking_number,
                "status": s.status,
                "substatus": s.substatus,
                "estimated_delivery": _iso(s.estimated_delivery),
                "original_estimated_delivery": _iso(s.original_estimated_delivery),
                "last_scan_at": _iso(s.last_scan_at),
                "delivered_at": _iso(s.delivered_at),
                "attention": s.attention,
            }
            for s in shipments
        ],
    }


def status_summary(session: Session, *, heartbeat_fresh: timedelta) -> dict[str, Any]:
    """Health at a glance, for ``orderdeck status`` and the console header."""
    now = utcnow()

    def count(query: Any) -> int:
        return int(session.exec(query).one())

    orders = count(select(sa.func.count()).select_from(Order))
    shipments_by_status = dict(
        session.exec(select(Shipment.status, sa.func.count()).group_by(Shipment.status)).all()
    )
    due = count(
        select(sa.func.count())
        .select_from(Shipment)
        .where(col(Shipment.next_poll_at).is_not(None), col(Shipment.next_poll_at) <= now)
    )
    notifications = dict(
        session.exec(select(Notification.state, sa.func.count()).group_by(Notification.state)).all()
    )
    attention = dict(
        session.exec(
            select(AttentionItem.reason, sa.func.count())
            .where(
                col(AttentionItem.resolved_at).is_(None),
                sa.or_(
                    col(AttentionItem.snoozed_until).is_(None),
                    col(AttentionItem.snoozed_until) <= now,
                ),
            )
            .group_by(AttentionItem.reason)
        ).all()
    )
    workers = []
    for hb in session.exec(select(WorkerHeartbeat).order_by(col(WorkerHeartbeat.last_seen).desc())):
        gone = hb.state != "stopped" and process_gone(hb.host, hb.pid)
        alive = hb.state != "stopped" and now - hb.last_seen <= heartbeat_fresh and not gone
        workers.append(
            {
                "worker_id": hb.worker_id,
                "role": hb.role,
                "host": hb.host,
                "pid": hb.pid,
                "version": hb.version,
                "state": "dead"
                if gone
                else (hb.state if alive or hb.state == "stopped" else "stale"),
                "alive": alive,
                "started_at": _iso(hb.started_at),
                "last_seen": _iso(hb.last_seen),
                "counters": hb.counters or {},
                "errors": hb.errors or {},
            }
        )
    carriers = [
        {
            "carrier": c.carrier,
            "circuit": c.circuit,
            "auth_error": c.auth_error,
            "last_error": c.last_error,
            "last_error_at": _iso(c.last_error_at),
            "last_success_at": _iso(c.last_success_at),
        }
        for c in session.exec(select(CarrierState).order_by(col(CarrierState.carrier)))
    ]
    last_poll = session.exec(select(sa.func.max(Shipment.last_polled_at))).one()
    last_file = session.exec(
        select(IngestedFile).order_by(col(IngestedFile.started_at).desc()).limit(1)
    ).first()
    return {
        "orders": orders,
        "shipments": sum(shipments_by_status.values()),
        "shipments_by_status": shipments_by_status,
        "due_polls": due,
        "last_poll_at": _iso(last_poll),
        "notifications": notifications,
        "pending_notifications": notifications.get(NotificationState.PENDING, 0),
        "attention": attention,
        "attention_total": sum(attention.values()),
        "workers": workers,
        "workers_alive": sum(1 for w in workers if w["alive"]),
        "carriers": carriers,
        "last_ingest": (
            {
                "path": last_file.path,
                "outcome": last_file.outcome,
                "at": _iso(last_file.finished_at or last_file.started_at),
            }
            if last_file
            else None
        ),
    }
