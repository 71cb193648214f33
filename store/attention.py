"""Raising, clearing, resolving and snoozing attention items.

Machines raise and clear (the poller, the dispatcher, ingest); people resolve
and snooze (the console, the CLI). A machine clears an item when its cause went
away; a person resolves it when they dealt with it. Callers refresh the order
summary (:func:`store.summary.refresh_orders`) in the same transaction.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from store import upsert
from store.models import AttentionItem
from store.types import utcnow

_table = AttentionItem.__table__  # type: ignore[attr-defined]


def key_for(
    *,
    shipment_id: int | None = None,
    order_id: int | None = None,
    notification_id: int | None = None,
) -> str:
    if notification_id is not None:
        return f"n:{notification_id}"
    if shipment_id is not None:
        return f"s:{shipment_id}"
    if order_id is not None:
        return f"o:{order_id}"
    raise ValueError("an attention item is about a shipment, an order or a notification")


def raise_item(
    conn: Connection,
    *,
    order_id: int,
    reason: str,
    shipment_id: int | None = None,
    notification_id: int | None = None,
    detail: str | None = None,
    now: datetime | None = None,
) -> int | None:
    """Open an item unless the same one is open already; returns the new id, or None."""
    key = key_for(shipment_id=shipment_id, order_id=order_id, notification_id=notification_id)
    stmt = (
        upsert.insert(conn, _table)
        .values(
            order_id=order_id,
            shipment_id=shipment_id,
            notification_id=notification_id,
            reason=reason,
            key=key,
            detail=detail,
            raised_at=now or utcnow(),
        )
        .on_conflict_do_nothing(
            index_elements=[_table.c.reason, _table.c.key],
            index_where=_table.c.resolved_at.is_(None),
        )
        .returning(_table.c.id)
    )
    row = conn.execute(stmt).first()
    return int(row[0]) if row else None


def clear(
    conn: Connection,
    *,
    key: str,
    reasons: Iterable[str],
    now: datetime | None = None,
    by: str = "orderdeck",
    resolution: str = "cleared: the cause went away",
) -> int:
    """Close open items of ``reasons`` for ``key``; returns how many closed."""
    reasons = list(reasons)
    if not reasons:
        return 0
    result = conn.execute(
        sa.update(_table)
        .where(_table.c.key == key, _table.c.reason.in_(reasons), _table.c.resolved_at.is_(None))
        .values(resolved_at=now or utcnow(), resolved_by=by, resolution=resolution)
    )
    return result.rowcount or 0


def open_reasons(conn: Connection, key: str) -> set[str]:
    rows = conn.execute(
        sa.select(_table.c.reason).where(_table.c.key == key, _table.c.resolved_at.is_(None))
    )
    return {r[0] for r in rows}


def resolve(
    conn: Connection,
    item_id: int,
    *,
    by: str,
    resolution: str = "resolved",
    now: datetime | None = None,
) -> int | None:
    """A person dealt with it; returns the order id, or None if it was not open."""
    row = conn.execute(
        sa.update(_table)
        .where(_table.c.id == item_id, _table.c.resolved_at.is_(None))
        .values(resolved_at=now or utcnow(), resolved_by=by, resolution=resolution)
        .returning(_table.c.order_id)
    ).first()
    return int(row[0]) if row else None


def snooze(conn: Connection, item_id: int, until: datetime) -> int | None:
    row = conn.execute(
        sa.update(_table)
        .where(_table.c.id == item_id, _table.c.resolved_at.is_(None))
        .values(snoozed_until=until)
        .returning(_table.c.order_id)
    ).first()
    return int(row[0]) if row else None
