"""A deterministic store of orders for the console's tests and benchmark.

``generate(store, orders=N)`` writes N orders with shipments, tracking events,
ETA revisions, attention items, notifications with their attempts, notes and
audit entries. The same arguments always give the same store (a seeded random
generator and a fixed clock, :data:`NOW`), so screenshots can be compared.

It writes through SQLAlchemy Core in batches and computes each order's board
summary with :func:`store.summary.summarize` (what ``refresh_orders`` stores), so
a million orders take about a minute, not an hour.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

import sqlalchemy as sa

from notifiers.context import build as build_context
from store.engine import Store
from store.models import (
    AttentionItem,
    AuditEntry,
    CarrierState,
    EtaRevision,
    LineItem,
    Notification,
    NotificationAttempt,
    Order,
    OrderNote,
    Shipment,
    TrackingEvent,
)
from store.statuses import AttentionReason, ShipmentStatus
from store.summary import summarize

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)

FIRST = [
    "José",
    "Zoë",
    "Łukasz",
    "Ana",
    "Björn",
    "Chloé",
    "Dmitri",
    "Emma",
    "François",
    "Grace",
    "Hiroshi",
    "Inès",
    "Jürgen",
    "Kwame",
    "Léa",
    "Mateo",
    "Noémie",
    "Olu",
    "Priya",
    "Quentin",
    "Rosa",
    "Søren",
    "Tomás",
    "Uma",
    "Valérie",
    "Wen",
    "Yusuf",
]
LAST = [
    "Müller",
    "García",
    "Nowak",
    "O'Brien",
    "Dubois",
    "Rossi",
    "Kowalski",
    "Smith",
    "Jensen",
    "Nakamura",
    "Okafor",
    "Silva",
    "Peña",
    "Andersson",
    "Novák",
    "Brown",
    "Fernández",
    "Weiß",
    "Lefèvre",
    "Chen",
    "Ivanova",
    "Haddad",
    "Martín",
    "Ølstad",
]
CARRIERS = ["ups", "dhl", "usps", "royal_mail", "fedex", "dpd"]
PRODUCTS = [
    ("MUG-01", "Ceramic mug", "12.50"),
    ("TEE-M", "T-shirt (M)", "19.00"),
    ("CAP-01", "Cap", "15.00"),
    ("BAG-02", "Tote bag", "9.90"),
    ("POS-A3", "Poster A3", "7.50"),
    ("SOX-3", "Socks, 3 pairs", "11.00"),
]
#: Status of each shipment, weighted like a real shop's week.
STATUS_WEIGHTS = [
    (ShipmentStatus.DELIVERED, 40),
    (ShipmentStatus.IN_TRANSIT, 25),
    (ShipmentStatus.OUT_FOR_DELIVERY, 6),
    (ShipmentStatus.INFO_RECEIVED, 8),
    (ShipmentStatus.PENDING, 5),
    (ShipmentStatus.FAILED_ATTEMPT, 4),
    (ShipmentStatus.EXCEPTION, 4),
    (ShipmentStatus.AVAILABLE_FOR_PICKUP, 3),
    (ShipmentStatus.EXPIRED, 1),
]
PATH = [
    (ShipmentStatus.INFO_RECEIVED, "Shipment information received", "Leeds, GB"),
    (ShipmentStatus.IN_TRANSIT, "Picked up by carrier", "Leeds, GB"),
    (ShipmentStatus.IN_TRANSIT, "Departed facility", "Manchester Hub, GB"),
    (ShipmentStatus.IN_TRANSIT, "Arrived at delivery depot", "Bristol, GB"),
    (ShipmentStatus.OUT_FOR_DELIVERY, "Out for delivery", "Bristol, GB"),
]
FINAL_EVENT = {
    ShipmentStatus.DELIVERED: "Delivered, left with neighbour",
    ShipmentStatus.FAILED_ATTEMPT: "Delivery attempted, nobody home",
    ShipmentStatus.EXCEPTION: "Address incomplete, held at depot",
    ShipmentStatus.AVAILABLE_FOR_PICKUP: "Available for pickup at Post Office",
    ShipmentStatus.EXPIRED: "No further information",
}
#: What became of orders older than twelve days.
OLD = [ShipmentStatus.DELIVERED] * 60 + [ShipmentStatus.EXPIRED, ShipmentStatus.EXCEPTION]
ATTENTION_FOR = {
    ShipmentStatus.EXCEPTION: AttentionReason.EXCEPTION,
    ShipmentStatus.FAILED_ATTEMPT: AttentionReason.FAILED_ATTEMPT,
}

_T = {
    name: model.__table__  # type: ignore[attr-defined]
    for name, model in {
        "orders": Order,
        "line_items": LineItem,
        "shipments": Shipment,
        "events": TrackingEvent,
        "eta": EtaRevision,
        "notifications": Notification,
        "attempts": NotificationAttempt,
        "attention": AttentionItem,
        "notes": OrderNote,
        "audit": AuditEntry,
    }.items()
}


@dataclass
class Generated:
    orders: int
    shipments: int
    notifications: int
    attention: int


def message_context(
    event: str, order: dict[str, Any], shipment: dict[str, Any], events: list[Any]
) -> dict[str, Any]:
    latest = events[-1] if events else None
    return build_context(
        event,
        shop_name="Test Shop",
        timezone="UTC",
        order=order,
        shipment={**shipment, "status": str(shipment["status"])},
        latest_event={
            "occurred_at": latest[0],
            "status": str(latest[1]),
            "description": latest[2],
            "location": latest[3],
        }
        if latest
        else None,
    )


def _plain(value: Any) -> Any:
    return value.value if isinstance(value, StrEnum) else value


def tracking_number(rng: random.Random, carrier: str, serial: int) -> str:
    if carrier == "ups":
        return f"1Z{rng.randrange(16**6):06X}{serial:010d}"
    if carrier == "usps":
        return f"9400{serial:018d}"
    if carrier == "royal_mail":
        return f"RM{serial:09d}GB"
    if carrier == "fedex":
        return f"{7_000_000_000_00 + serial:014d}"
    if carrier == "dpd":
        return f"0{serial:013d}"
    return f"JD{serial:016d}"


def generate(
    store: Store,
    orders: int = 200,
    *,
    seed: int = 7,
    now: datetime = NOW,
    story_orders: int | None = None,
    batch: int = 5000,
    progress: Callable[[int], None] | None = None,
    first_id: int = 1,
) -> Generated:
    """Write ``orders`` orders; the newest ``story_orders`` (default: all) get full
    stories (events, notifications, notes, audit), the rest only their summary."""
    rng = random.Random(seed)
    story = orders if story_orders is None else story_orders
    counts = Generated(0, 0, 0, 0)
    statuses = [s for s, _ in STATUS_WEIGHTS]
    weights = [w for _, w in STATUS_WEIGHTS]
    ship_id = first_id
    note_id = 0
    rows: dict[str, list[dict[str, Any]]] = {k: [] for k in _T}

    def flush() -> None:
        with store.write_connection() as conn:
            for name in _T:
                if rows[name]:
                    keys = dict.fromkeys(k for r in rows[name] for k in r)
                    uniform = [{k: _plain(r.get(k)) for k in keys} for r in rows[name]]
                    conn.execute(sa.insert(_T[name]), uniform)
                    rows[name].clear()

    spacing = min(37 * 60, 365 * 86400 // max(orders, 1))

    for n in range(orders):
        oid = first_id + n
        full = n >= orders - story
        created = now - timedelta(seconds=spacing * (orders - n) + rng.randrange(30))
        first, last = rng.choice(FIRST), rng.choice(LAST)
        name = f"{first} {last}"
        local = f"{first}.{last}".lower().replace("'", "").replace(" ", "")
        email = f"{local}{oid}@example.com"
        email_valid = oid % 29 != 0
        if not email_valid:
            email = f"{local}{oid}@example"
        phone = f"+44 7700 {oid % 1_000_000:06d}"
        order = {
            "id": oid,
            "source": "shop",
            "external_id": str(500_000 + oid),
            "number": f"#{100_000 + oid}",
            "created_at": created,
            "updated_at": created,
            "imported_at": created + timedelta(minutes=5),
            "customer_name": name,
            "email": email,
            "email_normalized": email.lower(),
            "email_valid": email_valid,
            "phone": phone,
            "phone_e164": phone.replace(" ", ""),
            "phone_valid": oid % 31 != 0,
            "contact_problems": None if email_valid else "email: domain has no dot",
            "ship_name": name,
            "ship_address1": f"{1 + oid % 200} High Street",
            "ship_city": "Bristol",
            "ship_zip": "BS1 4DJ",
            "ship_country": "GB",
            "currency": "GBP",
            "total": "0.00",
            "financial_status": "paid",
            "fulfillment_status": "fulfilled",
            "cancelled_at": None,
        }
        total = 0.0
        for pos in range(1 + oid % 3):
            sku, pname, price = PRODUCTS[(oid + pos) % len(PRODUCTS)]
            qty = 1 + (oid + pos) % 2
            total += qty * float(price)
            if full:
                rows["line_items"].append(
                    {
                        "order_id": oid,
                        "position": pos,
                        "sku": sku,
                        "name": pname,
                        "quantity": qty,
                        "unit_price": price,
                    }
                )
        order["total"] = f"{total:.2f}"
        age = now - created
        parcels = 0 if (oid % 11 == 0 and age < timedelta(days=4)) else (2 if oid % 13 == 0 else 1)
        if parcels == 0:
            order["fulfillment_status"] = "unfulfilled"
        shipments: list[dict[str, Any]] = []
        reasons: list[tuple[str, datetime]] = []
        for p in range(parcels):
            carrier = CARRIERS[(oid + p) % len(CARRIERS)]
            status = rng.choices(statuses, weights)[0]
            if age > timedelta(days=12):
                status = OLD[(oid + p) % len(OLD)]
            if age < timedelta(hours=20):
                status = ShipmentStatus.INFO_RECEIVED
            shipped = created + min(timedelta(hours=6 + rng.randrange(30)), age / 2)
            steps = {
                ShipmentStatus.PENDING: 0,
                ShipmentStatus.INFO_RECEIVED: 1,
                ShipmentStatus.IN_TRANSIT: 2 + rng.randrange(2),
            }.get(status, len(PATH))
            if status == ShipmentStatus.OUT_FOR_DELIVERY:
                steps = 5
            eta = shipped + timedelta(days=2 + (oid + p) % 3)
            events: list[tuple[datetime, str, str, str | None]] = []
            at = shipped
            for i in range(min(steps, len(PATH))):
                st, desc, loc = PATH[i]
                events.append((at, st, desc, loc))
                at += timedelta(hours=5 + rng.randrange(12))
            final = FINAL_EVENT.get(status)
            if final is not None:
                events.append((at, status, final, "Bristol, GB"))
            events = [e for e in events if e[0] <= now]
            last_scan = events[-1][0] if events else None
            sid = ship_id
            ship_id += 1
            shipment = {
                "id": sid,
                "order_id": oid,
                "carrier": carrier,
                "tracking_number": tracking_number(rng, carrier, sid),
                "provider": "sandbox",
                "status": status,
                "estimated_delivery": eta,
                "original_estimated_delivery": eta - timedelta(days=1) if oid % 7 == 0 else eta,
                "shipped_at": shipped,
                "first_scan_at": events[0][0] if events else None,
                "last_scan_at": last_scan,
                "delivered_at": last_scan if status == ShipmentStatus.DELIVERED else None,
                "created_at": shipped,
                "updated_at": last_scan or shipped,
                "last_polled_at": now - timedelta(minutes=rng.randrange(1, 240)),
                "next_poll_at": None
                if status in (ShipmentStatus.DELIVERED, ShipmentStatus.EXPIRED)
                else now + timedelta(minutes=rng.randrange(5, 240)),
            }
            reason = ATTENTION_FOR.get(status)
            if (
                reason is None
                and status not in (ShipmentStatus.DELIVERED, ShipmentStatus.EXPIRED)
                and eta < now - timedelta(hours=12)
            ):
                reason = AttentionReason.LATE
            if reason is not None:
                raised = max(
                    last_scan or shipped, eta if reason == AttentionReason.LATE else shipped
                )
                reasons.append((reason, raised))
                shipment["attention"] = reason
                shipment["attention_since"] = raised
                rows["attention"].append(
                    {
                        "order_id": oid,
                        "shipment_id": sid,
                        "reason": reason,
                        "key": f"s:{sid}",
                        "detail": final or f"estimated {eta:%Y-%m-%d}",
                        "raised_at": raised,
                    }
                )
                counts.attention += 1
            shipments.append(shipment)
            rows["shipments"].append(shipment)
            counts.shipments += 1
            if not full:
                continue
            for i, (t, st, desc, loc) in enumerate(events):
                rows["events"].append(
                    {
                        "shipment_id": sid,
                        "occurred_at": t,
                        "utc_offset_minutes": 0,
                        "status": st,
                        "description": desc,
                        "location": loc,
                        "dedupe_hash": f"{sid}-{i}",
                        "created_at": t,
                    }
                )
            rows["eta"].append(
                {
                    "shipment_id": sid,
                    "estimated_delivery": shipment["original_estimated_delivery"],
                    "recorded_at": shipped,
                    "source": carrier,
                }
            )
            if oid % 7 == 0:
                rows["eta"].append(
                    {
                        "shipment_id": sid,
                        "estimated_delivery": eta,
                        "recorded_at": shipped + timedelta(days=1),
                        "source": carrier,
                    }
                )
            for ev_i, event in enumerate(("shipped", "delivered")):
                if event == "delivered" and status != ShipmentStatus.DELIVERED:
                    continue
                for channel in ("email", "sms") if oid % 4 == 0 else ("email",):
                    nid = sid * 10 + ev_i * 2 + (channel == "sms")
                    state = "sent"
                    if oid % 17 == 0 and channel == "email":
                        state = "dead"
                    elif oid % 19 == 0:
                        state = "unknown"
                    elif event == "delivered" and oid % 5 == 0:
                        state = "pending"
                    sent_at = (
                        shipped if event == "shipped" else (last_scan or shipped)
                    ) + timedelta(minutes=2)
                    if sent_at > now:
                        continue
                    recipient = email if channel == "email" else order["phone_e164"]
                    attempts = 0 if state == "pending" else (3 if state == "dead" else 1)
                    rows["notifications"].append(
                        {
                            "id": nid,
                            "order_id": oid,
                            "shipment_id": sid,
                            "event": event,
                            "channel": channel,
                            "audience": "customer",
                            "recipient": recipient,
                            "dedupe_key": f"{sid}:{event}:{channel}:{recipient}",
                            "subject": f"Your order {order['number']} has {event}",
                            "body": f"Hello {first}, your parcel {event}.",
                            "state": state,
                            "attempts": attempts,
                            "created_at": sent_at - timedelta(minutes=2),
                            "updated_at": sent_at,
                            "sent_at": sent_at if state == "sent" else None,
                            "last_error": "smtp: 550 mailbox unavailable"
                            if state == "dead"
                            else ("timed out after 60s" if state == "unknown" else None),
                            # What the rules render from, so a resend can render again.
                            "context": message_context(event, order, shipment, events),
                        }
                    )
                    counts.notifications += 1
                    for a in range(attempts):
                        ok = state == "sent"
                        rows["attempts"].append(
                            {
                                "notification_id": nid,
                                "attempt": a + 1,
                                "worker": "sync@demo:1",
                                "started_at": sent_at + timedelta(minutes=a),
                                "finished_at": sent_at + timedelta(minutes=a, seconds=1),
                                "outcome": "sent"
                                if ok
                                else ("unknown" if state == "unknown" else "failed"),
                                "error": None if ok else rows["notifications"][-1]["last_error"],
                                "result": {
                                    "service": "mailto" if channel == "email" else "twilio",
                                    "ok": ok,
                                },
                            }
                        )
                    if state == "dead":
                        rows["attention"].append(
                            {
                                "order_id": oid,
                                "notification_id": None,
                                "reason": AttentionReason.NOTIFICATION_FAILED,
                                "key": f"n:{nid}",
                                "detail": f"{channel} to {recipient}: failed 3 times",
                                "raised_at": sent_at + timedelta(minutes=3),
                            }
                        )
                        reasons.append((AttentionReason.NOTIFICATION_FAILED, sent_at))
                        counts.attention += 1
        if parcels == 0 and age > timedelta(days=2):
            reasons.append((AttentionReason.UNFULFILLED, created + timedelta(days=2)))
            rows["attention"].append(
                {
                    "order_id": oid,
                    "reason": AttentionReason.UNFULFILLED,
                    "key": f"o:{oid}",
                    "detail": "no tracking 2 days after the order",
                    "raised_at": created + timedelta(days=2),
                }
            )
            counts.attention += 1
        if full and oid % 9 == 0:
            note_id += 1
            rows["notes"].append(
                {
                    "order_id": oid,
                    "author": "alice",
                    "body": "Customer called: leave with neighbour.",
                    "created_at": created + timedelta(days=1),
                }
            )
            rows["audit"].append(
                {
                    "at": created + timedelta(days=1),
                    "actor": "alice",
                    "action": "note.add",
                    "order_id": oid,
                    "detail": {"note": "Customer called: leave with neighbour."},
                }
            )
        order.update(summarize(order, shipments, reasons))
        order["changed_at"] = max([created, *(s["updated_at"] for s in shipments)])
        rows["orders"].append(order)
        counts.orders += 1
        if len(rows["orders"]) >= batch:
            flush()
            if progress:
                progress(counts.orders)
    flush()
    with store.write_connection() as conn:
        carrier_state = CarrierState.__table__  # type: ignore[attr-defined]
        conn.execute(
            sa.insert(carrier_state).values(
                carrier="sandbox", last_success_at=now - timedelta(seconds=90)
            )
        )
        conn.execute(
            sa.insert(carrier_state).values(
                carrier="ups",
                circuit="open",
                consecutive_failures=5,
                last_error="503 Service Unavailable",
                last_error_at=now - timedelta(minutes=4),
            )
        )
    if progress:
        progress(counts.orders)
    return counts
