"""What a notification for an order would look like, rendered exactly as it would be
sent, without writing anything (``orderdeck notify preview``, the console)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from notifiers import context as ctx
from notifiers import rules
from notifiers.recipients import recipient_for
from notifiers.render import TemplateProblem
from notifiers.settings import NotifySettings
from store.errors import OrderdeckError
from store.models import AttentionItem
from store.statuses import ATTENTION_PRIORITY

_attention = AttentionItem.__table__  # type: ignore[attr-defined]


def render_for_order(
    conn: Connection,
    settings: NotifySettings,
    event: str,
    order_id: int,
    *,
    channel: str | None = None,
) -> list[dict[str, Any]]:
    if channel is not None:
        if channel not in settings.channels:
            known = ", ".join(sorted(settings.channels)) or "none configured"
            raise OrderdeckError(f"no channel {channel!r} in [notify.channels] (known: {known})")
        channels = [settings.channels[channel]]
    else:
        channels = [c for c in settings.channels.values() if c.enabled and event in c.events]
        if not channels:
            raise OrderdeckError(
                f"no enabled channel lists {event!r} in its events; name one with --channel"
            )
    order = rules._load(conn, rules._orders, rules._orders.c.id, {order_id}).get(order_id)
    if order is None:
        raise OrderdeckError(f"no order with id {order_id}")
    shipments = sorted(
        rules._load(conn, rules._shipments, rules._shipments.c.order_id, {order_id}).values(),
        key=lambda s: (s["updated_at"], s["id"]),
    )
    shipment = shipments[-1] if shipments else None
    if shipment is None and event != "attention":
        raise OrderdeckError(f"order {order['number']} has no shipment to tell the customer about")
    latest = None
    if shipment is not None:
        latest = rules._latest_events(conn, {shipment["id"]}, set())[1].get(shipment["id"])
    attention = None
    if event == "attention":
        open_items = conn.execute(
            sa.select(_attention.c.reason, _attention.c.detail).where(
                _attention.c.order_id == order_id, _attention.c.resolved_at.is_(None)
            )
        ).all()
        if open_items:
            top = min(open_items, key=lambda r: ATTENTION_PRIORITY.get(r.reason, 99))
            attention = {"reason": top.reason, "detail": top.detail}
        else:
            attention = {
                "reason": "late",
                "detail": "(preview: the order has no open attention item)",
            }
    context = ctx.build(
        event,
        shop_name=settings.shop_name,
        timezone=settings.timezone,
        order=order,
        shipment=shipment,
        latest_event=latest,
        items=rules._items_by_order(conn, {order_id}).get(order_id, []),
        attention=attention,
    )
    found = []
    for ch in channels:
        recipient = recipient_for(ch, order)
        item: dict[str, Any] = {
            "channel": ch.name,
            "kind": ch.kind,
            "audience": ch.audience,
            "recipient": recipient.address,
            "problem": recipient.problem,
            "enabled": ch.enabled,
        }
        if recipient.address and recipient.address in rules.suppressed_addresses(
            conn, {recipient.address}
        ):
            item["problem"] = "the address is on the suppression list"
        try:
            rendered = rules.render_row(settings, ch, event, context)
        except TemplateProblem as exc:
            item["error"] = str(exc)
            found.append(item)
            continue
        meta = rendered["context"]["_meta"]
        item.update(
            subject=rendered["subject"],
            body=rendered["body"],
            body_html=rendered["body_html"],
            format=meta["format"],
            templates=meta["templates"],
            warnings=meta.get("warnings", []),
            sms=meta.get("sms"),
        )
        found.append(item)
    return found
