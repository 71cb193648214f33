"""Drop-folder ingest of shop exports.

Public API (the sync service and the console call these):

- :func:`ingest_file` — import one file in one transaction, returning a :class:`FileResult`;
- :class:`DropFolderWatcher` — ``scan_once()`` and ``async run(stop_event)`` over the
  configured ``[[sync.drop_folders]]``.
"""

from sync.ingest.errors import FileRejected, IngestError
from sync.ingest.folder import DropFolderWatcher, FolderEvent
from sync.ingest.ingest import (
    DUPLICATE,
    IMPORTED,
    PARTIAL,
    REJECTED,
    FileResult,
    ingest_file,
)
from sync.ingest.records import RowError
from sync.ingest.sniff import FORMATS

__all__ = [
    "DUPLICATE",
    "FORMATS",
    "IMPORTED",
    "PARTIAL",
    "REJECTED",
    "DropFolderWatcher",
    "FileRejected",
    "FileResult",
    "FolderEvent",
    "IngestError",
    "RowError",
    "ingest_file",
]
