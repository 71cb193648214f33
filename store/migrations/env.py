"""Alembic environment: always run from :mod:`store.migrate` with a live connection."""

from __future__ import annotations

from alembic import context

from store import search
from store.models import metadata

config = context.config
connection = config.attributes.get("connection")
if connection is None:  # pragma: no cover - alembic's own CLI is not how orderdeck is run
    raise RuntimeError("run migrations through `orderdeck db upgrade`")

context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
    **search.schema_filters(connection.dialect.name),
)
with context.begin_transaction():
    context.run_migrations()
