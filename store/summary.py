"""The order summary the board sorts and filters on, and the text search looks in.

Whoever changes an order's shipments or attention items calls
:func:`refresh_orders` in the same transaction. It recomputes, from the
shipments and open attention items, the order's summary status, carrier,
tracking number, estimated delivery, last scan, most urgent attention reason and
search text.
"""

from __future__ import annotations

import functools
import unicodedata
from collections import defaultdict
from collections.abc import Collection, Iterable
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from store.models import AttentionItem, Order, Shipment
from store.statuses import (
    ATTENTION_PRIORITY,
    ORDER_CANCELLED,
    ORDER_UNFULFILLED,
    STATUS_RANK,
    ShipmentStatus,
)
from store.types import utcnow

_orders = Order.__table__  # type: ignore[attr-defined]
_shipments = Shipment.__table__  # type: ignore[attr-defined]
_attention = AttentionItem.__table__  # type: ignore[attr-defined]

#: Board rank of an order's summary status: what needs a person sorts first.
ORDER_STATUS_RANK: dict[str, int] = {
    ShipmentStatus.EXCEPTION: 0,
    ShipmentStatus.FAILED_ATTEMPT: 1,
    ORDER_UNFULFILLED: 2,
    ShipmentStatus.PENDING: 3,
    ShipmentStatus.INFO_RECEIVED: 4,
    ShipmentStatus.IN_TRANSIT: 5,
    ShipmentStatus.OUT_FOR_DELIVERY: 6,
    ShipmentStatus.AVAILABLE_FOR_PICKUP: 7,
    ShipmentStatus.EXPIRED: 8,
    ShipmentStatus.DELIVERED: 9,
    ORDER_CANCELLED: 10,
}

_CHUNK = 500


#: Letters that Unicode does not decompose into a base letter and an accent.
_UNDECOMPOSED = str.maketrans(
    {"æ": "ae", "ø": "o", "œ": "oe", "ł": "l", "đ": "d", "ð": "d", "þ": "th", "ı": "i", "ħ": "h"}
)


def fold(text: str | None) -> str:
    """Lower-case, accent-free, so ``José`` is found by ``jose`` and ``Ærø`` by ``aero``."""
    if not text:
        return ""
    if text.isascii():
        return text.lower()  # the same as below, without a pass per character
    return _fold_unicode(text)


@functools.lru_cache(maxsize=16384)
def _fold_unicode(text: str) -> str:
    # Cached: names and cities repeat across orders, and a bulk import folds each
    # order's name twice (customer and ship-to).
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()
    return bare.translate(_UNDECOMPOSED)


def search_text(*parts: str | None) -> str:
    return " ".join(fold(p) for p in parts if p)


def _attention_key(reason: str) -> int:
    return ATTENTION_PRIORITY.get(reason, 99)


def summarize(
    order: dict[str, Any], shipments: list[dict[str, Any]], open_reasons: list[tuple[str, datetime]]
) -> dict[str, Any]:
    """The summary columns for one order, from plain rows (testable without a store)."""
    live = [
        s
        for s in shipments
        if s["status"] not in (ShipmentStatus.DELIVERED, ShipmentStatus.EXPIRED)
    ]
    if order.get("cancelled_at") is not None:
        status = ORDER_CANCELLED
        lead = shipments[0] if shipments else None
    elif not shipments:
        status = ORDER_UNFULFILLED
        lead = None
    else:
        lead = min(live or shipments, key=lambda s: (STATUS_RANK.get(s["status"], 99), s["id"]))
        status = lead["status"]
    etas = [s["estimated_delivery"] for s in live if s["estimated_delivery"] is not None]
    if not etas:
        etas = [s["estimated_delivery"] for s in shipments if s["estimated_delivery"] is not None]
    scans = [s["last_scan_at"] for s in shipments if s["last_scan_at"] is not None]
    reason, since = None, None
    if open_reasons:
        reason, since = min(open_reasons, key=lambda r: (_attention_key(r[0]), r[1]))
    carriers = {s["carrier"] for s in shipments if s["carrier"]}
    return {
        "status": status,
        "status_rank": ORDER_STATUS_RANK.get(status, 99),
        "carrier": lead["carrier"] if lead else (carriers.pop() if len(carriers) == 1 else None),
        "tracking_number": lead["tracking_number"] if lead else None,
        "shipment_count": len(shipments),
        "estimated_delivery": min(etas) if etas else None,
        "last_scan_at": max(scans) if scans else None,
        "attention": reason,
        "attention_since": since,
        "search_text": search_text(
            order.get("number"),
            order.get("customer_name"),
            order.get("email"),
            order.get("phone"),
            order.get("phone_e164"),
            order.get("ship_name"),
            *(s["tracking_number"] for s in shipments),
        ),
    }


def refresh_orders(
    conn: Connection, order_ids: Iterable[int], *, now: datetime | None = None, touch: bool = True
) -> None:
    """Recompute the summary of ``order_ids``; ``touch`` also moves ``changed_at`` to now."""
    now = now or utcnow()
    ids = list(dict.fromkeys(order_ids))
    for start in range(0, len(ids), _CHUNK):
        _refresh_chunk(conn, ids[start : start + _CHUNK], now, touch)


def _refresh_chunk(conn: Connection, ids: Collection[int], now: datetime, touch: bool) -> None:
    orders = conn.execute(
        sa.select(
            _orders.c.id,
            _orders.c.number,
            _orders.c.customer_name,
            _orders.c.email,
            _orders.c.phone,
            _orders.c.phone_e164,
            _orders.c.ship_name,
            _orders.c.cancelled_at,
        ).where(_orders.c.id.in_(ids))
    ).mappings()
    by_order: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for row in conn.execute(
        sa.select(
            _shipments.c.id,
            _shipments.c.order_id,
            _shipments.c.carrier,
            _shipments.c.tracking_number,
            _shipments.c.status,
            _shipments.c.estimated_delivery,
            _shipments.c.last_scan_at,
        )
        .where(_shipments.c.order_id.in_(ids))
        .order_by(_shipments.c.id)
    ).mappings():
        by_order[row["order_id"]].append(dict(row))
    reasons: dict[int, list[tuple[str, datetime]]] = defaultdict(list)
    for row in conn.execute(
        sa.select(_attention.c.order_id, _attention.c.reason, _attention.c.raised_at).where(
            _attention.c.order_id.in_(ids),
            _attention.c.resolved_at.is_(None),
            sa.or_(_attention.c.snoozed_until.is_(None), _attention.c.snoozed_until <= now),
        )
    ):
        reasons[row.order_id].append((row.reason, row.raised_at))
    updates = []
    for order in orders:
        values = summarize(dict(order), by_order[order["id"]], reasons[order["id"]])
        values["b_id"] = order["id"]
        if touch:
            values["changed_at"] = now
        updates.append(values)
    if not updates:
        return
    columns = [k for k in updates[0] if k != "b_id"]
    stmt = (
        sa.update(_orders)
        .where(_orders.c.id == sa.bindparam("b_id"))
        .values({c: sa.bindparam(f"v_{c}") for c in columns})
    )
    conn.execute(
        stmt, [{(k if k == "b_id" else f"v_{k}"): v for k, v in u.items()} for u in updates]
    )
