"""What the sync engine tells the notification rules, inside the same transaction.

The poller and ingest build these as they write, and pass them to
``notifiers.rules.apply(conn, settings, changes, now=...)`` before committing, so a
status change and the outbox rows it causes commit (or roll back) together.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class ShipmentChange:
    """One shipment's status or estimate moved (or it was just created)."""

    order_id: int
    shipment_id: int
    at: datetime
    #: None: the shipment is new — first tracking information.
    old_status: str | None
    new_status: str
    old_estimated_delivery: datetime | None = None
    new_estimated_delivery: datetime | None = None
    #: The newest tracking event stored for it, if any.
    latest_event_id: int | None = None
    #: True when the shipment was already delivered the first time we saw it.
    delivered_when_first_seen: bool = False
    #: "poll" or "ingest".
    origin: str = "poll"


@dataclass(frozen=True)
class AttentionRaised:
    """An attention reason was newly raised (not one that was already open)."""

    order_id: int
    reason: str
    at: datetime
    shipment_id: int | None = None
    notification_id: int | None = None
    detail: str | None = None
    attention_item_id: int | None = None


Change = ShipmentChange | AttentionRaised
