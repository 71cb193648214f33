"""A small recording HTTP server on loopback that speaks like a carrier.

Each test registers what a path answers (a :class:`Reply`, a list of replies
served in turn, or a function of the :class:`Seen` request) and afterwards
reads back every request the adapter sent. An OAuth token endpoint that hands
out ``token-1``, ``token-2``... is built in, because three of the four carriers
need one.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

CLIENT_ID = "client-id-7Hq2"
CLIENT_SECRET = "s3cret-Zx9-never-shown"
API_KEY = "dhl-key-Qw8-never-shown"


@dataclass
class Reply:
    status: int = 200
    body: Any = None  # dict/list -> JSON; str/bytes -> as is
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0

    def payload(self) -> bytes:
        if self.body is None:
            return b""
        if isinstance(self.body, bytes):
            return self.body
        if isinstance(self.body, str):
            return self.body.encode()
        return json.dumps(self.body).encode()


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    def form(self) -> dict[str, list[str]]:
        return parse_qs(self.body.decode())

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


Route = Reply | list[Reply] | Callable[[Seen], Reply]


class Loopback:
    def __init__(self, token_path: str | None = None) -> None:
        self.routes: dict[tuple[str, str], Route] = {}
        self.seen: list[Seen] = []
        self.tokens_issued = 0
        self.token_path = token_path
        self.token_lifetime: Any = 3600
        #: Set to make the token endpoint refuse (e.g. Reply(401, {...})).
        self.token_reply: Reply | None = None
        self.valid_tokens: set[str] = set()
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                parts = urlsplit(self.path)
                seen = Seen(
                    method=self.command,
                    path=parts.path,
                    query=parse_qs(parts.query),
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=self.rfile.read(length) if length else b"",
                )
                reply = server.answer(seen)
                if reply.delay:
                    time.sleep(reply.delay)
                data = reply.payload()
                try:
                    self.send_response(reply.status)
                    content_type = "application/json"
                    for name, value in reply.headers.items():
                        if name.lower() == "content-type":
                            content_type = value
                        else:
                            self.send_header(name, value)
                    self.send_header("Content-Type", content_type)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            do_GET = do_POST = _serve

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> Loopback:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    # -- answers ---------------------------------------------------------------

    def on(self, method: str, path: str, route: Route) -> None:
        self.routes[(method, path)] = route

    def answer(self, seen: Seen) -> Reply:
        with self._lock:
            self.seen.append(seen)
            if self.token_path and seen.method == "POST" and seen.path == self.token_path:
                return self._token()
            route = self.routes.get((seen.method, seen.path))
            if route is None:
                for (method, prefix), candidate in self.routes.items():
                    if (
                        method == seen.method
                        and prefix.endswith("*")
                        and seen.path.startswith(prefix[:-1])
                    ):
                        route = candidate
                        break
            if route is None:
                return Reply(599, {"error": f"no route for {seen.method} {seen.path}"})
            if isinstance(route, list):
                return route.pop(0) if len(route) > 1 else route[0]
            if isinstance(route, Reply):
                return route
        return route(seen)

    def _token(self) -> Reply:
        if self.token_reply is not None:
            return self.token_reply
        self.tokens_issued += 1
        token = f"token-{self.tokens_issued}"
        self.valid_tokens.add(token)
        return Reply(
            200,
            {"access_token": token, "token_type": "Bearer", "expires_in": self.token_lifetime},
        )

    def authorized(self, seen: Seen) -> bool:
        header = seen.header("authorization") or ""
        return header.startswith("Bearer ") and header[7:] in self.valid_tokens

    # -- what was sent ---------------------------------------------------------

    def calls(self, path_prefix: str) -> list[Seen]:
        return [s for s in self.seen if s.path.startswith(path_prefix)]

    def token_calls(self) -> list[Seen]:
        return [s for s in self.seen if s.path == self.token_path]


def guarded(server: Loopback, inner: Callable[[Seen], Reply]) -> Callable[[Seen], Reply]:
    """Answer 401 unless the request carries a token the server issued."""

    def route(seen: Seen) -> Reply:
        if not server.authorized(seen):
            return Reply(401, {"errors": [{"code": "UNAUTHORIZED", "message": "Invalid token"}]})
        return inner(seen)

    return route
