"""Everything about one order, for the order detail view: its whole story."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from sqlmodel import Session, col, select

from store.errors import NotFoundError
from store.models import (
    AttentionItem,
    AuditEntry,
    EtaRevision,
    LineItem,
    Notification,
    NotificationAttempt,
    Order,
    OrderNote,
    Shipment,
    TrackingEvent,
)


@dataclass
class ShipmentStory:
    shipment: Shipment
    events: list[TrackingEvent] = field(default_factory=list)
    eta_revisions: list[EtaRevision] = field(default_factory=list)


@dataclass
class NotificationStory:
    notification: Notification
    attempts: list[NotificationAttempt] = field(default_factory=list)


@dataclass
class OrderStory:
    order: Order
    items: list[LineItem]
    shipments: list[ShipmentStory]
    attention: list[AttentionItem]
    notes: list[OrderNote]
    audit: list[AuditEntry]
    notifications: list[NotificationStory]

    @property
    def open_attention(self) -> list[AttentionItem]:
        return [a for a in self.attention if a.resolved_at is None]


def load(session: Session, order_id: int, *, audit_limit: int = 200) -> OrderStory:
    order = session.get(Order, order_id)
    if order is None:
        raise NotFoundError(f"order {order_id} is gone (deleted since it was listed)")
    items = list(
        session.exec(
            select(LineItem)
            .where(LineItem.order_id == order_id)
            .order_by(col(LineItem.position), col(LineItem.id))
        )
    )
    shipments = [
        ShipmentStory(s)
        for s in session.exec(
            select(Shipment).where(Shipment.order_id == order_id).order_by(col(Shipment.id))
        )
    ]
    by_id = {s.shipment.id: s for s in shipments}
    if by_id:
        for event in session.exec(
            select(TrackingEvent)
            .where(col(TrackingEvent.shipment_id).in_(by_id))
            .order_by(col(TrackingEvent.occurred_at).desc(), col(TrackingEvent.id).desc())
        ):
            by_id[event.shipment_id].events.append(event)
        for rev in session.exec(
            select(EtaRevision)
            .where(col(EtaRevision.shipment_id).in_(by_id))
            .order_by(col(EtaRevision.recorded_at), col(EtaRevision.id))
        ):
            by_id[rev.shipment_id].eta_revisions.append(rev)
    attention = list(
        session.exec(
            select(AttentionItem)
            .where(AttentionItem.order_id == order_id)
            .order_by(col(AttentionItem.resolved_at).is_not(None), col(AttentionItem.raised_at))
        )
    )
    notes = list(
        session.exec(
            select(OrderNote)
            .where(OrderNote.order_id == order_id)
            .order_by(col(OrderNote.created_at).desc(), col(OrderNote.id).desc())
        )
    )
    audit = list(
        session.exec(
            select(AuditEntry)
            .where(AuditEntry.order_id == order_id)
            .order_by(col(AuditEntry.at).desc(), col(AuditEntry.id).desc())
            .limit(audit_limit)
        )
    )
    notifications = [
        NotificationStory(n)
        for n in session.exec(
            select(Notification)
            .where(Notification.order_id == order_id)
            .order_by(col(Notification.created_at).desc(), col(Notification.id).desc())
        )
    ]
    attempts: dict[int, list[NotificationAttempt]] = defaultdict(list)
    if notifications:
        for attempt in session.exec(
            select(NotificationAttempt)
            .where(
                col(NotificationAttempt.notification_id).in_(
                    [n.notification.id for n in notifications]
                )
            )
            .order_by(col(NotificationAttempt.attempt), col(NotificationAttempt.id))
        ):
            attempts[attempt.notification_id].append(attempt)
        for n in notifications:
            n.attempts = attempts[n.notification.id or 0]
    # Detach everything so the session's closing rollback does not expire it.
    session.expunge_all()
    return OrderStory(order, items, shipments, attention, notes, audit, notifications)
