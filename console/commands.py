"""Command palette providers (``:`` or ctrl+p): views, orders, and the view's actions."""

from __future__ import annotations

import asyncio
from functools import partial
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from textual.command import DiscoveryHit, Hit, Hits, Provider

from store import search
from store.models import Order
from store.text import one_line

if TYPE_CHECKING:
    from console.app import OrderdeckApp

_orders = Order.__table__  # type: ignore[attr-defined]

VIEWS = (
    ("board", "Go to the board", "every order, live"),
    ("attention", "Go to the attention queue", "what needs a person, oldest first"),
    ("notifications", "Go to notifications", "the outbox and the log"),
)


def _app(provider: Provider) -> OrderdeckApp:
    return provider.app  # type: ignore[return-value]


class ViewsProvider(Provider):
    async def discover(self) -> Hits:
        app = _app(self)
        for name, title, help_text in VIEWS:
            yield DiscoveryHit(title, partial(app.action_view, name), help=help_text)

    async def search(self, query: str) -> Hits:
        app = _app(self)
        matcher = self.matcher(query)
        for name, title, help_text in VIEWS:
            score = matcher.match(title)
            if score > 0:
                yield Hit(
                    score, matcher.highlight(title), partial(app.action_view, name), help=help_text
                )


class OrdersProvider(Provider):
    """Jump to an order by number, name, email, phone or tracking number."""

    async def search(self, query: str) -> Hits:
        app = _app(self)
        text = query.strip()
        if len(search.needle(text)) < 2:
            return
        store = app.context.store

        def find() -> list[Any]:
            condition = search.condition(store.dialect, text)
            with store.read_connection() as conn:
                return list(
                    conn.execute(
                        sa.select(
                            _orders.c.id,
                            _orders.c.number,
                            _orders.c.customer_name,
                            _orders.c.status,
                        )
                        .where(condition)
                        .order_by(_orders.c.changed_at.desc(), _orders.c.id.desc())
                        .limit(8)
                    )
                )

        try:
            rows = await asyncio.to_thread(find)
        except Exception as exc:
            app.show_error(exc, "Order search failed")
            return
        for row in rows:
            label = f"Order {one_line(row.number)}  {one_line(row.customer_name)}"
            yield Hit(
                90,
                label,
                partial(app.open_order, row.id),
                text=label,
                help=f"status {row.status.replace('_', ' ')}",
            )


class ActionsProvider(Provider):
    """The current view's actions, by their help text (hidden ones stay hidden)."""

    def _actions(self) -> list[tuple[str, Any, str]]:
        found: dict[str, tuple[str, Any, str]] = {}
        for key, active in self.screen.active_bindings.items():
            binding = active.binding
            if not active.enabled or not binding.description:
                continue
            if binding.action in ("command_palette", "help") or binding.action in found:
                continue
            display = self.app.get_key_display(binding)
            found[binding.action] = (
                binding.description,
                self._runner(active.node, binding.action),
                display or key,
            )
        return list(found.values())

    def _runner(self, node: Any, action: str) -> Any:
        async def run() -> None:
            await self.app.run_action(action, node)

        return run

    async def discover(self) -> Hits:
        for description, run, key in self._actions():
            yield DiscoveryHit(description, run, help=f"key: {key}")

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for description, run, key in self._actions():
            score = matcher.match(description)
            if score > 0:
                yield Hit(score, matcher.highlight(description), run, help=f"key: {key}")
