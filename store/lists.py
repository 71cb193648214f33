"""The notification log and the attention queue as pageable listings.

Like the board (:mod:`store.board`), each is a :class:`store.keyset.Listing`, so
the console pages them by key and a window costs the same at any size.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, RowMapping

from store.keyset import Key, Listing
from store.models import AttentionItem, Notification, NotificationAttempt, Order
from store.statuses import ATTENTION_PRIORITY
from store.summary import fold

_orders = Order.__table__  # type: ignore[attr-defined]
_notifications = Notification.__table__  # type: ignore[attr-defined]
_attempts = NotificationAttempt.__table__  # type: ignore[attr-defined]
_attention = AttentionItem.__table__  # type: ignore[attr-defined]


def _contains(column: Any, text: str) -> Any:
    needle = fold(text.strip())
    escaped = needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return sa.func.lower(column).like(f"%{escaped}%", escape="\\")


# -- notifications -------------------------------------------------------------


@dataclass(frozen=True)
class NotificationQuery:
    state: str | None = None
    channel: str | None = None
    order_id: int | None = None
    #: Substring of the recipient (address or number).
    recipient: str | None = None


@dataclass(frozen=True)
class NotificationRow:
    id: int
    order_id: int | None
    order_number: str | None
    event: str
    channel: str
    recipient: str | None
    state: str
    attempts: int
    created_at: datetime
    sent_at: datetime | None
    last_error: str | None
    resend_of: int | None
    key: Key


def notification_listing(query: NotificationQuery) -> Listing:
    n = _notifications
    where: list[Any] = []
    if query.state:
        where.append(n.c.state == query.state)
    if query.channel:
        where.append(n.c.channel == query.channel)
    if query.order_id is not None:
        where.append(n.c.order_id == query.order_id)
    if query.recipient and query.recipient.strip():
        where.append(_contains(n.c.recipient, query.recipient))
    return Listing(
        source=n.outerjoin(_orders, _orders.c.id == n.c.order_id),
        columns=(
            n.c.id,
            n.c.order_id,
            _orders.c.number.label("order_number"),
            n.c.event,
            n.c.channel,
            n.c.recipient,
            n.c.state,
            n.c.attempts,
            n.c.created_at,
            n.c.sent_at,
            n.c.last_error,
            n.c.resend_of,
        ),
        order=(n.c.created_at, n.c.id),
        descending=True,
        where=where,
    )


def notification_row(listing: Listing, row: RowMapping) -> NotificationRow:
    return NotificationRow(
        **{k: row[k] for k in NotificationRow.__dataclass_fields__ if k != "key"},
        key=listing.key_of(row),
    )


def notification_channels(conn: Connection) -> list[str]:
    return sorted(r[0] for r in conn.execute(sa.select(_notifications.c.channel).distinct()))


def attempts_of(conn: Connection, notification_id: int) -> list[dict[str, Any]]:
    rows = conn.execute(
        sa.select(_attempts)
        .where(_attempts.c.notification_id == notification_id)
        .order_by(_attempts.c.attempt, _attempts.c.id)
    ).mappings()
    return [dict(r) for r in rows]


# -- attention queue -----------------------------------------------------------


@dataclass(frozen=True)
class AttentionQuery:
    reason: str | None = None
    #: Also show items snoozed into the future.
    snoozed: bool = False
    now: datetime | None = None


@dataclass(frozen=True)
class AttentionRow:
    id: int
    order_id: int
    order_number: str
    customer_name: str | None
    shipment_id: int | None
    notification_id: int | None
    reason: str
    detail: str | None
    raised_at: datetime
    snoozed_until: datetime | None
    key: Key


#: Where an unknown reason (from a newer version) goes: after every known one.
UNKNOWN_URGENCY = len(ATTENTION_PRIORITY)


def urgency(reason: str) -> int:
    """A reason's place in the queue: most urgent (exceptions, returns) first."""
    return ATTENTION_PRIORITY.get(reason, UNKNOWN_URGENCY)


def attention_listing(query: AttentionQuery) -> Listing:
    """Open items grouped by reason, most urgent reason first, oldest first within each.

    The urgency is a CASE over the reason: open items are few (resolved ones are
    filtered by the leading column of ``ix_attention_queue``), so sorting them by an
    expression costs nothing an index would save.
    """
    a = _attention
    rank = sa.case(
        {str(reason): rank for reason, rank in ATTENTION_PRIORITY.items()},
        value=a.c.reason,
        else_=UNKNOWN_URGENCY,
    )
    where: list[Any] = [a.c.resolved_at.is_(None)]
    if query.reason:
        where.append(a.c.reason == query.reason)
    if not query.snoozed and query.now is not None:
        where.append(sa.or_(a.c.snoozed_until.is_(None), a.c.snoozed_until <= query.now))
    return Listing(
        source=a.join(_orders, _orders.c.id == a.c.order_id),
        columns=(
            a.c.id,
            a.c.order_id,
            _orders.c.number.label("order_number"),
            _orders.c.customer_name,
            a.c.shipment_id,
            a.c.notification_id,
            a.c.reason,
            a.c.detail,
            a.c.raised_at,
            a.c.snoozed_until,
        ),
        order=(rank, a.c.raised_at, a.c.id),
        where=where,
    )


def attention_row(listing: Listing, row: RowMapping) -> AttentionRow:
    return AttentionRow(
        **{k: row[k] for k in AttentionRow.__dataclass_fields__ if k != "key"},
        key=listing.key_of(row),
    )


def attention_counts(conn: Connection, now: datetime) -> dict[str, int]:
    a = _attention
    rows = conn.execute(
        sa.select(a.c.reason, sa.func.count())
        .where(
            a.c.resolved_at.is_(None),
            sa.or_(a.c.snoozed_until.is_(None), a.c.snoozed_until <= now),
        )
        .group_by(a.c.reason)
    )
    return {reason: int(n) for reason, n in rows}
