"""Every rule and its dedupe, recipients, suppression, quiet hours, templates — SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from notifiers import rules
from notifiers.changes import AttentionRaised, ShipmentChange
from notifiers.outbox import suppress
from store.engine import Store
from store.models import AttentionItem, Notification
from tests.notify.conftest import T0, add_order, add_shipment, channel, settings

_n = Notification.__table__  # type: ignore[attr-defined]
_att = AttentionItem.__table__  # type: ignore[attr-defined]

CHAT = channel("chat", "json://127.0.0.1:9/hook?:to={email}")
TEAM = channel("team", "json://127.0.0.1:9/team", ("attention",), audience="team")
SMS = channel(
    "sms", "twilio://AC:tok@+15550001111/{phone}", ("out_for_delivery", "shipped"), kind="sms"
)


def apply(store: Store, s: Any, *changes: Any, now: datetime = T0) -> list[int]:
    with store.write_connection() as conn:
        return rules.apply(conn, s, list(changes), now=now)


def rows(store: Store) -> list[Any]:
    with store.read_connection() as conn:
        return list(conn.execute(sa.select(_n).order_by(_n.c.id)))


def new_shipment(order: int, ship: int, status: str = "in_transit", **kw: Any) -> ShipmentChange:
    return ShipmentChange(order, ship, T0, None, status, **kw)


def test_shipped_once_per_channel_and_recipient(store: Store) -> None:
    order = add_order(store)
    ship = add_shipment(store, order)
    s = settings(CHAT, SMS, TEAM)
    ids = apply(store, s, new_shipment(order, ship))
    assert len(ids) == 2
    found = {r.channel: r for r in rows(store)}
    assert found["chat"].recipient == "ada@example.com"
    assert found["sms"].recipient == "+447700900123"
    assert found["chat"].state == "pending" and found["chat"].next_attempt_at == T0
    assert "shipped with UPS" in found["chat"].body
    assert "Track it: https://www.ups.com/track?tracknum=1Z999AA10123456784" in found["sms"].body
    assert found["chat"].dedupe_key == f"s{ship}:shipped:chat:ada@example.com"
    # The same change again, and the same change through ingest: nothing new.
    assert apply(store, s, new_shipment(order, ship)) == []
    assert apply(store, s, new_shipment(order, ship, origin="ingest")) == []
    assert len(rows(store)) == 2


def test_status_events_each_once(store: Store) -> None:
    order = add_order(store)
    ship = add_shipment(store, order)
    s = settings(CHAT)
    steps = [
        ("in_transit", "out_for_delivery"),
        ("out_for_delivery", "failed_attempt"),
        ("failed_attempt", "out_for_delivery"),
        ("out_for_delivery", "available_for_pickup"),
        ("available_for_pickup", "exception"),
        ("exception", "delivered"),
        ("delivered", "delivered"),
    ]
    for old, new in steps:
        apply(store, s, ShipmentChange(order, ship, T0, old, new))
    events = [r.event for r in rows(store)]
    assert events == [
        "out_for_delivery",
        "failed_attempt",
        "available_for_pickup",
        "exception",
        "delivered",
    ]


def test_no_message_for_delivered_when_first_seen_or_cancelled_order(store: Store) -> None:
    s = settings(CHAT, TEAM)
    order = add_order(store)
    ship = add_shipment(store, order, status="delivered")
    assert apply(store, s, new_shipment(order, ship, "delivered")) == []
    assert (
        apply(
            store,
            s,
            ShipmentChange(order, ship, T0, None, "delivered", delivered_when_first_seen=True),
        )
        == []
    )
    cancelled = add_order(store, "#1002", cancelled_at=T0)
    ship2 = add_shipment(store, cancelled, "1Z2")
    assert (
        apply(
            store,
            s,
            new_shipment(cancelled, ship2),
            ShipmentChange(cancelled, ship2, T0, "in_transit", "delivered"),
        )
        == []
    )
    # The team still hears about attention on a cancelled order.
    ids = apply(store, s, AttentionRaised(cancelled, "exception", T0, ship2, attention_item_id=7))
    assert [r.channel for r in rows(store)] == ["team"] and len(ids) == 1


def test_delayed_once_per_estimate(store: Store) -> None:
    s = settings(CHAT)
    order = add_order(store)
    d1 = datetime(2025, 5, 7, 10, tzinfo=UTC)
    d2 = datetime(2025, 5, 9, 10, tzinfo=UTC)
    ship = add_shipment(store, order, estimated_delivery=d2)
    move = ShipmentChange(order, ship, T0, "in_transit", "in_transit", d1, d2)
    assert len(apply(store, s, move)) == 1
    assert apply(store, s, move) == []
    # Later the same day is not a delay.
    same_day = ShipmentChange(
        order, ship, T0, "in_transit", "in_transit", d2, d2 + timedelta(hours=3)
    )
    assert apply(store, s, same_day) == []
    # The estimate passes: "late" for the estimate already announced -> nothing new.
    assert apply(store, s, AttentionRaised(order, "late", T0, ship, attention_item_id=1)) == []
    # A new estimate, later again: one more.
    d3 = d2 + timedelta(days=2)
    assert (
        len(apply(store, s, ShipmentChange(order, ship, T0, "in_transit", "in_transit", d2, d3)))
        == 1
    )
    delayed = [r for r in rows(store) if r.event == "delayed"]
    assert [r.dedupe_key.split(":")[1] for r in delayed] == [
        "delayed@2025-05-09",
        "delayed@2025-05-11",
    ]
    assert (
        "The new estimated delivery is Friday 9 May" in delayed[0].body
        or "Friday 9 May" in delayed[0].body
    )


def test_late_flag_is_a_delay_for_the_customer(store: Store) -> None:
    s = settings(CHAT, TEAM)
    order = add_order(store)
    ship = add_shipment(store, order, estimated_delivery=datetime(2025, 5, 5, 12, tzinfo=UTC))
    ids = apply(
        store, s, AttentionRaised(order, "late", T0, ship, detail="1 day late", attention_item_id=3)
    )
    found = {r.event: r for r in rows(store)}
    assert len(ids) == 2 and set(found) == {"attention", "delayed"}
    assert found["attention"].audience == "team" and found["attention"].recipient is None
    assert "late (the estimated delivery has passed)" in found["attention"].body
    assert "1 day late" in found["attention"].body
    assert found["attention"].dedupe_key == "a3:attention:team:-"


def test_missing_and_invalid_contacts_are_recorded_as_suppressed(store: Store) -> None:
    s = settings(CHAT, SMS)
    no_contact = add_order(
        store, "#1", email=None, email_normalized=None, phone=None, phone_e164=None
    )
    bad = add_order(
        store,
        "#2",
        email="not-an-address",
        email_normalized=None,
        email_valid=False,
        phone="0770 0900",
        phone_e164=None,
    )
    for order in (no_contact, bad):
        apply(store, s, new_shipment(order, add_shipment(store, order, f"T{order}")))
    reasons = {(r.order_id, r.channel): (r.state, r.state_reason) for r in rows(store)}
    assert reasons[(no_contact, "chat")] == ("suppressed", "the order has no e-mail address")
    assert reasons[(no_contact, "sms")] == ("suppressed", "the order has no phone number")
    assert (
        reasons[(bad, "chat")][0] == "suppressed"
        and "'not-an-address' is not valid" in reasons[(bad, "chat")][1]
    )
    assert "not in international format" in reasons[(bad, "sms")][1]


def test_suppression_list_is_honoured(store: Store) -> None:
    s = settings(CHAT)
    with store.write_connection() as conn:
        suppress(conn, "ADA@example.com", reason="asked us to stop", by="tester", now=T0)
    order = add_order(store)
    apply(store, s, new_shipment(order, add_shipment(store, order)))
    (row,) = rows(store)
    assert row.state == "suppressed"
    assert row.state_reason == "the address is on the suppression list (asked us to stop)"


def test_quiet_hours_hold_until_morning_in_shop_time(store: Store) -> None:
    quiet_sms = channel("sms", SMS.url, ("shipped",), kind="sms", quiet=("21:00", "08:00"))
    s = settings(quiet_sms, CHAT, timezone="Europe/London")
    order = add_order(store)
    # 22:30 in London (BST, UTC+1) is 21:30 UTC.
    night = datetime(2025, 5, 6, 21, 30, tzinfo=UTC)
    apply(store, s, new_shipment(order, add_shipment(store, order)), now=night)
    found = {r.channel: r for r in rows(store)}
    assert found["sms"].next_attempt_at == datetime(2025, 5, 7, 7, 0, tzinfo=UTC)
    assert found["sms"].state_reason == "held for quiet hours"
    assert found["chat"].next_attempt_at == night
    # In the afternoon nothing waits.
    other = add_order(store, "#2")
    apply(store, s, new_shipment(other, add_shipment(store, other, "Z2")), now=T0)
    assert [r.next_attempt_at for r in rows(store) if r.order_id == other] == [T0, T0]


def test_user_template_overrides_and_sandbox_refusals(store: Store, tmp_path: Path) -> None:
    templates = tmp_path / "templates"
    (templates / "chat").mkdir(parents=True)
    (templates / "chat" / "shipped.md.j2").write_text(
        "Hey {{ customer.first_name }}, {{ order.number }} left with {{ carrier_name }}."
    )
    (templates / "chat" / "delivered.md.j2").write_text(
        "{{ ''.__class__.__mro__[1].__subclasses__() }}"
    )
    (templates / "chat" / "out_for_delivery.md.j2").write_text("{{ costumer.name }}")
    s = settings(CHAT, TEAM, templates_dir=templates)
    order = add_order(store)
    ship = add_shipment(store, order)
    apply(
        store,
        s,
        new_shipment(order, ship),
        ShipmentChange(order, ship, T0, "in_transit", "out_for_delivery"),
        ShipmentChange(order, ship, T0, "out_for_delivery", "delivered"),
    )
    found = {r.event: r for r in rows(store)}
    assert found["shipped"].body == "Hey Ada, #1001 left with UPS."
    assert found["delivered"].state == "dead"
    assert "refused by the sandbox" in found["delivered"].state_reason
    assert str(templates / "chat" / "delivered.md.j2") in found["delivered"].state_reason
    assert found["out_for_delivery"].state == "dead"
    assert "'costumer' is undefined" in found["out_for_delivery"].state_reason
    with store.read_connection() as conn:
        items = conn.execute(sa.select(_att.c.reason, _att.c.notification_id)).all()
    assert sorted(i.notification_id for i in items) == sorted(
        [found["delivered"].id, found["out_for_delivery"].id]
    )
    assert {i.reason for i in items} == {"notification_failed"}
