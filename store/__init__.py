"""The store: SQLModel models, engine setup, migrations, queries and the change feed.

Imports nothing of ours, so every other room can stand on it.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("orderdeck")
except PackageNotFoundError:  # running from a checkout that was never installed
    __version__ = "0+unknown"

from typing import TYPE_CHECKING, Any

from store.errors import NotFoundError, OrderdeckError, SchemaOutdated, SchemaTooNew, StoreError
from store.settings import StoreSettings

if TYPE_CHECKING:
    from store.engine import Store


def __getattr__(name: str) -> Any:
    # The engine pulls in SQLAlchemy; a process that only needs the errors (the
    # ingest parsing child) should not pay for it.
    if name == "Store":
        from store.engine import Store

        return Store
    raise AttributeError(f"module 'store' has no attribute {name!r}")


__all__ = [
    "NotFoundError",
    "OrderdeckError",
    "SchemaOutdated",
    "SchemaTooNew",
    "Store",
    "StoreError",
    "StoreSettings",
    "__version__",
]
