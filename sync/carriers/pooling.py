"""An httpx transport that lends each request a connection of its own.

httpcore's connection pool (1.0.x) re-runs its assignment pass for every
request that loses a race for a connection, and each pass polls every idle
socket; with a dozen requests in flight to one host that bookkeeping took
about 40% of the poller's CPU (upstream: encode/httpcore#1035). This transport
keeps ``size`` single-connection transports and hands each request one that
nobody else is using, so httpcore's pool never has more than one connection
or one request to think about. Keep-alive, timeouts and TLS are httpx's own.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import httpx


class ExclusiveConnections(httpx.AsyncBaseTransport):
    def __init__(self, size: int, **transport_options: object) -> None:
        if size < 1:
            raise ValueError("at least one connection")
        self.size = size
        self._options = transport_options
        self._free: asyncio.Queue[httpx.AsyncHTTPTransport] | None = None
        self._all: list[httpx.AsyncHTTPTransport] = []

    def _queue(self) -> asyncio.Queue[httpx.AsyncHTTPTransport]:
        # Made on first use, inside the event loop that will use it.
        if self._free is None:
            self._free = asyncio.Queue()
            options = dict(self._options)
            # One TLS context for all (loading the CA bundle costs ~50 ms each).
            options.setdefault("verify", httpx.create_ssl_context())
            for _ in range(self.size):
                transport = httpx.AsyncHTTPTransport(
                    limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
                    **options,  # type: ignore[arg-type]
                )
                self._all.append(transport)
                self._free.put_nowait(transport)
        return self._free

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        free = self._queue()
        transport = await free.get()
        try:
            response = await transport.handle_async_request(request)
        except BaseException:
            free.put_nowait(transport)
            raise
        assert isinstance(response.stream, httpx.AsyncByteStream)
        return httpx.Response(
            status_code=response.status_code,
            headers=response.headers,
            stream=_Released(response.stream, lambda: free.put_nowait(transport)),
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        for transport in self._all:
            await transport.aclose()


class _Released(httpx.AsyncByteStream):
    """The response body; closing it gives the connection back."""

    def __init__(self, stream: httpx.AsyncByteStream, release: Callable[[], None]) -> None:
        self._stream = stream
        self._release: Callable[[], None] | None = release

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._stream:
            yield chunk

    async def aclose(self) -> None:
        try:
            await self._stream.aclose()
        finally:
            if self._release is not None:
                release, self._release = self._release, None
                release()
