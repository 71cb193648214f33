"""Fixtures for the console: a generated store, an app on it, screen helpers."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from console.app import OrderdeckApp
from console.context import ConsoleContext
from console.settings import ConsoleSettings
from notifiers.settings import Channel, NotifySettings
from store.engine import Store
from store.migrate import open_store
from store.settings import StoreSettings
from tests.console.data import NOW, generate
from tests.tracking.conftest import clock, sandbox  # noqa: F401  (a real sandbox carrier)

ORDERS = 120


@pytest.fixture
def demo_store(sqlite_url: str) -> Iterator[Store]:
    store = open_store(StoreSettings(url=sqlite_url))
    generate(store, ORDERS)
    try:
        yield store
    finally:
        store.dispose()


NOTIFY = NotifySettings(
    channels={
        "email": Channel(
            name="email",
            url="mailto://127.0.0.1:2525?from=shop@example.com&to={email}",
            events=("shipped", "delivered"),
            kind="email",
        ),
        "sms": Channel(
            name="sms", url="json://127.0.0.1:9/{phone}", events=("shipped",), kind="sms"
        ),
    },
    shop_name="Test Shop",
)


def make_app(store: Store, **settings: Any) -> OrderdeckApp:
    context = ConsoleContext(
        store=store,
        settings=ConsoleSettings(operator="tester", **settings),
        notify=NOTIFY,
        clock=lambda: NOW,
        feed_interval=0.1,
    )
    return OrderdeckApp(context)


@pytest.fixture
def app_factory(demo_store: Store) -> Callable[..., OrderdeckApp]:
    return lambda **settings: make_app(demo_store, **settings)


def screen_text(app: OrderdeckApp) -> str:
    """What a person sees, as text, one line per terminal row."""
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


async def wait_for(pilot: Any, condition: Callable[[], Any], timeout: float = 10.0) -> None:
    """Let workers run until ``condition()`` holds (no wall-clock assertion: just a cap)."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not condition():
        if loop.time() > end:
            raise AssertionError(f"timed out waiting for {condition}")
        await pilot.pause(0.05)
    await pilot.pause()


def list_ready(app: OrderdeckApp, selector: str) -> Callable[[], bool]:
    def ready() -> bool:
        try:
            widget = app.screen.query_one(selector)
        except Exception:
            return False
        return bool(widget.known and (widget.total == 0 or widget.current is not None))

    return ready


def header_ready(app: OrderdeckApp) -> Callable[[], bool]:
    return lambda: app.health is not None and app.health.loaded
