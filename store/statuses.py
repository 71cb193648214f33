"""The normalized vocabularies every room shares: shipment statuses, attention
reasons and notification states. Stored as plain strings; these enums are the
single list of what a valid value is."""

from __future__ import annotations

from enum import StrEnum


class ShipmentStatus(StrEnum):
    PENDING = "pending"
    INFO_RECEIVED = "info_received"
    IN_TRANSIT = "in_transit"
    OUT_FOR_DELIVERY = "out_for_delivery"
    AVAILABLE_FOR_PICKUP = "available_for_pickup"
    FAILED_ATTEMPT = "failed_attempt"
    DELIVERED = "delivered"
    EXCEPTION = "exception"
    EXPIRED = "expired"


#: Statuses after which a shipment is never polled again.
FINAL_STATUSES = frozenset({ShipmentStatus.DELIVERED, ShipmentStatus.EXPIRED})

#: How far along its life a status is; the board sorts by it and an order's
#: summary status is its least advanced live shipment.
STATUS_RANK: dict[str, int] = {
    ShipmentStatus.EXCEPTION: 0,
    ShipmentStatus.FAILED_ATTEMPT: 1,
    ShipmentStatus.PENDING: 2,
    ShipmentStatus.INFO_RECEIVED: 3,
    ShipmentStatus.IN_TRANSIT: 4,
    ShipmentStatus.OUT_FOR_DELIVERY: 5,
    ShipmentStatus.AVAILABLE_FOR_PICKUP: 6,
    ShipmentStatus.EXPIRED: 7,
    ShipmentStatus.DELIVERED: 8,
}

#: Order-level summary statuses that are not shipment statuses.
ORDER_UNFULFILLED = "unfulfilled"
ORDER_CANCELLED = "cancelled"


class AttentionReason(StrEnum):
    LATE = "late"
    STALLED = "stalled"
    NOT_PICKED_UP = "not_picked_up"
    UNFULFILLED = "unfulfilled"
    FAILED_ATTEMPT = "failed_attempt"
    EXCEPTION = "exception"
    RETURNED = "returned"
    INVALID_TRACKING = "invalid_tracking"
    NOTIFICATION_FAILED = "notification_failed"
    NO_PROVIDER = "no_provider"


#: Most urgent first: an order shows its most urgent open reason.
ATTENTION_PRIORITY: dict[str, int] = {
    AttentionReason.EXCEPTION: 0,
    AttentionReason.RETURNED: 1,
    AttentionReason.FAILED_ATTEMPT: 2,
    AttentionReason.LATE: 3,
    AttentionReason.STALLED: 4,
    AttentionReason.INVALID_TRACKING: 5,
    AttentionReason.NOTIFICATION_FAILED: 6,
    AttentionReason.NOT_PICKED_UP: 7,
    AttentionReason.UNFULFILLED: 8,
    AttentionReason.NO_PROVIDER: 9,
}


class NotificationState(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    DEAD = "dead"
    UNKNOWN = "unknown"
    SUPPRESSED = "suppressed"
    CANCELLED = "cancelled"
