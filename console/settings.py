"""What the console needs to know, built by ``orderdeck.config``."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ConsoleSettings:
    #: binding id -> keys, as Textual's ``App.set_keymap`` takes them.
    keymap: dict[str, str] = field(default_factory=dict)
    timezone: str = "UTC"
    read_only: bool = False
    theme: str | None = None
    #: Who the audit log names for actions taken in this console.
    operator: str | None = None
    #: Run the sync engine in the console when no sync service is alive.
    run_engine: bool = True
