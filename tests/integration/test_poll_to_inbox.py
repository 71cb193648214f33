"""A status change from the poller produces exactly the configured notifications, and
they arrive at a real SMTP server and a real chat webhook on loopback."""

from __future__ import annotations

import json

from sqlmodel import col, select

from notifiers.settings import Channel
from store.engine import Store
from store.models import Notification, Shipment
from sync.assembly import DispatcherPart, PollerPart, make_parts
from sync.sandbox import SandboxClock, SandboxServer
from tests.notify.conftest import Mailbox, Sink, channel, settings
from tests.tracking.conftest import add_shipments, sync_settings


def _set_email(store: Store, email: str) -> None:
    from store.models import Order

    with store.write() as s:
        for order in s.exec(select(Order)):
            order.email, order.email_normalized, order.email_valid = email, email, True
            s.add(order)


async def test_poll_changes_become_delivered_messages(
    store: Store,
    sandbox: SandboxServer,
    clock: SandboxClock,
    smtp: Mailbox,
    sink: Sink,
) -> None:
    [shipment_id] = add_shipments(store, ["SBFAILED1"])
    _set_email(store, "ada@example.com")
    email = channel(
        "email",
        f"mailto://127.0.0.1:{smtp.port}?from=shop@example.com&to={{email}}&mode=insecure",
        ("shipped", "out_for_delivery", "failed_attempt", "delivered"),
        kind="email",
    )
    team = Channel("team", f"json://127.0.0.1:{sink.port}/hook", ("attention",), "team", "chat")
    notify = settings(email, team)
    sync = sync_settings(sandbox)
    story = sandbox.story("SBFAILED1")

    # First look, just after the failed attempt: shipped + failed_attempt to the customer,
    # and the team hears about the failed_attempt attention reason.
    clock.set(story.first("FA").at)
    poller = PollerPart(store, sync, notify, clock=clock)
    assert (await poller.run_once())["polled"] == 1
    with store.read() as s:
        rows = s.exec(select(Notification).order_by(col(Notification.id))).all()
    assert [(r.channel, r.event) for r in rows] == [
        ("email", "shipped"),
        ("email", "failed_attempt"),
        ("team", "attention"),
    ]
    dispatcher = DispatcherPart(store, notify, clock=clock.now)
    counters = await dispatcher.run_once()
    with store.read() as s:
        states = [(r.state, r.last_error, r.next_attempt_at) for r in s.exec(select(Notification))]
    assert counters["sent"] == 3, (counters, states)

    subjects = sorted(m[2]["Subject"] for m in smtp.messages)
    assert len(subjects) == 2 and all(m[1] == ["ada@example.com"] for m in smtp.messages)
    assert all(m[2]["X-Orderdeck-Notification"] for m in smtp.messages)
    assert len(sink.requests) == 1, sink.requests
    assert "attempt" in json.dumps(sink.requests[0]).lower(), sink.requests

    # Polling again at the same moment changes nothing and sends nothing.
    with store.write() as s:
        ship = s.get(Shipment, shipment_id)
        assert ship is not None
        ship.next_poll_at = clock.now()
        s.add(ship)
    await poller.run_once()
    assert (await dispatcher.run_once()).get("sent", 0) == 0

    # Delivered: exactly one more email.
    clock.set(story.first("DL").at)
    with store.write() as s:
        ship = s.get(Shipment, shipment_id)
        assert ship is not None
        ship.next_poll_at = clock.now()
        s.add(ship)
    await poller.run_once()
    assert (await dispatcher.run_once())["sent"] >= 1
    with store.read() as s:
        events = [
            r.event for r in s.exec(select(Notification).where(Notification.channel == "email"))
        ]
    assert events.count("delivered") == 1 and events.count("shipped") == 1
    assert len(smtp.messages) == len(events)


def test_make_parts_orders_and_names(store: Store, sandbox: SandboxServer) -> None:
    parts = make_parts(store, sync_settings(sandbox), settings())
    assert [p.name for p in parts] == ["ingest", "poller", "dispatcher"]
