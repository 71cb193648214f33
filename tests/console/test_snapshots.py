"""SVG snapshots of the four main views at 80x24 and 160x50.

Deterministic: a generated store (fixed seed) and a frozen clock. After a
deliberate change of the look, review and accept with
``pytest tests/console/test_snapshots.py --snapshot-update``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from console.app import OrderdeckApp
from console.screens.detail import DetailScreen
from tests.console.conftest import header_ready, list_ready, wait_for

SIZES = [(80, 24), (160, 50)]


def _ready(selector: str, keys: tuple[str, ...] = ()) -> Callable[[Any], Any]:
    async def run_before(pilot: Any) -> None:
        app = pilot.app
        await wait_for(pilot, list_ready(app, "#board"))
        await wait_for(pilot, header_ready(app))
        if keys:
            await pilot.press(*keys)
        if selector == "detail":
            await wait_for(pilot, lambda: isinstance(app.screen, DetailScreen) and app.screen.story)
        else:
            await wait_for(pilot, list_ready(app, selector))
        await pilot.pause(0.1)

    return run_before


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_board(
    snap_compare: Any, app_factory: Callable[..., OrderdeckApp], size: tuple[int, int]
) -> None:
    assert snap_compare(
        app_factory(), terminal_size=size, run_before=_ready("#board", ("down", "down"))
    )


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_detail(
    snap_compare: Any, app_factory: Callable[..., OrderdeckApp], size: tuple[int, int]
) -> None:
    keys = ("slash", *"#100117", "enter", "enter")
    assert snap_compare(app_factory(), terminal_size=size, run_before=_ready("detail", keys))


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_notifications(
    snap_compare: Any, app_factory: Callable[..., OrderdeckApp], size: tuple[int, int]
) -> None:
    assert snap_compare(app_factory(), terminal_size=size, run_before=_ready("#nlist", ("3",)))


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_attention(
    snap_compare: Any, app_factory: Callable[..., OrderdeckApp], size: tuple[int, int]
) -> None:
    assert snap_compare(app_factory(), terminal_size=size, run_before=_ready("#alist", ("2",)))
