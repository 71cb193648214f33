"""What can go wrong with a file or a row, worded for the person who will fix it."""

from __future__ import annotations

from store.errors import OrderdeckError


class IngestError(OrderdeckError):
    """Ingest cannot start: a path that does not exist, an unknown format name."""


class FileRejected(OrderdeckError):
    """The whole file cannot be read; nothing of it was applied. ``str()`` is the reason."""

    def __init__(self, reason: str, *, row: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.row = row


class BadValue(ValueError):
    """One cell holds something we cannot use; the message says why."""


class BadRow(ValueError):
    """One row cannot be used: which column (if any) and why."""

    def __init__(self, reason: str, column: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.column = column
