"""Sending due outbox rows through Apprise, concurrently, without blocking the loop.

One :class:`Dispatcher` per worker. ``await run_once()`` sends everything due now
and returns :class:`~notifiers.outbox.Counters`; ``await run(stop)`` keeps doing
that until ``stop`` is set (the sync service and the console drive it).

How Apprise is used:

- One ``Apprise`` object and one plugin instance per send. Apprise throttles per
  plugin *instance* (``request_rate_per_sec``: 5.5 s between e-mails on one
  object); a fresh instance has no previous request, so it never sleeps, and
  concurrency across recipients is ours to bound (``[notify] concurrency``).
  Providers' real rate limits come back as failures and are retried with backoff.
- ``async_notify`` runs the plugin's blocking ``send()`` in Apprise's own thread
  pool; our database work runs in one dedicated thread. The event loop only
  awaits.
- Results are read from ``AppriseResult``: per-service status, the privacy form of
  the URL, and the log lines captured at INFO. The ``apprise`` logger is kept at
  INFO: below that it logs payloads and credentials. Captured lines are masked
  for the channel's secrets before they are stored.
- A TIMEOUT is not a failure: the message may have gone. E-mail and SMS become
  ``unknown``; chat is retried.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import re
import socket
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any, TypeVar

from notifiers import outbox
from notifiers.outbox import Claimed, Counters, Outcome
from notifiers.settings import Channel, NotifySettings
from notifiers.urls import fill, privacy_url, secret_values
from store.engine import Store
from store.errors import OrderdeckError
from store.redact import SecretFilter, mask_secrets
from store.types import utcnow

log = logging.getLogger(__name__)

T = TypeVar("T")

#: The header that carries our notification id, on plugins that take headers.
ID_HEADER = "X-Orderdeck-Notification"

#: Provider answers that mean "never send to this address again". Matched against
#: the WARNING/INFO lines Apprise captures (which carry the provider's code).
_REFUSALS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\berror=21610\b"), "the recipient opted out (replied STOP)"),
    (re.compile(r"\berror=(21211|21614|21217|21401)\b"), "the provider says the number is invalid"),
    (re.compile(r"\berror=21612\b"), "the provider cannot reach this number by SMS"),
    (
        re.compile(r"SMTP recipient \S+ was refused: 5\d\d"),
        "the mail server refused the address",
    ),
    (
        re.compile(r"\b(unsubscribed recipient|opted[ -]out|has unsubscribed)\b", re.I),
        "the recipient opted out",
    ),
)


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def guard_apprise_logger() -> None:
    """Keep the ``apprise`` logger at INFO: DEBUG logs payloads and secrets, and
    above INFO the per-send capture would miss the provider's confirmations."""
    apprise_log = logging.getLogger("apprise")
    if apprise_log.level == logging.NOTSET or apprise_log.level < logging.INFO:
        apprise_log.setLevel(logging.INFO)


#: Masks channel secrets in every record of the ``apprise`` logger: Apprise names a
#: rejected token in its warnings, and those reach the service's log.
_SECRET_FILTER = SecretFilter()


def protect(urls: list[str]) -> None:
    """Mask the secrets of ``urls`` in anything Apprise logs from now on."""
    apprise_log = logging.getLogger("apprise")
    if _SECRET_FILTER not in apprise_log.filters:
        apprise_log.addFilter(_SECRET_FILTER)
    for url in urls:
        _SECRET_FILTER.secrets.update(secret_values(url))


def _result_dict(result: Any, secrets: list[str]) -> dict[str, Any]:
    """The per-service AppriseResult, JSON-ready, with secrets masked."""
    services = []
    for service in result:
        services.append(
            {
                "service": service.name,
                "url": mask_secrets(service.url, secrets),
                "status": service.status.name,
                "elapsed": round(service.elapsed, 3),
                "attempts": len(service),
                "logs": [
                    {
                        "level": entry.level,
                        "time": entry.time.isoformat(),
                        "message": mask_secrets(entry.message, secrets),
                    }
                    for entry in service.logs()
                ],
            }
        )
    calls = [
        {"level": e.level, "message": mask_secrets(e.message, secrets)} for e in result.call_logs()
    ]
    found: dict[str, Any] = {"status": result.status.name, "services": services}
    if calls:
        found["call_logs"] = calls
    return found


def classify(result: dict[str, Any]) -> tuple[str, str | None, str | None]:
    """(outcome, error, refusal) from a stored result dict."""
    status = result.get("status")
    if status == "SUCCESS":
        return "sent", None, None
    statuses = {s.get("status") for s in result.get("services", [])}
    lines = [
        line["message"]
        for s in result.get("services", [])
        for line in s.get("logs", [])
        if line.get("level") in ("WARNING", "ERROR", "INFO")
    ] + [line["message"] for line in result.get("call_logs", [])]
    error = next(
        (
            line["message"]
            for s in result.get("services", [])
            for line in s.get("logs", [])
            if line.get("level") in ("WARNING", "ERROR")
        ),
        None,
    ) or (lines[-1] if lines else f"Apprise reported {status}")
    if status == "TIMEOUT" or statuses == {"TIMEOUT"}:
        return "timeout", error, None
    for pattern, meaning in _REFUSALS:
        if any(pattern.search(line) for line in lines):
            return "refused", error, meaning
    return "failed", error, None


class Dispatcher:
    """Claims, sends and records; safe to run in many processes at once."""

    def __init__(
        self,
        store: Store,
        settings: NotifySettings,
        *,
        worker_id: str | None = None,
        clock: Callable[[], datetime] = utcnow,
        rng: Callable[[], float] = random.random,
    ) -> None:
        if settings.lease_seconds <= settings.send_timeout_seconds + 5:
            raise OrderdeckError(
                f"[notify] lease_seconds ({settings.lease_seconds:g}) must be longer than "
                f"send_timeout ({settings.send_timeout_seconds:g}) plus a margin of 5 s, or a "
                "slow send would be taken for a crashed one"
            )
        self.store = store
        self.settings = settings
        self.worker_id = worker_id or default_worker_id()
        self.clock = clock
        self.rng = rng
        self._db = ThreadPoolExecutor(1, thread_name_prefix="orderdeck-notify-db")
        self._stopping = False
        self._channels = {n: c for n, c in settings.channels.items() if c.enabled}
        self._secrets = {n: secret_values(c.url) for n, c in self._channels.items()}
        guard_apprise_logger()
        protect([c.url for c in settings.channels.values()])

    async def _in_db(self, fn: Callable[..., T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._db, fn, *args)

    # -- database steps (run in the db thread) --------------------------------

    def _expire(self, counters: Counters) -> None:
        with self.store.write_connection() as conn:
            outbox.expire_leases(
                conn, self.settings, now=self.clock(), counters=counters, rng=self.rng
            )

    def _finish_and_claim(
        self, outcomes: list[Outcome], limit: int, counters: Counters
    ) -> list[Claimed]:
        with self.store.write_connection() as conn:
            now = self.clock()
            outbox.finish(
                conn,
                self.settings,
                outcomes,
                worker=self.worker_id,
                now=now,
                counters=counters,
                rng=self.rng,
            )
            if limit <= 0:
                return []
            return outbox.claim(
                conn,
                worker=self.worker_id,
                channels=self._channels,
                limit=limit,
                now=now,
                lease_seconds=self.settings.lease_seconds,
                counters=counters,
            )

    def _next_due(self) -> datetime | None:
        with self.store.read_connection() as conn:
            return outbox.next_due(conn, self._channels)

    # -- sending ---------------------------------------------------------------

    def url_for(self, channel: Channel, row: Claimed) -> str:
        context = row.context or {}
        values = {
            "email": row.recipient if row.recipient and "@" in row.recipient else None,
            "phone": row.recipient if row.recipient and "@" not in row.recipient else None,
            "name": (context.get("customer") or {}).get("name"),
            "order": (context.get("order") or {}).get("number"),
        }
        return fill(channel.url, values, headers={ID_HEADER: str(row.id)})

    async def send(self, row: Claimed) -> Outcome:
        import apprise
        from apprise.common import NotifyFormat

        started = self.clock()
        channel = self._channels[row.channel]
        secrets = self._secrets[row.channel]

        def outcome(status: str, error: str | None, **kw: Any) -> Outcome:
            return Outcome(row.id, row.attempts, status, started, self.clock(), error, **kw)

        meta = row.meta
        fmt = meta.get("format") or ("html" if row.body_html else "text")
        body = row.body_html if fmt == "html" and row.body_html else row.body
        if not body:
            return outcome("invalid", "nothing to send: the message rendered empty")
        apobj = apprise.Apprise()
        if not apobj.add(self.url_for(channel, row)):
            return outcome(
                "invalid",
                f"channel {channel.name!r}: Apprise cannot load {privacy_url(channel.url)} "
                f"for recipient {row.recipient!r}",
            )
        timeout = self.settings.send_timeout_seconds
        try:
            result = await asyncio.wait_for(
                apobj.async_notify(
                    body=body,
                    title=row.subject or "",
                    body_format=NotifyFormat(fmt),
                    timeout=timeout,
                    log_level=logging.INFO,
                ),
                timeout=timeout + 5,
            )
        except TimeoutError:
            return outcome("timeout", f"no answer from Apprise within {timeout:g}s")
        except Exception as exc:  # a plugin bug must not take the dispatcher down
            message = mask_secrets(f"{type(exc).__name__}: {exc}", secrets)
            return outcome("failed", message)
        with result:
            data = _result_dict(result, secrets)
        data["channel_url"] = privacy_url(channel.url)
        status, error, refusal = classify(data)
        return outcome(status, error, result=data, refusal=refusal)

    # -- the loop ----------------------------------------------------------------

    async def run_once(self) -> Counters:
        """Send everything due now (and what falls due meanwhile); then return."""
        counters = Counters()
        if not self._channels:
            return counters
        await self._in_db(self._expire, counters)
        concurrency = max(1, self.settings.concurrency)
        refill = max(1, concurrency // 4)
        inflight: set[asyncio.Task[Outcome]] = set()
        finished: list[Outcome] = []
        exhausted = False
        while True:
            free = 0 if (exhausted or self._stopping) else concurrency - len(inflight)
            if finished or free >= refill or (free and not inflight):
                rows = await self._in_db(self._finish_and_claim, finished, free, counters)
                finished = []
                if free and not rows:
                    exhausted = True
                for row in rows:
                    inflight.add(asyncio.create_task(self.send(row)))
            if not inflight:
                if finished:
                    continue
                break
            done, inflight = await asyncio.wait(inflight, return_when=asyncio.FIRST_COMPLETED)
            finished.extend(task.result() for task in done)
        if any(counters.as_dict().values()):
            log.info(
                "notifications: %s",
                ", ".join(f"{k} {v}" for k, v in counters.as_dict().items() if v),
            )
        return counters

    async def run(self, stop: asyncio.Event, *, idle_seconds: float = 5.0) -> Counters:
        """Keep sending until ``stop`` is set; sleeps until the next row falls due."""
        totals = Counters()
        while not stop.is_set():
            self._stopping = False
            try:
                counters = await self.run_once()
            except OrderdeckError:
                raise
            except Exception:
                log.exception("notification dispatch pass failed; retrying shortly")
                counters = Counters()
            totals.add(counters)
            wait = idle_seconds
            if not counters.claimed:
                with contextlib.suppress(Exception):
                    due = await self._in_db(self._next_due)
                    if due is not None:
                        wait = min(idle_seconds, max(0.0, (due - self.clock()).total_seconds()))
            else:
                wait = 0.0
            if wait > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=wait)
        return totals

    def stop_claiming(self) -> None:
        """Finish what is in flight, claim nothing more (for a graceful stop)."""
        self._stopping = True

    def close(self) -> None:
        self._db.shutdown(wait=True)


def dispatch_once(store: Store, settings: NotifySettings, **kwargs: Any) -> Counters:
    """Run one dispatch pass from synchronous code (the CLI)."""
    dispatcher = Dispatcher(store, settings, **kwargs)
    try:
        return asyncio.run(dispatcher.run_once())
    finally:
        dispatcher.close()


__all__ = ["ID_HEADER", "Dispatcher", "classify", "dispatch_once"]
