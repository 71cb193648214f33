"""The footer: the keys of the focused view, as one line of text.

Textual's ``Footer`` builds a widget per key; this draws the same hints as a
single line, which keeps a view's first paint close to an empty app's.
"""

from __future__ import annotations

from rich.text import Text
from textual.screen import Screen
from textual.widgets import Static


class KeyBar(Static):
    DEFAULT_CSS = """
    KeyBar { dock: bottom; height: 1; background: $panel; color: $text; }
    """

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self._changed)
        self.call_after_refresh(self._changed, self.screen)

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    def _changed(self, screen: Screen[object]) -> None:
        if self.is_attached and screen is self.screen:
            self.update(self.render_keys())

    def render_keys(self) -> Text:
        text = Text(no_wrap=True, overflow="ellipsis")
        seen: set[str] = set()
        key_style = self.app.current_theme.accent if self.app.current_theme else "bold"
        for active in self.screen.active_bindings.values():
            binding = active.binding
            if not binding.show or binding.action in seen:
                continue
            seen.add(binding.action)
            text.append(" ")
            text.append(self.app.get_key_display(binding), style=f"bold {key_style}")
            text.append(f" {binding.description} ", style="" if active.enabled else "dim")
        return text
