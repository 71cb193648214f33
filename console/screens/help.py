"""``?``: every key of the view below, read from its live bindings (so a keymap
override or read-only mode shows exactly as it works)."""

from __future__ import annotations

from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Label, Static


def binding_table(screen: Screen[object]) -> Table:
    app = screen.app
    table = Table(box=None, pad_edge=False, show_header=True, header_style="bold", expand=True)
    table.add_column("KEY", no_wrap=True)
    table.add_column("DOES")
    table.add_column("ID", style="dim", no_wrap=True)
    rows: dict[str, tuple[list[str], str, str]] = {}
    for _key, active in screen.active_bindings.items():
        binding = active.binding
        if not binding.description or not binding.id:
            continue  # Textual's own scrolling and focus keys: see the hint below
        ident = binding.id or binding.action
        keys, _, _ = rows.setdefault(ident, ([], binding.description, binding.id or ""))
        display = app.get_key_display(binding)
        if display not in keys:
            keys.append(display)
    for keys, description, ident in rows.values():
        table.add_row(Text(" ".join(keys), style="bold"), Text(description), Text(ident))
    return table


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,question_mark", "close", "Close", id="help.close"),
    ]
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    #help { width: 90; max-width: 100%; height: auto; max-height: 90%;
            border: thick $accent; background: $surface; padding: 0 1; }
    #help .title { text-style: bold; }
    """

    def __init__(self, under: Screen[object]) -> None:
        super().__init__()
        self.under = under
        self.table = binding_table(under)
        self.view_title = getattr(under, "VIEW_TITLE", "") or "this view"

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help"):
            yield Label(f"Keys on the {self.view_title}", classes="title")
            yield Static(self.table)
            yield Label(
                "↑↓ PgUp PgDn Home End scroll · Tab moves focus · "
                "remap any key by its id in [console.keymap]",
                classes="hint",
            )

    def action_close(self) -> None:
        self.dismiss(None)
