"""The variables a template sees, built from store rows.

The context is plain JSON (strings, numbers, lists, dicts): it is stored on the
notification row, so a resend renders the same facts the first message had, and
``orderdeck notify show`` can print what a template was given. Dates come both
as text in the shop's time zone (``estimated_delivery``) and as ISO 8601
(``shipment.estimated_delivery_iso``) for templates that format their own.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from store.carriers import carrier_name, tracking_url

EVENT_TEXT = {
    "shipped": "shipped",
    "out_for_delivery": "out for delivery",
    "delivered": "delivered",
    "available_for_pickup": "ready to collect",
    "failed_attempt": "delivery attempt failed",
    "exception": "delivery problem",
    "delayed": "delayed",
    "attention": "needs attention",
}

STATUS_TEXT = {
    "pending": "waiting for the carrier",
    "info_received": "label created",
    "in_transit": "in transit",
    "out_for_delivery": "out for delivery",
    "available_for_pickup": "ready to collect",
    "failed_attempt": "delivery attempt failed",
    "delivered": "delivered",
    "exception": "delivery problem",
    "expired": "no longer tracked",
}

REASON_TEXT = {
    "late": "late (the estimated delivery has passed)",
    "stalled": "stalled (no carrier scan for days)",
    "not_picked_up": "not picked up (label created, no scan)",
    "unfulfilled": "unfulfilled (no tracking yet)",
    "failed_attempt": "delivery attempt failed",
    "exception": "delivery exception",
    "returned": "returned to sender",
    "invalid_tracking": "invalid tracking number",
    "notification_failed": "a customer notification failed",
    "no_provider": "no tracking provider configured",
}

#: At most this many line items are listed in a message.
ITEMS_MAX = 20


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def local_date(value: datetime | None, zone: ZoneInfo) -> str | None:
    """ "Tuesday 6 May" in the shop's time zone."""
    if value is None:
        return None
    local = value.astimezone(zone)
    return f"{local:%A} {local.day} {local:%B}"


def local_datetime(value: datetime | None, zone: ZoneInfo) -> str | None:
    if value is None:
        return None
    local = value.astimezone(zone)
    return f"{local:%A} {local.day} {local:%B}, {local:%H:%M}"


def first_name(name: str | None) -> str | None:
    if not name or not name.strip():
        return None
    return name.strip().split()[0]


def build(
    event: str,
    *,
    shop_name: str,
    timezone: str,
    order: Mapping[str, Any],
    shipment: Mapping[str, Any] | None = None,
    latest_event: Mapping[str, Any] | None = None,
    items: Sequence[Mapping[str, Any]] = (),
    attention: Mapping[str, Any] | None = None,
    previous_estimated_delivery: datetime | None = None,
) -> dict[str, Any]:
    """Every variable, always present (``None`` when unknown): templates run with
    StrictUndefined, so ``{% if shipment %}`` works and a typo fails loudly."""
    zone = ZoneInfo(timezone)
    customer = {
        "name": order.get("customer_name"),
        "first_name": first_name(order.get("customer_name")),
        "email": order.get("email_normalized") or order.get("email"),
        "phone": order.get("phone_e164") or order.get("phone"),
    }
    listed = [
        {"name": i.get("name") or "", "sku": i.get("sku"), "quantity": i.get("quantity") or 1}
        for i in items[:ITEMS_MAX]
    ]
    order_ctx = {
        "id": order.get("id"),
        "number": order.get("number"),
        "source": order.get("source"),
        "created_at": _iso(order.get("created_at")),
        "created_at_text": local_date(order.get("created_at"), zone),
        "total": order.get("total"),
        "currency": order.get("currency"),
        "line_items": listed,
        "item_count": len(items),
    }
    ship_ctx: dict[str, Any] | None = None
    carrier = number = url = eta_text = None
    if shipment is not None:
        carrier = carrier_name(shipment.get("carrier"))
        number = shipment.get("tracking_number")
        url = tracking_url(shipment.get("carrier"), number) if number else None
        eta = shipment.get("estimated_delivery")
        eta_text = local_date(eta, zone)
        ship_ctx = {
            "id": shipment.get("id"),
            "carrier": shipment.get("carrier"),
            "carrier_name": carrier,
            "tracking_number": number,
            "tracking_url": url,
            "status": shipment.get("status"),
            "status_text": STATUS_TEXT.get(shipment.get("status") or "", shipment.get("status")),
            "substatus": shipment.get("substatus"),
            "estimated_delivery": eta_text,
            "estimated_delivery_iso": _iso(eta),
            "previous_estimated_delivery": local_date(previous_estimated_delivery, zone),
            "shipped_at": _iso(shipment.get("shipped_at")),
            "delivered_at": _iso(shipment.get("delivered_at")),
            "delivered_at_text": local_datetime(shipment.get("delivered_at"), zone),
        }
    event_ctx: dict[str, Any] | None = None
    if latest_event is not None:
        event_ctx = {
            "description": latest_event.get("description") or "",
            "location": latest_event.get("location"),
            "status": latest_event.get("status"),
            "status_text": STATUS_TEXT.get(latest_event.get("status") or "", ""),
            "occurred_at": _iso(latest_event.get("occurred_at")),
            "occurred_at_text": local_datetime(latest_event.get("occurred_at"), zone),
        }
    attention_ctx: dict[str, Any] | None = None
    if attention is not None:
        reason = str(attention.get("reason"))
        attention_ctx = {
            "reason": reason,
            "reason_text": REASON_TEXT.get(reason, reason.replace("_", " ")),
            "detail": attention.get("detail"),
        }
    return {
        "event": event,
        "event_text": EVENT_TEXT.get(event, event),
        "shop_name": shop_name,
        "shop": {"name": shop_name, "timezone": timezone},
        "order": order_ctx,
        "customer": customer,
        "shipment": ship_ctx,
        "carrier_name": carrier,
        "tracking_number": number,
        "tracking_url": url,
        "estimated_delivery": eta_text,
        "latest_event": event_ctx,
        "attention": attention_ctx,
    }


def sample(event: str, *, shop_name: str = "Example Shop", timezone: str = "UTC") -> dict[str, Any]:
    """A context with every variable filled, for checking templates without a store."""
    from datetime import UTC

    when = datetime(2025, 5, 6, 9, 30, tzinfo=UTC)
    return build(
        event,
        shop_name=shop_name,
        timezone=timezone,
        order={
            "id": 1,
            "number": "#1001",
            "source": "sample",
            "created_at": when,
            "customer_name": "Ada Lovelace",
            "email": "ada@example.com",
            "phone_e164": "+447700900123",
            "total": "42.00",
            "currency": "GBP",
        },
        shipment={
            "id": 1,
            "carrier": "royal_mail",
            "tracking_number": "AB123456789GB",
            "status": "in_transit",
            "estimated_delivery": when,
        },
        latest_event={
            "description": "Item in transit",
            "location": "Swindon Mail Centre",
            "status": "in_transit",
            "occurred_at": when,
        },
        items=[{"name": "Analytical Engine (kit)", "sku": "AE-1", "quantity": 1}],
        attention={"reason": "late", "detail": "estimated delivery passed 1 day ago"}
        if event == "attention"
        else None,
    )
