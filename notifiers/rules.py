"""Status changes -> outbox rows, inside the caller's transaction.

The poller and ingest call :func:`apply` with what they just changed, before they
commit, so a shipment's new status and the messages it causes are one atomic
write. Rows are rendered here (the log then shows exactly what is sent) and
deduplicated by key (shipment, event, channel, recipient; ``delayed`` also by
the estimate), so running the same changes twice inserts nothing.

Customer events: ``shipped`` (a new shipment: first tracking information),
``out_for_delivery``, ``delivered``, ``available_for_pickup``,
``failed_attempt``, ``exception`` (the shipment entered that status), and
``delayed`` (the estimate moved to a later day, or a ``late`` attention flag was
raised). Never for a shipment already delivered when first seen, never for a
cancelled order. Team event: ``attention``, for every newly raised reason.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from notifiers import context as ctx
from notifiers.changes import AttentionRaised, Change
from notifiers.recipients import recipient_for
from notifiers.render import Rendered, TemplateProblem, renderer_for
from notifiers.schedule import quiet_until
from notifiers.settings import Channel, NotifySettings
from store import attention as attention_store
from store import changes as change_feed
from store import summary, upsert
from store.models import LineItem, Notification, Order, Shipment, Suppression, TrackingEvent
from store.statuses import AttentionReason, NotificationState, ShipmentStatus

log = logging.getLogger(__name__)

_orders = Order.__table__  # type: ignore[attr-defined]
_shipments = Shipment.__table__  # type: ignore[attr-defined]
_events = TrackingEvent.__table__  # type: ignore[attr-defined]
_items = LineItem.__table__  # type: ignore[attr-defined]
_notifications = Notification.__table__  # type: ignore[attr-defined]
_suppressions = Suppression.__table__  # type: ignore[attr-defined]

#: A shipment entering one of these statuses is a customer event of the same name.
STATUS_EVENTS = frozenset(
    {
        ShipmentStatus.OUT_FOR_DELIVERY,
        ShipmentStatus.DELIVERED,
        ShipmentStatus.AVAILABLE_FOR_PICKUP,
        ShipmentStatus.FAILED_ATTEMPT,
        ShipmentStatus.EXCEPTION,
    }
)
_FINAL = frozenset({ShipmentStatus.DELIVERED, ShipmentStatus.EXPIRED})
_CHUNK = 500


@dataclass(frozen=True)
class Intent:
    """One event about one order (and usually one shipment), before channels."""

    event: str
    order_id: int
    shipment_id: int | None = None
    latest_event_id: int | None = None
    #: delayed: the estimate it is about (dedupe: once per estimate).
    estimate: datetime | None = None
    previous_estimate: datetime | None = None
    #: attention: {"reason", "detail", "item_id", "key", "at"}.
    attention: Mapping[str, Any] | None = None
    #: True for an estimate still to be read from the shipment (a ``late`` flag).
    estimate_from_shipment: bool = False
    origin: str = "poll"


def _local_day(value: datetime, timezone: str) -> str:
    return value.astimezone(ZoneInfo(timezone)).date().isoformat()


def intents_for(change: Change, settings: NotifySettings) -> list[Intent]:
    """What one change means, before looking at channels or the store."""
    if isinstance(change, AttentionRaised):
        found = [
            Intent(
                "attention",
                change.order_id,
                change.shipment_id,
                attention={
                    "reason": change.reason,
                    "detail": change.detail,
                    "item_id": change.attention_item_id,
                    "notification_id": change.notification_id,
                    "at": change.at,
                },
            )
        ]
        if change.reason == AttentionReason.LATE and change.shipment_id is not None:
            found.append(
                Intent("delayed", change.order_id, change.shipment_id, estimate_from_shipment=True)
            )
        return found
    if change.delivered_when_first_seen or (
        change.old_status is None and change.new_status == ShipmentStatus.DELIVERED
    ):
        return []
    found = []
    base = {
        "order_id": change.order_id,
        "shipment_id": change.shipment_id,
        "latest_event_id": change.latest_event_id,
        "origin": change.origin,
    }
    if change.old_status is None and change.new_status != ShipmentStatus.EXPIRED:
        found.append(Intent("shipped", **base))
    if change.new_status != change.old_status and change.new_status in STATUS_EVENTS:
        found.append(Intent(change.new_status, **base))
    old, new = change.old_estimated_delivery, change.new_estimated_delivery
    if (
        old is not None
        and new is not None
        and change.new_status not in _FINAL
        and _local_day(new, settings.timezone) > _local_day(old, settings.timezone)
    ):
        found.append(Intent("delayed", **base, estimate=new, previous_estimate=old))
    return found


def email_is_html(channel: Channel) -> bool:
    """Apprise sends e-mail as HTML unless the URL says ``format=text``."""
    if "?" not in channel.url:
        return True
    query = parse_qs(channel.url.split("?", 1)[1])
    return (query.get("format") or ["html"])[0].lower() != "text"


def dedupe_key(
    intent: Intent, channel: str, recipient: str | None, estimate_day: str | None
) -> str:
    who = recipient or "-"
    if intent.event == "attention":
        att = intent.attention or {}
        if att.get("item_id") is not None:
            subject = f"a{att['item_id']}"
        else:
            about = attention_store.key_for(
                shipment_id=intent.shipment_id,
                order_id=intent.order_id,
                notification_id=att.get("notification_id"),
            )
            at = att.get("at")
            subject = f"a:{att.get('reason')}:{about}:{at.isoformat() if at else ''}"
        return f"{subject}:attention:{channel}:{who}"
    about = f"s{intent.shipment_id}" if intent.shipment_id is not None else f"o{intent.order_id}"
    event = f"delayed@{estimate_day or 'none'}" if intent.event == "delayed" else intent.event
    return f"{about}:{event}:{channel}:{who}"


def _chunks(values: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for start in range(0, len(values), _CHUNK):
        yield values[start : start + _CHUNK]


def _load(conn: Connection, table: Any, column: Any, ids: set[int]) -> dict[int, dict[str, Any]]:
    found: dict[int, dict[str, Any]] = {}
    for chunk in _chunks(sorted(ids)):
        for row in conn.execute(sa.select(table).where(column.in_(chunk))).mappings():
            found[row["id"]] = dict(row)
    return found


def _latest_events(
    conn: Connection, shipment_ids: set[int], event_ids: set[int]
) -> tuple[dict[int, dict[str, Any]], dict[int, dict[str, Any]]]:
    """(events by id, newest event by shipment)."""
    by_id = _load(conn, _events, _events.c.id, event_ids) if event_ids else {}
    newest: dict[int, dict[str, Any]] = {}
    for chunk in _chunks(sorted(shipment_ids)):
        ranked = (
            sa.select(
                _events,
                sa.func.row_number()
                .over(
                    partition_by=_events.c.shipment_id,
                    order_by=(_events.c.occurred_at.desc(), _events.c.id.desc()),
                )
                .label("rank"),
            )
            .where(_events.c.shipment_id.in_(chunk))
            .subquery()
        )
        for row in conn.execute(sa.select(ranked).where(ranked.c.rank == 1)).mappings():
            newest[row["shipment_id"]] = dict(row)
    return by_id, newest


def _items_by_order(conn: Connection, order_ids: set[int]) -> dict[int, list[dict[str, Any]]]:
    found: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for chunk in _chunks(sorted(order_ids)):
        for row in conn.execute(
            sa.select(_items.c.order_id, _items.c.name, _items.c.sku, _items.c.quantity)
            .where(_items.c.order_id.in_(chunk))
            .order_by(_items.c.order_id, _items.c.position, _items.c.id)
        ).mappings():
            found[row["order_id"]].append(dict(row))
    return found


def suppressed_addresses(conn: Connection, addresses: set[str]) -> dict[str, str | None]:
    """address -> reason, for those on the suppression list."""
    found: dict[str, str | None] = {}
    for chunk in _chunks(sorted(addresses)):
        for row in conn.execute(
            sa.select(_suppressions.c.address, _suppressions.c.reason).where(
                _suppressions.c.address.in_(chunk)
            )
        ):
            found[row.address] = row.reason
    return found


def meta_of(rendered: Rendered, channel: Channel) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "kind": channel.kind,
        "format": rendered.body_format,
        "templates": list(rendered.templates),
    }
    if rendered.warnings:
        meta["warnings"] = list(rendered.warnings)
    if rendered.sms is not None:
        meta["sms"] = {
            "encoding": rendered.sms.encoding,
            "units": rendered.sms.units,
            "segments": rendered.sms.segments,
        }
    return meta


def render_row(
    settings: NotifySettings, channel: Channel, event: str, context: Mapping[str, Any]
) -> dict[str, Any]:
    """subject/body/body_html and the stored context for one channel."""
    renderer = renderer_for(settings.templates_dir)
    rendered = renderer.render(
        channel.kind, event, context, email_html=channel.kind != "email" or email_is_html(channel)
    )
    for warning in rendered.warnings:
        log.warning("notification template %s: %s", ",".join(rendered.templates), warning)
    return {
        "subject": rendered.subject,
        "body": rendered.body,
        "body_html": rendered.body_html,
        "context": {**context, "_meta": meta_of(rendered, channel)},
    }


def apply(
    conn: Connection,
    settings: NotifySettings,
    changes: Sequence[Change],
    *,
    now: datetime,
) -> list[int]:
    """Insert the outbox rows ``changes`` cause; returns the new notification ids."""
    channels = [c for c in settings.channels.values() if c.enabled]
    if not changes or not channels:
        return []
    intents = [i for change in changes for i in intents_for(change, settings)]
    wanted = {i.event for i in intents}
    if not intents or not any(e in c.events for c in channels for e in wanted):
        return []

    orders = _load(conn, _orders, _orders.c.id, {i.order_id for i in intents})
    shipment_ids = {i.shipment_id for i in intents if i.shipment_id is not None}
    shipments = _load(conn, _shipments, _shipments.c.id, shipment_ids)
    events_by_id, newest = _latest_events(
        conn, shipment_ids, {i.latest_event_id for i in intents if i.latest_event_id is not None}
    )
    items = _items_by_order(conn, set(orders))

    planned: list[dict[str, Any]] = []
    contexts: dict[int, dict[str, Any]] = {}
    for index, intent in enumerate(intents):
        order = orders.get(intent.order_id)
        if order is None:
            continue
        shipment = shipments.get(intent.shipment_id) if intent.shipment_id is not None else None
        customer_event = intent.event != "attention"
        if customer_event and (order.get("cancelled_at") is not None or shipment is None):
            continue
        estimate = intent.estimate
        if intent.event == "delayed" and intent.estimate_from_shipment:
            assert shipment is not None
            if shipment["status"] in _FINAL or shipment.get("estimated_delivery") is None:
                continue
            estimate = shipment["estimated_delivery"]
        estimate_day = _local_day(estimate, settings.timezone) if estimate else None
        for channel in channels:
            if intent.event not in channel.events:
                continue
            if intent.event == "attention" and channel.audience != "team":
                continue
            recipient = recipient_for(channel, order)
            planned.append(
                {
                    "index": index,
                    "intent": intent,
                    "channel": channel,
                    "recipient": recipient,
                    "shipment": shipment,
                    "order": order,
                    "key": dedupe_key(intent, channel.name, recipient.address, estimate_day),
                }
            )
    if not planned:
        return []

    existing: set[str] = set()
    keys = [p["key"] for p in planned]
    for chunk in _chunks(keys):
        existing.update(
            r[0]
            for r in conn.execute(
                sa.select(_notifications.c.dedupe_key).where(_notifications.c.dedupe_key.in_(chunk))
            )
        )
    fresh: list[dict[str, Any]] = []
    seen: set[str] = set()
    for p in planned:
        if p["key"] in existing or p["key"] in seen:
            continue
        seen.add(p["key"])
        fresh.append(p)
    if not fresh:
        return []
    suppressed = suppressed_addresses(
        conn, {p["recipient"].address for p in fresh if p["recipient"].address}
    )

    rows: list[dict[str, Any]] = []
    failed: list[tuple[dict[str, Any], str]] = []
    for p in fresh:
        intent: Intent = p["intent"]
        channel: Channel = p["channel"]
        if p["index"] not in contexts:
            shipment = p["shipment"]
            latest = None
            if intent.latest_event_id is not None:
                latest = events_by_id.get(intent.latest_event_id)
            if latest is None and shipment is not None:
                latest = newest.get(shipment["id"])
            contexts[p["index"]] = ctx.build(
                intent.event,
                shop_name=settings.shop_name,
                timezone=settings.timezone,
                order=p["order"],
                shipment=shipment,
                latest_event=latest,
                items=items.get(intent.order_id, []),
                attention=intent.attention,
                previous_estimated_delivery=intent.previous_estimate,
            )
        context = contexts[p["index"]]
        recipient = p["recipient"]
        row: dict[str, Any] = {
            "order_id": intent.order_id,
            "shipment_id": intent.shipment_id,
            "event": intent.event,
            "channel": channel.name,
            "audience": channel.audience,
            "recipient": recipient.address,
            "dedupe_key": p["key"],
            "attempts": 0,
            "created_at": now,
            "updated_at": now,
            "state": NotificationState.PENDING.value,
            "state_reason": None,
            "next_attempt_at": quiet_until(channel.quiet_hours, now, settings.timezone),
        }
        if channel.quiet_hours and row["next_attempt_at"] > now:
            row["state_reason"] = "held for quiet hours"
        try:
            row.update(render_row(settings, channel, intent.event, context))
        except TemplateProblem as exc:
            row.update(
                subject=None, body=None, body_html=None, context=context,
                state=NotificationState.DEAD.value, state_reason=str(exc),
                next_attempt_at=None, last_error=str(exc),
            )  # fmt: skip
            failed.append((row, str(exc)))
            continue
        if recipient.problem:
            row.update(
                state=NotificationState.SUPPRESSED.value,
                state_reason=recipient.problem,
                next_attempt_at=None,
            )
        elif recipient.address in suppressed:
            reason = suppressed[recipient.address]
            row.update(
                state=NotificationState.SUPPRESSED.value,
                state_reason="the address is on the suppression list"
                + (f" ({reason})" if reason else ""),
                next_attempt_at=None,
            )
        rows.append(row)

    ids = _insert(conn, rows)
    for row, problem in failed:
        new_ids = _insert(conn, [row])
        ids.extend(new_ids)
        for nid in new_ids:
            attention_store.raise_item(
                conn,
                order_id=row["order_id"],
                reason=AttentionReason.NOTIFICATION_FAILED,
                notification_id=nid,
                detail=f"notification {nid} ({row['channel']}, {row['event']}) not sent: {problem}",
                now=now,
            )
    if failed:
        order_ids = {row["order_id"] for row, _ in failed}
        summary.refresh_orders(conn, order_ids, now=now)
    if ids:
        change_feed.record(
            conn,
            "notifications",
            {r["order_id"] for r in rows} | {row["order_id"] for row, _ in failed},
        )
    return ids


def _insert(conn: Connection, rows: list[dict[str, Any]]) -> list[int]:
    """Insert, skipping keys another writer inserted meanwhile; returns new ids."""
    if not rows:
        return []
    columns = sorted({k for r in rows for k in r})
    values = [{c: r.get(c) for c in columns} for r in rows]
    stmt = (
        upsert.insert(conn, _notifications)
        .on_conflict_do_nothing(index_elements=[_notifications.c.dedupe_key])
        .returning(_notifications.c.id)
    )
    ids: list[int] = []
    for chunk in _chunks(values):
        ids.extend(int(r[0]) for r in conn.execute(stmt, list(chunk)))
    return ids
