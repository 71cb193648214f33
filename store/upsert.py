"""Dialect upserts: ``INSERT ... ON CONFLICT`` on both SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection


def insert(conn: Connection, table: Any) -> Any:
    """``sqlite.insert`` or ``postgresql.insert``: both have ``on_conflict_do_update``
    and ``on_conflict_do_nothing`` with the same arguments, and ``.excluded``."""
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)
