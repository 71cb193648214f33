"""Local stand-ins for the outside world the notifications go to.

The demo sends real notifications through Apprise; they land here instead of in
customers' inboxes: :class:`Mailbox` is an SMTP server (aiosmtpd) and
:class:`ChatSink` a chat webhook receiver (Apprise's ``json://`` posts), both on
loopback in this process, counting what they received.
"""

from __future__ import annotations

import json
import socket
import threading
from collections import Counter, deque
from dataclasses import dataclass
from email import message_from_bytes
from email.header import decode_header, make_header
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from notifiers.dispatch import ID_HEADER

HOST = "127.0.0.1"


class NotificationIds:
    """Messages counted by the notification id orderdeck puts in each (``ID_HEADER``):
    how often each id arrived, and how many messages came without one."""

    def __init__(self) -> None:
        self.counts: Counter[int] = Counter()
        self.without_id = 0

    def add(self, value: str | None) -> None:
        if value and value.strip().isdigit():
            self.counts[int(value)] += 1
        else:
            self.without_id += 1


@dataclass(frozen=True)
class Delivery:
    """One message a sink received, as a line for a summary."""

    to: str
    subject: str


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


class Mailbox:
    """An SMTP server on loopback that accepts every message (no TLS, no login)."""

    def __init__(self, keep: int = 50) -> None:
        self.port = 0
        self.count = 0
        self.recent: deque[Delivery] = deque(maxlen=keep)
        self.ids = NotificationIds()
        self._lock = threading.Lock()
        self._controller: Any = None

    def start(self) -> Mailbox:
        from aiosmtpd.controller import Controller

        box = self

        class Handler:
            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
                message = message_from_bytes(envelope.content)
                subject = str(make_header(decode_header(message.get("Subject", ""))))
                with box._lock:
                    box.count += 1
                    box.ids.add(message.get(ID_HEADER))
                    box.recent.append(Delivery(", ".join(envelope.rcpt_tos), subject))
                return "250 OK"

        # aiosmtpd's controller connects to its own port to check it is up, so it
        # needs a real port number: take a free one, and another if it was taken since.
        for attempt in range(5):
            self.port = _free_port()
            controller = Controller(Handler(), hostname=HOST, port=self.port)
            try:
                controller.start()
            except Exception:
                if attempt == 4:
                    raise
                continue
            self._controller = controller
            break
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None


class ChatSink:
    """A webhook receiver on loopback: records every JSON POST, answers 200."""

    def __init__(self, keep: int = 50) -> None:
        self.count = 0
        self.by_path: Counter[str] = Counter()
        self.recent: deque[Delivery] = deque(maxlen=keep)
        self.ids = NotificationIds()
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the chat sink is not started")
        return int(self._server.server_address[1])

    def url(self, path: str) -> str:
        """An Apprise URL that posts JSON to ``path`` here."""
        return f"json://{HOST}:{self.port}/{path.lstrip('/')}"

    def start(self) -> ChatSink:
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    payload = json.loads(raw or b"null")
                except ValueError:
                    payload = None
                title = payload.get("title") if isinstance(payload, dict) else None
                body = payload.get("message") if isinstance(payload, dict) else None
                line = str(title or body or "").strip().splitlines()
                with sink._lock:
                    sink.count += 1
                    sink.ids.add(self.headers.get(ID_HEADER))
                    sink.by_path[self.path.split("?")[0]] += 1
                    sink.recent.append(Delivery(self.path, line[0] if line else ""))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass  # the console owns the terminal

        self._server = ThreadingHTTPServer((HOST, 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="demo-chat-sink", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None
