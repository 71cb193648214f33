"""Alembic environment: always run from :mod:`store.migrate` with a live connection."""

from __future__ import annotations

from typing import Any

from alembic import context

from store.models import metadata

config = context.config
connection = config.attributes.get("connection")
if connection is None:  # pragma: no cover - alembic's own CLI is not how orderdeck is run
    raise RuntimeError("run migrations through `orderdeck db upgrade`")

#: Search objects that are not plain models (revision 0002): the SQLite FTS5 table
#: with its shadow tables, and the PostgreSQL-only trigram index.
SEARCH_TABLE_PREFIX = "orders_fts"
PG_ONLY_INDEXES = {"ix_orders_search_trgm"}


def include_name(name: str | None, type_: str, parent_names: Any) -> bool:
    return not (type_ == "table" and name and name.startswith(SEARCH_TABLE_PREFIX))


def include_object(
    obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
) -> bool:
    return not (
        type_ == "index" and name in PG_ONLY_INDEXES and connection.dialect.name != "postgresql"
    )


context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
    include_name=include_name,
    include_object=include_object,
)
with context.begin_transaction():
    context.run_migrations()
