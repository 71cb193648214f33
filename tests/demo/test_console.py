"""The demo's console, driven as a person would: the board fills with the dripped
orders, the attention queue opens on 2, q quits, and the demo then cleans up."""

from __future__ import annotations

from pathlib import Path

from console.screens.attention import AttentionScreen
from orderdeck.demo import DemoOptions, DemoSession
from orderdeck.demo.app import demo_app
from tests.console.conftest import screen_text, wait_for


async def test_demo_console_fills_the_board_and_cleans_up(tmp_path: Path) -> None:
    session = DemoSession(DemoOptions(orders=30, drip_seconds=1.0, parent=tmp_path)).start()
    folder = session.folder
    try:
        app = demo_app(session)
        async with app.run_test(size=(140, 40)) as pilot:
            await wait_for(pilot, lambda: "#1030" in screen_text(app), timeout=25)
            assert "orderdeck demo" in screen_text(app)
            # The in-process engine polls the sandbox: statuses reach the board.
            await wait_for(pilot, lambda: session.summary()["shipments_polled"] > 0, timeout=25)
            await pilot.press("2")
            await wait_for(pilot, lambda: isinstance(app.screen, AttentionScreen), timeout=10)
            assert "orderdeck demo attention" in screen_text(app)
            await pilot.press("q")
            await wait_for(pilot, lambda: not app.is_running, timeout=25)
        assert not app.keeper.running
    finally:
        session.close()
    assert not folder.exists()
    assert list(tmp_path.iterdir()) == []
