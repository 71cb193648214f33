"""Dispatch to real loopback servers: SMTP, a json:// chat sink, a Twilio-shaped SMS API.
Retries, dead letters, timeouts, expired leases, opt-outs — SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from notifiers import outbox, rules
from notifiers.changes import ShipmentChange
from notifiers.dispatch import Dispatcher
from store.engine import Store
from store.models import AttentionItem, Notification, NotificationAttempt, Suppression
from tests.notify.conftest import (
    T0,
    Mailbox,
    Sink,
    add_order,
    add_shipment,
    channel,
    settings,
    twilio_url,
)

_n = Notification.__table__  # type: ignore[attr-defined]
_a = NotificationAttempt.__table__  # type: ignore[attr-defined]
_att = AttentionItem.__table__  # type: ignore[attr-defined]
_sup = Suppression.__table__  # type: ignore[attr-defined]


class Clock:
    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def queue(
    store: Store, s: Any, *, number: str = "#1001", status: str = "in_transit", **order: Any
) -> list[int]:
    oid = add_order(store, number, **order)
    sid = add_shipment(store, oid, "1Z" + number.strip("#"))
    with store.write_connection() as conn:
        return rules.apply(conn, s, [ShipmentChange(oid, sid, T0, None, status)], now=T0)


def run(store: Store, s: Any, clock: Clock, **kw: Any) -> outbox.Counters:
    dispatcher = Dispatcher(store, s, clock=clock, rng=lambda: 1.0, **kw)
    try:
        return asyncio.run(dispatcher.run_once())
    finally:
        dispatcher.close()


def row(store: Store, nid: int) -> Any:
    with store.read_connection() as conn:
        return conn.execute(sa.select(_n).where(_n.c.id == nid)).one()


def attempts(store: Store, nid: int) -> list[Any]:
    with store.read_connection() as conn:
        return list(
            conn.execute(sa.select(_a).where(_a.c.notification_id == nid).order_by(_a.c.id))
        )


def test_email_arrives_over_smtp_with_both_parts_and_our_id(store: Store, smtp: Mailbox) -> None:
    email = channel(
        "email",
        f"mailto://127.0.0.1:{smtp.port}?from=shop@example.com&to={{email}}&mode=insecure",
        kind="email",
    )
    s = settings(email)
    (nid,) = queue(store, s, email="Jose+Orders@Example.com", email_normalized=None)
    counters = run(store, s, Clock())
    assert counters.sent == 1
    (mail_from, rcpt, msg) = smtp.messages[0]
    assert mail_from == "shop@example.com"
    assert rcpt == ["jose+orders@example.com"]
    assert msg["X-Orderdeck-Notification"] == str(nid)
    assert "Your order #1001 has shipped" in str(msg["Subject"])
    parts = {
        p.get_content_type(): p.get_payload(decode=True).decode().replace("\r\n", "\n")
        for p in msg.walk()
        if not p.is_multipart()
    }
    assert set(parts) == {"text/plain", "text/html"}
    assert "Track your parcel: https://www.ups.com/track?tracknum=1Z1001" in parts["text/plain"]
    assert '<a href="https://www.ups.com/track?tracknum=1Z1001">' in parts["text/html"]
    sent = row(store, nid)
    assert sent.state == "sent" and sent.sent_at == T0 and sent.attempts == 1
    # The log holds exactly the text part that went out.
    assert sent.body.strip() == parts["text/plain"].strip()
    (attempt,) = attempts(store, nid)
    assert attempt.outcome == "sent" and attempt.result["services"][0]["status"] == "SUCCESS"
    assert any("Sent Email" in line["message"] for line in attempt.result["services"][0]["logs"])


def test_chat_and_sms_arrive_with_right_content(store: Store, sink: Sink, twilio: Sink) -> None:
    chat = channel("chat", f"json://{sink.url()}?:to={{email}}")
    sms = channel("sms", twilio_url(), ("shipped",), kind="sms")
    s = settings(chat, sms)
    ids = queue(store, s)
    assert run(store, s, Clock()).sent == 2
    (req,) = sink.requests
    assert req["payload"]["to"] == "ada@example.com"
    assert "Order **\\#1001** shipped with UPS" in req["payload"]["message"]
    assert sink.ids() == [ids[0]]
    (sms_req,) = twilio.requests
    assert sms_req["path"].endswith(f"/Accounts/{'AC' + '0123456789abcdef' * 2}/Messages.json")
    assert sms_req["payload"]["To"] == "+447700900123"
    assert sms_req["payload"]["Body"].startswith(
        "Example Shop: your order #1001 has shipped with UPS."
    )


def test_temporary_failures_back_off_then_die_and_raise_attention(store: Store, sink: Sink) -> None:
    sink.status = 503
    chat = channel("chat", f"json://{sink.url()}?:to={{email}}")
    team = channel("team", f"json://{sink.url('/team')}", ("attention",), audience="team")
    s = settings(chat, team, max_attempts=3, backoff_base_seconds=60, backoff_max_seconds=100)
    (nid,) = queue(store, s)
    clock = Clock()
    assert run(store, s, clock).retried == 1
    first = row(store, nid)
    assert first.state == "pending" and first.attempts == 1
    assert first.next_attempt_at == T0 + timedelta(seconds=60)  # rng=1.0: the full window
    assert "503" in (first.last_error or "")
    # Not due yet: nothing is sent.
    assert run(store, s, clock).claimed == 0
    clock.now = first.next_attempt_at
    run(store, s, clock)
    second = row(store, nid)
    assert second.next_attempt_at == clock.now + timedelta(seconds=100)  # capped by backoff_max
    clock.now = second.next_attempt_at
    sink.status = 200  # the team channel works again; the customer's message is dead anyway
    sink.body = lambda r: (503, None) if r["path"] == "/hook" else (200, None)
    counters = run(store, s, clock)
    assert counters.dead == 1
    dead = row(store, nid)
    assert (
        dead.state == "dead"
        and dead.attempts == 3
        and dead.state_reason.startswith("gave up after 3 attempts")
    )
    assert [a.outcome for a in attempts(store, nid)] == ["failed", "failed", "failed"]
    with store.read_connection() as conn:
        item = conn.execute(sa.select(_att)).one()
        team_rows = conn.execute(sa.select(_n).where(_n.c.channel == "team")).all()
    assert (item.reason, item.notification_id) == ("notification_failed", nid)
    # The team heard about it (a second pass sends the team's message).
    assert len(team_rows) == 1 and "a customer notification failed" in team_rows[0].body
    run(store, s, clock)
    assert any(r["path"] == "/team" for r in sink.requests)


def test_sms_timeout_is_unknown_and_not_retried(store: Store, twilio: Sink) -> None:
    twilio.delay = 2.5
    sms = channel("sms", twilio_url(), ("shipped",), kind="sms")
    s = settings(sms, send_timeout_seconds=0.5, lease_seconds=30)
    (nid,) = queue(store, s)
    counters = run(store, s, Clock())
    assert counters.unknown == 1
    found = row(store, nid)
    assert found.state == "unknown" and "may have been delivered" in found.state_reason
    assert attempts(store, nid)[0].outcome == "timeout"
    with store.read_connection() as conn:
        assert conn.execute(sa.select(_att.c.reason)).scalar_one() == "notification_failed"
    assert run(store, s, Clock(T0 + timedelta(days=1))).claimed == 0


def test_chat_timeout_is_retried(store: Store, sink: Sink) -> None:
    sink.delay = 2.5
    chat = channel("chat", f"json://{sink.url()}?:to={{email}}")
    s = settings(chat, send_timeout_seconds=0.5, lease_seconds=30)
    (nid,) = queue(store, s)
    assert run(store, s, Clock()).retried == 1
    assert row(store, nid).state == "pending"


def test_expired_lease_is_unknown_for_sms_and_retried_for_chat(store: Store) -> None:
    chat = channel("chat", "json://127.0.0.1:9/hook?:to={email}")
    sms = channel("sms", twilio_url(), ("shipped",), kind="sms")
    s = settings(chat, sms, lease_seconds=60)
    ids = queue(store, s)
    with store.write_connection() as conn:
        claimed = outbox.claim(
            conn,
            worker="crashed-worker",
            channels={"chat", "sms"},
            limit=10,
            now=T0,
            lease_seconds=60,
        )
    assert len(claimed) == 2
    counters = outbox.Counters()
    with store.write_connection() as conn:
        outbox.expire_leases(conn, s, now=T0 + timedelta(seconds=30), counters=counters)
    assert counters.expired == 0
    with store.write_connection() as conn:
        outbox.expire_leases(
            conn, s, now=T0 + timedelta(seconds=61), counters=counters, rng=lambda: 0.5
        )
    states = {row(store, i).channel: row(store, i) for i in ids}
    assert (
        states["sms"].state == "unknown"
        and "crashed-worker stopped while sending" in states["sms"].state_reason
    )
    assert states["chat"].state == "pending" and states["chat"].attempts == 1
    assert [a.outcome for a in attempts(store, states["sms"].id)] == ["unknown"]


def test_opt_out_suppresses_the_number(store: Store, twilio: Sink) -> None:
    twilio.status = 400
    twilio.body = {
        "code": 21610,
        "message": "Attempt to send to unsubscribed recipient",
        "more_info": "https://www.twilio.com/docs/errors/21610",
        "status": 400,
    }
    sms = channel("sms", twilio_url(), ("shipped",), kind="sms")
    s = settings(sms)
    (nid,) = queue(store, s)
    assert run(store, s, Clock()).suppressed == 1
    found = row(store, nid)
    assert found.state == "suppressed" and "opted out" in found.state_reason
    with store.read_connection() as conn:
        sup = conn.execute(sa.select(_sup)).one()
    assert (sup.address, sup.source) == ("+447700900123", "provider")
    # The next order for the same phone is suppressed at once, and never sent.
    (later,) = queue(store, s, number="#1002")
    assert row(store, later).state == "suppressed"
    assert len(twilio.requests) == 1


def test_suppressed_after_queueing_is_not_sent(store: Store, sink: Sink) -> None:
    chat = channel("chat", f"json://{sink.url()}?:to={{email}}")
    s = settings(chat)
    (nid,) = queue(store, s)
    with store.write_connection() as conn:
        outbox.suppress(conn, "ada@example.com", reason=None, by="t", now=T0)
    assert run(store, s, Clock()).claimed == 0
    assert row(store, nid).state == "suppressed" and sink.requests == []


def test_many_concurrent_sends_each_once(store: Store, sink: Sink) -> None:
    sink.delay = 0.02
    chat = channel("chat", f"json://{sink.url()}?:to={{email}}")
    s = settings(chat, concurrency=8)
    ids = [
        i
        for n in range(40)
        for i in queue(
            store, s, number=f"#{2000 + n}", email=f"c{n}@example.com", email_normalized=None
        )
    ]
    counters = run(store, s, Clock())
    assert counters.sent == 40
    assert sorted(sink.ids()) == sorted(ids)
