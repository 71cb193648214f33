"""Putting the engine together: the parts ``orderdeck sync`` and the console run.

This is where a status change meets the notification rules: the poller (and
ingest) are given :func:`notification_hook`, which turns their changes into
outbox rows inside the very transaction that stored the change.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy.engine import Connection

from notifiers import rules
from notifiers.changes import Change
from notifiers.settings import NotifySettings
from store.engine import Store
from store.types import utcnow
from sync.clock import Clock
from sync.service import Part
from sync.settings import ENGINE_PARTS, SyncSettings

log = logging.getLogger("orderdeck.sync")

OnChanges = Callable[[Connection, list[Change]], None]

PART_NAMES = ENGINE_PARTS


def notification_hook(notify: NotifySettings, clock: Clock | None = None) -> OnChanges:
    """Changes -> outbox rows, in the caller's transaction (a no-op without channels).

    ``clock`` is the engine's (the sandbox's accelerated one in the demo), so quiet
    hours and schedules agree with the poller's idea of now.
    """

    def hook(conn: Connection, changes: list[Change]) -> None:
        if changes:
            rules.apply(conn, notify, changes, now=clock.now() if clock else utcnow())

    return hook


class PollerPart:
    """The poller as an engine part: claims due shipments, asks carriers, stores results."""

    name = "poller"

    def __init__(
        self, store: Store, sync: SyncSettings, notify: NotifySettings, **options: Any
    ) -> None:
        self.store, self.sync, self.notify, self.options = store, sync, notify, options

    def _poller(self) -> Any:
        from sync.poller import Poller

        hook = notification_hook(self.notify, self.options.get("clock"))
        return Poller(self.store, self.sync, on_changes=hook, **self.options)

    async def run_once(self) -> Mapping[str, int]:
        async with self._poller() as poller:
            return dict(await poller.run_once())

    async def run(self, stop: asyncio.Event) -> None:
        async with self._poller() as poller:
            waker = asyncio.create_task(_wake_on_intents(self.store, poller, stop))
            try:
                await poller.run(stop)
            finally:
                waker.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await waker


#: Change kinds after which shipments may be due at once: new shipments from a file,
#: an operator's "poll now" (from a console, perhaps on another machine).
WAKE_KINDS = frozenset({"ingest", "poll_now"})


async def _wake_on_intents(
    store: Store, poller: Any, stop: asyncio.Event, interval: float = 1.0
) -> None:
    """Start a poll pass within a second of new work, instead of at the next timer."""
    from store import changes

    try:
        feed = await asyncio.to_thread(changes.ChangeFeed, store, fallback_seconds=interval * 5)
    except Exception as exc:  # the poller still runs on its timer
        log.warning("poller: change feed unavailable (%s); polling on the timer only", exc)
        return
    seen = feed.seq

    def check() -> bool:
        nonlocal seen
        latest = feed.poll()
        if latest is None:
            return False
        with store.read_connection() as conn:
            kinds = {c.kind for c in changes.changes_since(conn, seen, limit=500)}
        seen = latest
        return bool(kinds & WAKE_KINDS)

    try:
        while not stop.is_set():
            try:
                if await asyncio.to_thread(check):
                    poller.wake()
            except Exception as exc:
                log.debug("poller: change feed check failed: %s", exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=interval)
    finally:
        await asyncio.to_thread(feed.close)


class DispatcherPart:
    """The notification dispatcher as an engine part."""

    name = "dispatcher"

    def __init__(self, store: Store, notify: NotifySettings, **options: Any) -> None:
        self.store, self.notify, self.options = store, notify, options

    def _dispatcher(self) -> Any:
        from notifiers.dispatch import Dispatcher

        return Dispatcher(self.store, self.notify, **self.options)

    async def run_once(self) -> Mapping[str, int]:
        dispatcher = self._dispatcher()
        try:
            return dict((await dispatcher.run_once()).as_dict())
        finally:
            await asyncio.to_thread(dispatcher.close)

    async def run(self, stop: asyncio.Event) -> None:
        dispatcher = self._dispatcher()

        async def stop_claiming() -> None:
            await stop.wait()
            dispatcher.stop_claiming()

        watcher = asyncio.create_task(stop_claiming())
        try:
            await dispatcher.run(stop)
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
            await asyncio.to_thread(dispatcher.close)


def make_parts(
    store: Store,
    sync: SyncSettings,
    notify: NotifySettings,
    *,
    only: Sequence[str] = PART_NAMES,
    poller_options: Mapping[str, Any] | None = None,
    dispatcher_options: Mapping[str, Any] | None = None,
) -> list[Part]:
    """The parts to run, in pass order: ingest first, so new shipments get polled."""
    parts: list[Part] = []
    if "ingest" in only:
        from sync.ingest import DropFolderWatcher

        clock = (poller_options or {}).get("clock")
        parts.append(DropFolderWatcher(store, sync, on_changes=notification_hook(notify, clock)))
    if "poller" in only:
        parts.append(PollerPart(store, sync, notify, **dict(poller_options or {})))
    if "dispatcher" in only:
        parts.append(DispatcherPart(store, notify, **dict(dispatcher_options or {})))
    return parts
