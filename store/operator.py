"""What a person does to the store from the console (or a script): intents.

Each function runs inside the caller's write transaction and leaves the store
consistent on its own: it refreshes the order summary when attention changed,
records the change for the feed (:func:`store.changes.record`) so every open
console repaints, and writes an :class:`~store.models.AuditEntry` naming who did it.
The sync engine acts on the intents (``poll_now`` moves ``next_poll_at``; it
does not poll).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from store import attention, changes
from store.errors import NotFoundError, OrderdeckError
from store.models import AttentionItem, AuditEntry, OrderNote, Shipment
from store.summary import refresh_orders
from store.types import utcnow

_audit = AuditEntry.__table__  # type: ignore[attr-defined]
_notes = OrderNote.__table__  # type: ignore[attr-defined]
_shipments = Shipment.__table__  # type: ignore[attr-defined]
_attention = AttentionItem.__table__  # type: ignore[attr-defined]

#: Longest operator note, in characters.
NOTE_MAX = 4000


class IntentError(OrderdeckError):
    """An action that cannot be done as asked (the message says why)."""


def audit(
    conn: Connection,
    *,
    actor: str,
    action: str,
    order_id: int | None = None,
    shipment_id: int | None = None,
    notification_id: int | None = None,
    detail: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> None:
    conn.execute(
        sa.insert(_audit).values(
            at=now or utcnow(),
            actor=actor,
            action=action,
            order_id=order_id,
            shipment_id=shipment_id,
            notification_id=notification_id,
            detail=detail,
        )
    )


def add_note(
    conn: Connection, order_id: int, body: str, *, actor: str, now: datetime | None = None
) -> int:
    text = body.strip()
    if not text:
        raise IntentError("a note needs some text")
    if len(text) > NOTE_MAX:
        raise IntentError(f"a note holds at most {NOTE_MAX} characters (this one has {len(text)})")
    now = now or utcnow()
    note_id = conn.execute(
        sa.insert(_notes)
        .values(order_id=order_id, author=actor, body=text, created_at=now)
        .returning(_notes.c.id)
    ).scalar_one()
    audit(
        conn,
        actor=actor,
        action="note.add",
        order_id=order_id,
        detail={"note_id": note_id},
        now=now,
    )
    changes.record(conn, "note", [order_id])
    return int(note_id)


def poll_now(conn: Connection, shipment_id: int, *, actor: str, now: datetime | None = None) -> int:
    """Make the shipment due now; returns its order id."""
    now = now or utcnow()
    row = conn.execute(
        sa.update(_shipments)
        .where(_shipments.c.id == shipment_id)
        .values(next_poll_at=now)
        .returning(_shipments.c.order_id, _shipments.c.tracking_number)
    ).first()
    if row is None:
        raise NotFoundError(f"no shipment {shipment_id}")
    order_id, tracking = int(row[0]), row[1]
    audit(
        conn,
        actor=actor,
        action="shipment.poll_now",
        order_id=order_id,
        shipment_id=shipment_id,
        detail={"tracking_number": tracking},
        now=now,
    )
    changes.record(conn, "poll_now", [order_id])
    return order_id


def _open_item(conn: Connection, item_id: int) -> Any:
    row = conn.execute(sa.select(_attention).where(_attention.c.id == item_id)).mappings().first()
    if row is None:
        raise NotFoundError(f"no attention item {item_id}")
    if row["resolved_at"] is not None:
        raise IntentError(
            f"attention item {item_id} ({row['reason']}) was already resolved by "
            f"{row['resolved_by'] or 'someone'}"
        )
    return row


def resolve_attention(
    conn: Connection,
    item_id: int,
    *,
    actor: str,
    resolution: str = "resolved",
    now: datetime | None = None,
) -> int:
    """Close an open item; returns its order id."""
    now = now or utcnow()
    item = _open_item(conn, item_id)
    order_id = attention.resolve(conn, item_id, by=actor, resolution=resolution, now=now)
    if order_id is None:  # resolved by someone else a moment ago
        raise IntentError(f"attention item {item_id} is no longer open")
    refresh_orders(conn, [order_id], now=now)
    audit(
        conn,
        actor=actor,
        action="attention.resolve",
        order_id=order_id,
        shipment_id=item["shipment_id"],
        detail={"item_id": item_id, "reason": item["reason"], "resolution": resolution},
        now=now,
    )
    changes.record(conn, "attention", [order_id])
    return order_id


def snooze_attention(
    conn: Connection, item_id: int, until: datetime, *, actor: str, now: datetime | None = None
) -> int:
    """Hide an open item until ``until``; returns its order id."""
    now = now or utcnow()
    if until <= now:
        raise IntentError("snooze until a time in the future")
    item = _open_item(conn, item_id)
    order_id = attention.snooze(conn, item_id, until)
    if order_id is None:
        raise IntentError(f"attention item {item_id} is no longer open")
    refresh_orders(conn, [order_id], now=now)
    audit(
        conn,
        actor=actor,
        action="attention.snooze",
        order_id=order_id,
        shipment_id=item["shipment_id"],
        detail={"item_id": item_id, "reason": item["reason"], "until": until.isoformat()},
        now=now,
    )
    changes.record(conn, "attention", [order_id])
    return order_id
