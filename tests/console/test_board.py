"""The board, driven by keys: search, filters, sorts, detail and back, palette, help."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Callable
from datetime import timedelta

import pytest
import sqlalchemy as sa

from console.app import OrderdeckApp
from console.screens.attention import AttentionScreen
from console.screens.board import BoardScreen
from console.screens.detail import DetailScreen
from console.screens.help import HelpScreen
from console.screens.modals import ChoiceScreen
from console.screens.notifications import NotificationsScreen
from store import changes
from store.engine import Store
from store.migrate import open_store
from store.models import Order
from store.settings import StoreSettings
from store.summary import refresh_orders
from tests.console.conftest import (
    ORDERS,
    header_ready,
    list_ready,
    make_app,
    screen_text,
    wait_for,
)
from tests.console.data import NOW, generate

_orders = Order.__table__  # type: ignore[attr-defined]


def board_of(app: OrderdeckApp):  # type: ignore[no-untyped-def]
    return app.screen.query_one("#board")


async def test_board_shows_orders_header_and_counts(
    app_factory: Callable[..., OrderdeckApp],
) -> None:
    app = app_factory()
    async with app.run_test(size=(160, 50)) as pilot:
        await wait_for(pilot, list_ready(app, "#board"))
        await wait_for(pilot, header_ready(app))
        text = screen_text(app)
        assert f"{ORDERS} orders" in text
        assert "○ engine: not running" in text
        assert "ORDER" in text and "CUSTOMER" in text and "ATTENTION" in text
        board = board_of(app)
        assert board.total == ORDERS
        first = board.current
        assert first is not None and first.number in text
        assert sum(app.health.statuses.values()) == ORDERS


async def test_search_is_live_with_an_indicator_and_escape_clears(
    app_factory: Callable[..., OrderdeckApp], demo_store: Store
) -> None:
    with demo_store.read_connection() as conn:
        expected = conn.execute(
            sa.select(sa.func.count()).where(_orders.c.search_text.like("%muller%"))
        ).scalar_one()
    assert expected > 0
    app = app_factory()
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_for(pilot, list_ready(app, "#board"))
        await pilot.press("slash", *"MÜLLER")
        await wait_for(pilot, lambda: board_of(app).known and board_of(app).total == expected)
        text = screen_text(app)
        assert "/MÜLLER" in text
        assert f"{expected} match" in text
        assert all("Müller" in (r.customer_name or "") for r in board_of(app).visible_rows())
        await pilot.press("enter")  # back to the list, filter kept
        assert board_of(app).has_focus
        await pilot.press("escape")  # clears the search
        await wait_for(pilot, lambda: board_of(app).known and board_of(app).total == ORDERS)
        assert "/MÜLLER" not in screen_text(app)


async def test_quick_filters_and_sort(app_factory: Callable[..., OrderdeckApp]) -> None:
    app = app_factory()
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_for(pilot, list_ready(app, "#board"))
        await pilot.press("f")
        assert isinstance(app.screen, ChoiceScreen)
        # all statuses, exception, failed attempt, unfulfilled, pending, info received, in transit
        await pilot.press("down", "down", "down", "down", "down", "down", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, BoardScreen) and board_of(app).known)
        rows = board_of(app).visible_rows()
        assert rows and {r.status for r in rows} == {"in_transit"}
        assert "status in transit" in screen_text(app)
        await pilot.press("a")
        await pilot.press("down", "enter")  # any attention reason
        await wait_for(pilot, lambda: isinstance(app.screen, BoardScreen) and board_of(app).known)
        rows = board_of(app).visible_rows()
        assert all(r.attention and r.status == "in_transit" for r in rows)
        await pilot.press("escape")  # clears every filter
        await wait_for(pilot, lambda: board_of(app).known and board_of(app).total == ORDERS)
        await pilot.press("c")
        await wait_for(pilot, lambda: isinstance(app.screen, ChoiceScreen))
        await pilot.press("down", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, BoardScreen) and board_of(app).known)
        carriers = {r.carrier for r in board_of(app).visible_rows()}
        assert len(carriers) == 1
        await pilot.press("escape")
        await wait_for(pilot, lambda: board_of(app).known and board_of(app).total == ORDERS)
        await pilot.press("s")  # estimated delivery, soonest first
        await wait_for(pilot, lambda: board_of(app).known and board_of(app).current is not None)
        assert "estimated delivery ▲" in screen_text(app)
        etas = [r.estimated_delivery for r in board_of(app).visible_rows() if r.estimated_delivery]
        assert etas == sorted(etas)


async def test_enter_opens_detail_and_escape_returns_to_the_same_order(
    app_factory: Callable[..., OrderdeckApp],
) -> None:
    app = app_factory()
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, list_ready(app, "#board"))
        await pilot.press("down", "down", "down", "pagedown", "up")
        chosen = board_of(app).current
        assert chosen is not None
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, DetailScreen) and app.screen.story)
        assert f"Order {chosen.number}" in screen_text(app)
        await pilot.press("escape")
        assert isinstance(app.screen, BoardScreen)
        assert board_of(app).current.id == chosen.id


async def test_end_and_home_page_through_the_whole_board(
    app_factory: Callable[..., OrderdeckApp],
) -> None:
    app = app_factory()
    async with app.run_test(size=(100, 24)) as pilot:
        await wait_for(pilot, list_ready(app, "#board"))
        await pilot.press("end")
        await wait_for(pilot, lambda: board_of(app).current is not None)
        assert board_of(app).cursor == ORDERS - 1
        last = board_of(app).current
        await pilot.press("home")
        await wait_for(pilot, lambda: board_of(app).current is not None)
        assert board_of(app).cursor == 0 and board_of(app).current.id != last.id
        for _ in range(3):
            await pilot.press("pagedown")
        await wait_for(pilot, lambda: board_of(app).current is not None)
        assert board_of(app).cursor > 40


async def test_views_palette_and_help(app_factory: Callable[..., OrderdeckApp]) -> None:
    app = app_factory()
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_for(pilot, list_ready(app, "#board"))
        await pilot.press("2")
        assert isinstance(app.screen, AttentionScreen)
        await pilot.press("3")
        assert isinstance(app.screen, NotificationsScreen)
        await pilot.press("1")
        assert isinstance(app.screen, BoardScreen)
        await pilot.press("colon")
        await pilot.press(*"attention queue")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, AttentionScreen))
        await pilot.press("1", "colon", *"#100042")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, DetailScreen) and app.screen.story)
        assert "Order #100042" in screen_text(app)
        await pilot.press("escape", "question_mark")
        assert isinstance(app.screen, HelpScreen)
        text = screen_text(app)
        for expected in ("board.search", "board.sort", "app.commands", "Search", "Sort"):
            assert expected in text
        await pilot.press("escape")
        assert isinstance(app.screen, BoardScreen)


async def test_keymap_remaps_by_binding_id(app_factory: Callable[..., OrderdeckApp]) -> None:
    app = app_factory(keymap={"board.search": "ctrl+f", "board.sort": "o"})
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_for(pilot, list_ready(app, "#board"))
        await pilot.press("s")  # no longer the sort key
        assert "last update" in screen_text(app)
        await pilot.press("o")
        await wait_for(pilot, lambda: "estimated delivery" in screen_text(app))
        await pilot.press("slash")
        assert board_of(app).has_focus
        await pilot.press("ctrl+f")
        assert app.screen.query_one("#search").has_focus
        await pilot.press("escape", "question_mark")
        assert "^f" in screen_text(app) or "ctrl+f" in screen_text(app)


async def test_markup_and_escapes_in_customer_text_show_as_typed(
    app_factory: Callable[..., OrderdeckApp], demo_store: Store
) -> None:
    evil = "[bold red]Eve[/] [link=http://evil.example]x[/link] \x1b]0;pwned\x07\x1b[31mred\x9b2J"
    with demo_store.write_connection() as conn:
        conn.execute(
            sa.update(_orders)
            .where(_orders.c.id == ORDERS)
            .values(customer_name=evil, note="[blink]note[/blink]\x1b[2J", changed_at=NOW)
        )
        refresh_orders(conn, [ORDERS], now=NOW)
    app = app_factory()
    async with app.run_test(size=(160, 40)) as pilot:
        await pilot.press("slash", *"[bold")
        await wait_for(pilot, lambda: board_of(app).known and board_of(app).total == 1)
        text = screen_text(app)
        assert "[bold red]Eve[/] [link=http://evil" in text
        assert "\x1b" not in text and "\x9b" not in text and "pwned\x07" not in text
        await pilot.press("enter", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, DetailScreen) and app.screen.story)
        text = screen_text(app)
        assert "[bold red]Eve[/]" in text and "]0;pwned" in text
        assert "[blink]note[/blink]" in text
        assert "\x1b" not in text


async def test_a_commit_from_another_process_shows_on_the_board(
    app_factory: Callable[..., OrderdeckApp], demo_store: Store
) -> None:
    app = app_factory()
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_for(pilot, list_ready(app, "#board"))
        await wait_for(pilot, header_ready(app))
        before = board_of(app).current
        script = textwrap.dedent(
            f"""
            from datetime import timedelta
            import sqlalchemy as sa
            from store import changes
            from store.migrate import open_store
            from store.models import Order
            from store.settings import StoreSettings
            from store.summary import refresh_orders
            from tests.console.data import NOW
            t = Order.__table__
            store = open_store(StoreSettings(url={str(demo_store.url)!r}))
            with store.write_connection() as conn:
                conn.execute(sa.update(t).where(t.c.id == 3).values(
                    customer_name="Live Update Person"))
                refresh_orders(conn, [3], now=NOW + timedelta(minutes=5))
                changes.record(conn, "test", [3])
            """
        )
        subprocess.run([sys.executable, "-c", script], check=True, timeout=60)
        await wait_for(pilot, lambda: "Live Update Person" in screen_text(app))
        board = board_of(app)
        top = board.visible_rows()[0]
        assert top.id == 3 and top.customer_name == "Live Update Person"
        assert 3 in board._highlight  # briefly highlighted
        assert board.current.id == before.id  # the cursor stayed on its order


@pytest.mark.postgres
async def test_board_search_and_live_on_postgresql(pg_url: str) -> None:
    store = open_store(StoreSettings(url=pg_url))
    try:
        generate(store, 60)
        app = make_app(store)
        async with app.run_test(size=(120, 30)) as pilot:
            await wait_for(pilot, list_ready(app, "#board"))
            await pilot.press("slash", *"#10005")
            await wait_for(pilot, lambda: board_of(app).known and board_of(app).total == 10)
            assert all(r.number.startswith("#10005") for r in board_of(app).visible_rows())
            await pilot.press("escape", "escape")
            await wait_for(pilot, lambda: board_of(app).known and board_of(app).total == 60)
            with store.write_connection() as conn:
                conn.execute(
                    sa.update(_orders).where(_orders.c.id == 2).values(customer_name="Pg Live")
                )
                refresh_orders(conn, [2], now=NOW + timedelta(minutes=5))
                changes.record(conn, "test", [2])
            await wait_for(pilot, lambda: "Pg Live" in screen_text(app))
    finally:
        store.dispose()


async def test_no_color_runs_in_monochrome(
    app_factory: Callable[..., OrderdeckApp], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    app = app_factory()
    assert app.no_color
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, list_ready(app, "#board"))
        text = screen_text(app)
        assert "ORDER" in text and "orders" in text
