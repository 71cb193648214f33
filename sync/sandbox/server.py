"""The sandbox carrier: a real HTTP service on loopback (standard library only).

Start it in-process (tests, the demo, benchmarks)::

    with SandboxServer(seed=1, clock=SandboxClock(T0, speed=0)) as sandbox:
        sandbox.url            # http://127.0.0.1:PORT, a free port
        sandbox.clock.set(T0 + timedelta(days=2))
        sandbox.faults.update(error_rate=1.0)

or from the shell with ``orderdeck sandbox``. The API is documented in
``docs/sandbox.md``.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import logging
import math
import socket
import threading
import time
from datetime import datetime, timedelta
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from sync.sandbox.clock import SandboxClock
from sync.sandbox.faults import MALFORMED_KINDS, Dice, FaultError, Faults, RateWindow, Stats
from sync.sandbox.stories import VALID_NUMBER, World, normalize

log = logging.getLogger("orderdeck.sandbox")

API_VERSION = "v1"
MAX_BATCH = 50
MAX_BODY = 64 * 1024


class SandboxError(Exception):
    """The sandbox cannot start as asked (a busy port, a public address)."""


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], sandbox: SandboxServer) -> None:
        self.sandbox = sandbox
        super().__init__(address, _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hangs up mid-answer is routine here, not a traceback.
        log.debug("connection from %s ended with an error", client_address, exc_info=True)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "orderdeck-sandbox/1"
    #: An idle keep-alive connection is closed after this many seconds.
    timeout = 15
    server: _HTTPServer

    # --- plumbing -------------------------------------------------------------------

    def setup(self) -> None:
        super().setup()
        # Small answers go out at once, not after a delayed ACK (40 ms each).
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.sandbox._track(self.connection, True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.sandbox._track(self.connection, False)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        if self.server.sandbox.verbose:
            log.info('"%s" %s', self.requestline, code)

    def _send(
        self,
        status: int,
        body: bytes,
        *,
        content_type: str = "application/json",
        headers: dict[str, str] | None = None,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        # Headers and body in one write.
        self._headers_buffer.append(b"\r\n")
        self._headers_buffer.append(body)
        self.flush_headers()

    def _json(self, status: int, data: Any, headers: dict[str, str] | None = None) -> None:
        body = json.dumps(data, ensure_ascii=False).encode()
        self._send(status, body, headers=headers)

    def _error(
        self, status: int, code: str, message: str, headers: dict[str, str] | None = None
    ) -> None:
        self._json(status, {"error": {"code": code, "message": message}}, headers)

    def _read_body(self) -> None:
        """Read the whole body first, whatever the route, so that the next request
        on this keep-alive connection starts where it should."""
        self._body = b""
        length = self.headers.get("Content-Length")
        if length is None:
            return
        try:
            size = int(length)
        except ValueError:
            self.close_connection = True
            raise _BadRequest(400, "bad_request", "Content-Length is not a number") from None
        if size > MAX_BODY:
            self.close_connection = True
            raise _BadRequest(413, "too_large", f"bodies are at most {MAX_BODY} bytes")
        self._body = self.rfile.read(size)

    def _read_json(self) -> Any:
        if self.headers.get("Content-Length") is None:
            raise _BadRequest(HTTPStatus.LENGTH_REQUIRED, "length_required", "send Content-Length")
        try:
            return json.loads(self._body)
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise _BadRequest(400, "bad_json", "the body is not JSON") from None

    def _drop(self) -> None:
        """Close the connection without a word, as a crashed proxy would."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    # --- routing -------------------------------------------------------------------

    def do_GET(self) -> None:
        self._route("GET")

    def do_POST(self) -> None:
        self._route("POST")

    def do_PUT(self) -> None:
        self._route("PUT")

    def do_DELETE(self) -> None:
        self._route("DELETE")

    def _route(self, method: str) -> None:
        arrived = time.monotonic()
        split = urlsplit(self.path)
        parts = [unquote(p) for p in split.path.split("/") if p]
        query = parse_qs(split.query)
        try:
            self._read_body()
            if parts[:1] == ["_sandbox"]:
                self._control(method, parts[1:], query)
            elif parts[:1] == [API_VERSION]:
                self._api(method, parts[1:], arrived)
            else:
                self._error(404, "no_route", f"no such path {split.path!r}; see /{API_VERSION}/")
        except _BadRequest as exc:
            self._error(exc.status, exc.code, exc.message)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _api(self, method: str, parts: list[str], arrived: float) -> None:
        sandbox = self.server.sandbox
        if parts == ["health"] and method == "GET":
            self._json(200, {"ok": True, "now": sandbox.clock.now().isoformat()})
            return
        if parts[:1] != ["track"] or len(parts) > 2:
            self._error(404, "no_route", "try GET /v1/track/NUMBER or POST /v1/track")
            return
        if (len(parts) == 2) != (method == "GET") or method not in ("GET", "POST"):
            self._error(405, "method_not_allowed", "GET /v1/track/NUMBER or POST /v1/track")
            return
        body = self._read_json() if method == "POST" else None
        self._arrived = arrived
        faults = sandbox.faults
        wait = sandbox.admit(arrived)
        key = faults.api_key
        if key is not None and not self._authorized(key):
            sandbox.stats.answered("401", self._arrived)
            self._error(401, "unauthorized", "missing or wrong API key")
            return
        if wait is not None:
            sandbox.stats.answered("429", self._arrived)
            retry = max(1, math.ceil(wait))
            self._error(
                429,
                "rate_limited",
                f"more than {faults.rate_limit:g} requests per second",
                headers={"Retry-After": str(retry)},
            )
            return
        if not sandbox.sleep(faults.latency_ms, faults.latency_jitter_ms):
            self._drop()
            return
        if self._inject(faults):
            return
        now = sandbox.clock.now()
        if method == "GET":
            self._track_one(parts[1], now)
        else:
            self._track_many(body, now)

    def _authorized(self, key: str) -> bool:
        given = self.headers.get("X-Api-Key")
        auth = self.headers.get("Authorization", "")
        if auth.lower().startswith("bearer "):
            given = auth[7:].strip()
        return given == key

    def _inject(self, faults: Faults) -> bool:
        """Answer with a fault if the dice say so; True when one was sent."""
        sandbox = self.server.sandbox
        roll, pick = sandbox.dice.roll()
        edge = faults.drop_rate
        if roll < edge:
            sandbox.stats.answered("dropped", self._arrived)
            self._drop()
            return True
        edge += faults.timeout_rate
        if roll < edge:
            sandbox.stats.answered("timeout", self._arrived)
            sandbox.hang(faults.hang_seconds)
            self._drop()
            return True
        edge += faults.error_rate
        if roll < edge:
            status = (500, 502, 503)[int(pick * 3)]
            sandbox.stats.answered(str(status), self._arrived)
            if status == 502:
                self._send(
                    502, b"<html><body>502 Bad Gateway</body></html>", content_type="text/html"
                )
            else:
                self._error(status, "server_error", "the sandbox fell over (on purpose)")
            return True
        edge += faults.malformed_rate
        if roll < edge:
            kind = MALFORMED_KINDS[int(pick * len(MALFORMED_KINDS))]
            sandbox.stats.answered(f"malformed_{kind}", self._arrived)
            self._malformed(kind)
            return True
        return False

    def _malformed(self, kind: str) -> None:
        if kind == "truncated":
            self._send(200, b'{"tracking_number": "SB1", "status": {"code": "I')
        elif kind == "html":
            self._send(
                200,
                b"<!doctype html><title>Maintenance</title><p>Back soon.</p>",
                content_type="text/html",
            )
        elif kind == "shape":
            self._json(200, {"data": None, "results": "see attachment"})
        else:
            self._send(200, bytes(range(128, 256)), content_type="application/octet-stream")

    def _track_one(self, raw: str, now: datetime) -> None:
        sandbox = self.server.sandbox
        number = normalize(raw)
        if not VALID_NUMBER.match(number):
            sandbox.stats.answered("400", self._arrived)
            self._error(
                400, "invalid_number", f"{raw!r} is not a tracking number (4-40 letters or digits)"
            )
            return
        sandbox.stats.looked_up([number], self._arrived)
        view = sandbox.world.story(number).view(now)
        if view is None:
            sandbox.stats.answered("404", self._arrived, 1)
            self._error(404, "not_found", f"no parcel {number} (yet)")
            return
        sandbox.stats.answered("200", self._arrived, 1)
        self._json(200, view)

    def _track_many(self, body: Any, now: datetime) -> None:
        sandbox = self.server.sandbox
        numbers = body.get("tracking_numbers") if isinstance(body, dict) else None
        if not isinstance(numbers, list) or not all(isinstance(n, str) for n in numbers):
            sandbox.stats.answered("400", self._arrived)
            raise _BadRequest(400, "bad_request", 'send {"tracking_numbers": ["...", ...]}')
        if not 1 <= len(numbers) <= sandbox.max_batch:
            sandbox.stats.answered("400", self._arrived)
            raise _BadRequest(
                400, "bad_request", f"send 1 to {sandbox.max_batch} tracking numbers at once"
            )
        results = []
        sandbox.stats.looked_up(
            [n for n in map(normalize, numbers) if VALID_NUMBER.match(n)], self._arrived
        )
        for raw in numbers:
            number = normalize(raw)
            if not VALID_NUMBER.match(number):
                results.append(
                    {
                        "tracking_number": raw,
                        "found": False,
                        "error": {"code": "invalid_number", "message": "not a tracking number"},
                    }
                )
                continue
            view = sandbox.world.story(number).view(now)
            if view is None:
                results.append(
                    {
                        "tracking_number": number,
                        "found": False,
                        "error": {"code": "not_found", "message": f"no parcel {number} (yet)"},
                    }
                )
            else:
                results.append({"found": True, **view})
        sandbox.stats.answered("200", self._arrived, len(numbers))
        self._json(200, {"results": results})

    # --- control -------------------------------------------------------------------

    def _control(self, method: str, parts: list[str], query: dict[str, list[str]]) -> None:
        sandbox = self.server.sandbox
        route = (method, parts[0] if parts else "")
        if route == ("GET", "clock"):
            self._json(200, sandbox.clock.as_dict())
        elif route == ("PUT", "clock"):
            self._set_clock(self._read_json())
        elif route == ("GET", "faults"):
            self._json(200, sandbox.faults.as_dict())
        elif route == ("PUT", "faults"):
            body = self._read_json()
            if not isinstance(body, dict):
                raise _BadRequest(400, "bad_request", "send an object of knobs")
            try:
                sandbox.faults.update(**body)
            except FaultError as exc:
                raise _BadRequest(400, "bad_fault", str(exc)) from None
            self._json(200, sandbox.faults.as_dict())
        elif route == ("GET", "stats"):
            flags = {
                name: query.get(name, ["0"])[0] in ("1", "true", "yes")
                for name in ("arrivals", "numbers")
            }
            self._json(200, sandbox.stats.as_dict(**flags))
        elif route == ("DELETE", "stats"):
            sandbox.stats.reset()
            self._json(200, sandbox.stats.as_dict())
        elif route == ("GET", "stories") and len(parts) == 2:
            number = normalize(parts[1])
            if not VALID_NUMBER.match(number):
                raise _BadRequest(400, "invalid_number", f"{parts[1]!r} is not a tracking number")
            self._json(200, sandbox.world.story(number).as_dict())
        else:
            self._error(
                404,
                "no_route",
                "control paths: GET/PUT /_sandbox/clock, GET/PUT /_sandbox/faults, "
                "GET/DELETE /_sandbox/stats, GET /_sandbox/stories/NUMBER",
            )

    def _set_clock(self, body: Any) -> None:
        clock = self.server.sandbox.clock
        if not isinstance(body, dict) or not body.keys() <= {"now", "advance_seconds", "speed"}:
            raise _BadRequest(
                400,
                "bad_request",
                'send {"now": ISO} or {"advance_seconds": N}, and/or {"speed": X}',
            )
        try:
            if "speed" in body:
                clock.set_speed(float(body["speed"]))
            if "now" in body:
                when = datetime.fromisoformat(str(body["now"]))
                clock.set(when)
            if "advance_seconds" in body:
                clock.advance(timedelta(seconds=float(body["advance_seconds"])))
        except (TypeError, ValueError) as exc:
            raise _BadRequest(400, "bad_clock", str(exc)) from None
        self._json(200, clock.as_dict())


class _BadRequest(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = int(status)
        self.code = code
        self.message = message


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class SandboxServer:
    """The sandbox carrier; ``start()`` serves on a background thread, ``stop()`` ends it."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        seed: int = 0,
        clock: SandboxClock | None = None,
        speed: float = 1.0,
        spread_hours: float = 72.0,
        faults: Faults | None = None,
        max_batch: int = MAX_BATCH,
        allow_remote: bool = False,
        verbose: bool = False,
    ) -> None:
        if not allow_remote and not is_loopback(host):
            raise SandboxError(
                f"the sandbox serves made-up parcels; it listens on loopback only, not {host!r}"
            )
        self.host = host
        self.requested_port = port
        self.seed = seed
        self.clock = clock or SandboxClock(speed=speed)
        self.world = World(seed=seed, epoch=self.clock.epoch, spread_hours=spread_hours)
        self.faults = faults or Faults()
        self.faults.validate()
        self.max_batch = max_batch
        self.verbose = verbose
        self.stats = Stats()
        self.dice = Dice(seed)
        self._window = RateWindow()
        self._window_lock = threading.Lock()
        self._stopping = threading.Event()
        self._serving = threading.Event()
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- life -----------------------------------------------------------------------

    def bind(self) -> None:
        if self._httpd is not None:
            return
        self._stopping.clear()
        try:
            self._httpd = _HTTPServer((self.host, self.requested_port), self)
        except OSError as exc:
            raise SandboxError(
                f"cannot listen on {self.host}:{self.requested_port}: {exc.strerror or exc}"
            ) from None

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise SandboxError("the sandbox is not listening yet: call start()")
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def start(self) -> SandboxServer:
        """Serve on a background thread; returns at once."""
        self.bind()
        self._thread = threading.Thread(
            target=self.serve_forever, name=f"sandbox:{self.port}", daemon=True
        )
        self._thread.start()
        self._serving.wait(5)
        return self

    def serve_forever(self) -> None:
        """Serve on this thread until :meth:`stop` is called from another one (or Ctrl-C)."""
        self.bind()
        assert self._httpd is not None
        self._serving.set()
        try:
            self._httpd.serve_forever(poll_interval=0.1)
        finally:
            self._serving.clear()
            self._close()

    def stop(self) -> None:
        """Stop serving, end hanging requests and close every connection."""
        self._stopping.set()
        httpd = self._httpd
        if httpd is not None and self._serving.is_set():
            httpd.shutdown()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
            self._thread = None
        self._close()

    def _close(self) -> None:
        self._stopping.set()
        with self._connections_lock:
            open_now = list(self._connections)
            httpd, self._httpd = self._httpd, None
        for conn in open_now:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        if httpd is not None:
            httpd.server_close()

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    # --- for the handler ----------------------------------------------------------

    def _track(self, conn: socket.socket, opened: bool) -> None:
        with self._connections_lock:
            if opened:
                self._connections.add(conn)
            else:
                self._connections.discard(conn)

    def admit(self, at: float) -> float | None:
        with self._window_lock:
            return self._window.admit(self.faults.rate_limit, at)

    def sleep(self, latency_ms: float, jitter_ms: float) -> bool:
        """Wait out the latency; False if the sandbox is stopping meanwhile."""
        if latency_ms <= 0 and jitter_ms <= 0:
            return True
        extra = self.dice.roll()[0] * jitter_ms if jitter_ms > 0 else 0.0
        return not self._stopping.wait((latency_ms + extra) / 1000)

    def hang(self, seconds: float) -> None:
        self._stopping.wait(seconds)

    def story(self, number: str) -> Any:
        """The whole planned life of ``number`` (a :class:`~sync.sandbox.stories.Story`)."""
        return self.world.story(number)

    def describe(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "seed": self.seed,
            "clock": self.clock.as_dict(),
            "spread_hours": self.world.spread_hours,
            "faults": self.faults.as_dict(),
            "max_batch": self.max_batch,
        }
