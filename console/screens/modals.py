"""Small dialogs: confirm, choose one of several, type a line or a note."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar, Generic, TypeVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, OptionList, Static, TextArea
from textual.widgets.option_list import Option

T = TypeVar("T")


class _Dialog(ModalScreen[T]):
    DEFAULT_CSS = """
    _Dialog, ConfirmScreen, ChoiceScreen, PromptScreen, NoteScreen, InfoScreen {
        align: center middle;
    }
    .dialog {
        width: 76;
        max-width: 100%;
        height: auto;
        max-height: 90%;
        border: thick $accent;
        background: $surface;
        padding: 0 1;
    }
    .dialog .title { text-style: bold; padding-bottom: 1; }
    .dialog .hint { color: $text-muted; padding-top: 1; }
    .dialog OptionList { height: auto; max-height: 18; }
    .dialog TextArea { height: 8; }
    """


class ConfirmScreen(_Dialog[bool]):
    """Yes or no, defaulting to no: ``y`` confirms, ``n`` / ``Esc`` cancel."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "Yes", id="confirm.yes"),
        Binding("n,escape", "answer(False)", "No", id="confirm.no"),
    ]

    def __init__(self, title: str, body: Text | str) -> None:
        super().__init__()
        self.title_text = title
        self.body = body

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(self.title_text, classes="title")
            yield Static(self.body)
            yield Label("y: yes   n / Esc: no", classes="hint")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)


class ChoiceScreen(_Dialog[T | None], Generic[T]):
    """Pick one option with the arrows and Enter; Esc cancels."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="choice.cancel"),
    ]

    def __init__(self, title: str, options: Sequence[tuple[Text | str, T]]) -> None:
        super().__init__()
        self.title_text = title
        self.options = list(options)

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(self.title_text, classes="title")
            yield OptionList(
                *[Option(label, id=str(i)) for i, (label, _) in enumerate(self.options)]
            )
            yield Label("↑↓: move   Enter: choose   Esc: cancel", classes="hint")

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(self.options[int(event.option.id or 0)][1])

    def action_cancel(self) -> None:
        self.dismiss(None)


class PromptScreen(_Dialog[str | None]):
    """One line of text; Enter accepts, Esc cancels."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="prompt.cancel"),
    ]

    def __init__(self, title: str, *, placeholder: str = "", value: str = "") -> None:
        super().__init__()
        self.title_text = title
        self.placeholder = placeholder
        self.value = value

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(self.title_text, classes="title")
            yield Input(value=self.value, placeholder=self.placeholder)
            yield Label("Enter: accept   Esc: cancel", classes="hint")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.dismiss(event.value)

    def action_cancel(self) -> None:
        self.dismiss(None)


class NoteScreen(_Dialog[str | None]):
    """A few lines of text; ctrl+s saves, Esc cancels."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "save", "Save", id="note.save", priority=True),
        Binding("escape", "cancel", "Cancel", id="note.cancel"),
    ]

    def __init__(self, title: str) -> None:
        super().__init__()
        self.title_text = title

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(self.title_text, classes="title")
            yield TextArea(soft_wrap=True, show_line_numbers=False)
            yield Label("ctrl+s: save   Esc: cancel", classes="hint")

    def action_save(self) -> None:
        self.dismiss(self.query_one(TextArea).text)

    def action_cancel(self) -> None:
        self.dismiss(None)


class InfoScreen(_Dialog[None]):
    """Read-only text (a tracking URL, a notification's attempts); Esc closes."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,enter", "close", "Close", id="info.close"),
    ]

    def __init__(self, title: str, body: Any) -> None:
        super().__init__()
        self.title_text = title
        self.body = body

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(self.title_text, classes="title")
            yield Static(self.body)
            yield Label("Esc: close", classes="hint")

    def action_close(self) -> None:
        self.dismiss(None)
