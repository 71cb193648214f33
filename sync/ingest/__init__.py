"""Drop-folder ingest of shop exports.

Public API (the sync service and the console call these):

- :func:`ingest_file` — import one file in one transaction, returning a :class:`FileResult`;
- :class:`DropFolderWatcher` — ``scan_once()`` and ``async run(stop_event)`` over the
  configured ``[[sync.drop_folders]]``.

Names are loaded on first use, so the parsing child process, which imports
``sync.ingest.*`` modules, does not load the store's engine with this package.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sync.ingest.errors import FileRejected, IngestError
    from sync.ingest.folder import DropFolderWatcher, FolderEvent
    from sync.ingest.ingest import DUPLICATE, IMPORTED, PARTIAL, REJECTED, FileResult, ingest_file
    from sync.ingest.records import RowError
    from sync.ingest.sniff import FORMATS

_WHERE = {
    "FileRejected": "errors",
    "IngestError": "errors",
    "DropFolderWatcher": "folder",
    "FolderEvent": "folder",
    "DUPLICATE": "ingest",
    "IMPORTED": "ingest",
    "PARTIAL": "ingest",
    "REJECTED": "ingest",
    "FileResult": "ingest",
    "ingest_file": "ingest",
    "RowError": "records",
    "FORMATS": "sniff",
}

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


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'sync.ingest' has no attribute {name!r}")
    return getattr(importlib.import_module(f"sync.ingest.{module}"), name)
