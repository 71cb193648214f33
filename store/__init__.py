"""The store: SQLModel models, engine setup, migrations, queries and the change feed.

Imports nothing of ours, so every other room can stand on it.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("orderdeck")
except PackageNotFoundError:  # running from a checkout that was never installed
    __version__ = "0+unknown"

from store.engine import Store
from store.errors import NotFoundError, OrderdeckError, SchemaOutdated, SchemaTooNew, StoreError
from store.settings import StoreSettings

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
