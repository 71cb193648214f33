"""What the store needs to know, built by ``orderdeck.config``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import platformdirs


def default_sqlite_path() -> Path:
    return Path(platformdirs.user_data_dir("orderdeck")) / "orderdeck.db"


def default_url() -> str:
    return f"sqlite:///{default_sqlite_path()}"


@dataclass(frozen=True)
class StoreSettings:
    url: str
    #: How long a SQLite writer waits for the lock before giving up.
    busy_timeout_ms: int = 10_000
    echo: bool = False
