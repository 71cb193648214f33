"""Real servers on loopback for the notification tests: an HTTP sink (json:// chat and
a Twilio-shaped SMS API), and an SMTP server (aiosmtpd)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import pytest
import sqlalchemy as sa

from notifiers.settings import Channel, NotifySettings, QuietHours
from store.engine import Store
from store.models import Order, Shipment

T0 = datetime(2025, 5, 6, 12, 0, tzinfo=UTC)


@dataclass
class Sink:
    """A loopback HTTP server that records every request and answers as told."""

    port: int = 0
    requests: list[dict[str, Any]] = field(default_factory=list)
    #: Status code to answer, and a JSON body; or a callable(request) -> (status, body).
    status: int = 200
    body: Any = None
    delay: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, path: str = "/hook") -> str:
        return f"127.0.0.1:{self.port}{path}"

    def ids(self) -> list[int]:
        return [
            int(r["headers"]["X-Orderdeck-Notification"])
            for r in self.requests
            if r["headers"].get("X-Orderdeck-Notification")
        ]


def _start_sink() -> tuple[Sink, ThreadingHTTPServer]:
    sink = Sink()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            ctype = self.headers.get("Content-Type", "")
            if "json" in ctype:
                payload: Any = json.loads(raw or b"null")
            else:
                payload = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
            if sink.delay:
                time.sleep(sink.delay)
            record = {"path": self.path, "headers": dict(self.headers), "payload": payload}
            status, body = (sink.status, sink.body)
            if callable(sink.body):
                status, body = sink.body(record)
            with sink.lock:
                sink.requests.append(record)
            data = json.dumps(body).encode() if body is not None else b""
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    sink.port = server.server_port
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return sink, server


@pytest.fixture
def sink() -> Iterator[Sink]:
    s, server = _start_sink()
    yield s
    server.shutdown()
    server.server_close()


@pytest.fixture
def twilio(monkeypatch: pytest.MonkeyPatch) -> Iterator[Sink]:
    """Twilio's Messages API on loopback: the plugin's endpoint is pointed at it."""
    from apprise.plugins.twilio import NotifyTwilio

    s, server = _start_sink()
    s.status, s.body = 201, {"sid": "SM123", "status": "queued"}
    monkeypatch.setattr(
        NotifyTwilio,
        "notify_sms_url",
        f"http://127.0.0.1:{s.port}/2010-04-01/Accounts/{{sid}}/Messages.json",
    )
    yield s
    server.shutdown()
    server.server_close()


TWILIO_SID = "AC" + "0123456789abcdef" * 2
TWILIO_TOKEN = "5ec7e70ce5ec7e70ce5ec7e70ce5ec7e"


def twilio_url() -> str:
    return f"twilio://{TWILIO_SID}:{TWILIO_TOKEN}@+15550001111/{{phone}}"


@dataclass
class Mailbox:
    port: int
    messages: list[tuple[str, list[str], Message]] = field(default_factory=list)


@pytest.fixture
def smtp() -> Iterator[Mailbox]:
    from aiosmtpd.controller import Controller

    box = Mailbox(port=0)

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            box.messages.append(
                (envelope.mail_from, list(envelope.rcpt_tos), message_from_bytes(envelope.content))
            )
            return "250 OK"

    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        box.port = probe.getsockname()[1]
    controller = Controller(Handler(), hostname="127.0.0.1", port=box.port)
    controller.start()
    yield box
    controller.stop()


def settings(*channels: Channel, **kw: Any) -> NotifySettings:
    base: dict[str, Any] = {
        "shop_name": "Example Shop",
        "timezone": "Europe/London",
        "lease_seconds": 60,
        "send_timeout_seconds": 10,
        "backoff_base_seconds": 60,
        "backoff_max_seconds": 3600,
        "max_attempts": 3,
    }
    base.update(kw)
    return NotifySettings(channels={c.name: c for c in channels}, **base)


def channel(
    name: str,
    url: str,
    events: tuple[str, ...] = (
        "shipped",
        "out_for_delivery",
        "delivered",
        "delayed",
        "exception",
        "failed_attempt",
        "available_for_pickup",
    ),
    *,
    audience: str = "customer",
    kind: str = "chat",
    quiet: tuple[str, str] | None = None,
) -> Channel:
    qh = None
    if quiet:
        from datetime import time as dtime

        qh = QuietHours(dtime.fromisoformat(quiet[0]), dtime.fromisoformat(quiet[1]))
    return Channel(name, url, events, audience, kind, qh)


_orders = Order.__table__  # type: ignore[attr-defined]
_shipments = Shipment.__table__  # type: ignore[attr-defined]


def add_order(store: Store, number: str = "#1001", **values: Any) -> int:
    row = {
        "source": "test",
        "external_id": number,
        "number": number,
        "customer_name": "Ada Lovelace",
        "email": "Ada@Example.com",
        "email_normalized": "ada@example.com",
        "phone": "+44 7700 900123",
        "phone_e164": "+447700900123",
        "imported_at": T0,
        "changed_at": T0,
    }
    row.update(values)
    with store.write_connection() as conn:
        return int(
            conn.execute(sa.insert(_orders).values(**row).returning(_orders.c.id)).scalar_one()
        )


def add_shipment(
    store: Store, order_id: int, number: str = "1Z999AA10123456784", **values: Any
) -> int:
    row = {
        "order_id": order_id,
        "carrier": "ups",
        "tracking_number": number,
        "status": "in_transit",
        "created_at": T0,
        "updated_at": T0,
    }
    row.update(values)
    with store.write_connection() as conn:
        return int(
            conn.execute(
                sa.insert(_shipments).values(**row).returning(_shipments.c.id)
            ).scalar_one()
        )
