"""The service's log never carries customer data or secrets at INFO.

A real poll and a real send (loopback SMTP to the customer, a chat webhook with a
password in its URL) run with the service's logging set up as ``orderdeck sync``
does it; every line the log received is then searched for the customer's
address, name and phone, and for the password.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
from sqlmodel import select

from notifiers.settings import Channel
from orderdeck import logs
from store.engine import Store
from store.models import Notification, Order
from sync.assembly import DispatcherPart, PollerPart
from sync.sandbox import SandboxClock, SandboxServer
from tests.notify.conftest import Mailbox, Sink, channel, settings
from tests.tracking.conftest import add_shipments, sync_settings

EMAIL = "ada.lovelace@example.com"
NAME = "Ada Lovelace"
PHONE = "+447700900123"
PASSWORD = "hunter2-webhook-secret"


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    logs.setup(level="INFO", fmt="json", stream=stream, secrets=[PASSWORD])
    yield stream
    for handler in list(logging.getLogger().handlers):
        logging.getLogger().removeHandler(handler)


async def test_info_log_holds_no_customer_data_or_secret(
    store: Store,
    sandbox: SandboxServer,
    clock: SandboxClock,
    smtp: Mailbox,
    sink: Sink,
    log_lines: io.StringIO,
) -> None:
    add_shipments(store, ["SBFAILED7"])
    with store.write() as s:
        for order in s.exec(select(Order)):
            order.email, order.email_normalized, order.email_valid = EMAIL, EMAIL, True
            order.customer_name, order.phone = NAME, PHONE
            s.add(order)
    email = channel(
        "email",
        f"mailto://127.0.0.1:{smtp.port}?from=shop@example.com&to={{email}}&mode=insecure",
        ("shipped", "failed_attempt"),
        kind="email",
    )
    team = Channel(
        "team",
        f"json://orderdeck:{PASSWORD}@127.0.0.1:{sink.port}/hook",
        ("attention",),
        "team",
        "chat",
    )
    notify = settings(email, team)
    clock.set(sandbox.story("SBFAILED7").first("FA").at)
    await PollerPart(store, sync_settings(sandbox), notify, clock=clock).run_once()
    sent = (await DispatcherPart(store, notify, clock=clock.now).run_once()).get("sent", 0)

    assert sent == 3 and len(smtp.messages) == 2 and len(sink.requests) == 1
    assert smtp.messages[0][1] == [EMAIL]
    # The provider's own lines (which name the recipient) are kept with the notification.
    with store.read() as s:
        results = [n.result for n in s.exec(select(Notification)) if n.result]
    assert EMAIL in json.dumps(results)

    lines = [json.loads(line) for line in log_lines.getvalue().splitlines()]
    assert lines, "the service logged nothing at all"
    for line in lines:
        text = json.dumps(line)
        for private in (EMAIL, NAME, PHONE, PASSWORD):
            assert private not in text, (private, line)


def test_provider_warnings_stay_with_recipients_masked(log_lines: io.StringIO) -> None:
    apprise_log = logging.getLogger("apprise")
    apprise_log.info("Sent Email to %s", EMAIL)
    apprise_log.warning("Failed to send SMS to %s (%s).", "+44 7700 900123", EMAIL)
    logging.getLogger("orderdeck.service").info("part poller started")

    lines = [json.loads(line) for line in log_lines.getvalue().splitlines()]
    assert [(line["logger"], line["message"]) for line in lines] == [
        ("apprise", "Failed to send SMS to [phone] ([email])."),
        ("orderdeck.service", "part poller started"),
    ]
