"""Fast order search: FTS5 trigram on SQLite, pg_trgm on PostgreSQL.

SQLite gets ``orders_fts``, an external-content FTS5 table over
``orders.search_text`` kept in step by three triggers. (A later migration that
rebuilds ``orders`` with ``batch_alter_table`` drops those triggers with the old
table and must create them again.)

PostgreSQL gets a GIN ``gin_trgm_ops`` index on ``orders.search_text``. Creating
the ``pg_trgm`` extension needs a privilege some hosted databases withhold; then
the index is skipped and search runs as a plain ``LIKE``, which is correct, only
slower (``orderdeck db current`` does not change).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 11:00:00
"""

from __future__ import annotations

import logging

from alembic import op
from sqlalchemy.exc import DBAPIError

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

log = logging.getLogger("orderdeck.migrations")

SQLITE_UP = [
    "CREATE VIRTUAL TABLE orders_fts USING fts5("
    "search_text, content='orders', content_rowid='id', tokenize='trigram')",
    "INSERT INTO orders_fts(orders_fts) VALUES ('rebuild')",
    "CREATE TRIGGER orders_fts_insert AFTER INSERT ON orders BEGIN "
    "INSERT INTO orders_fts(rowid, search_text) VALUES (new.id, new.search_text); END",
    "CREATE TRIGGER orders_fts_delete AFTER DELETE ON orders BEGIN "
    "INSERT INTO orders_fts(orders_fts, rowid, search_text) "
    "VALUES ('delete', old.id, old.search_text); END",
    "CREATE TRIGGER orders_fts_update AFTER UPDATE OF search_text ON orders "
    "WHEN old.search_text IS NOT new.search_text BEGIN "
    "INSERT INTO orders_fts(orders_fts, rowid, search_text) "
    "VALUES ('delete', old.id, old.search_text); "
    "INSERT INTO orders_fts(rowid, search_text) VALUES (new.id, new.search_text); END",
]

SQLITE_DOWN = [
    "DROP TRIGGER IF EXISTS orders_fts_update",
    "DROP TRIGGER IF EXISTS orders_fts_delete",
    "DROP TRIGGER IF EXISTS orders_fts_insert",
    "DROP TABLE IF EXISTS orders_fts",
]

PG_INDEX = "ix_orders_search_trgm"


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        for statement in SQLITE_UP:
            op.execute(statement)
        return
    if bind.dialect.name == "postgresql":
        savepoint = bind.begin_nested()
        try:
            bind.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        except DBAPIError as exc:
            savepoint.rollback()
            log.warning(
                "pg_trgm is not available (%s); order search will run without an index",
                str(exc.orig).strip().splitlines()[0] if exc.orig else exc,
            )
            return
        savepoint.commit()
        op.execute(
            f"CREATE INDEX IF NOT EXISTS {PG_INDEX} ON orders USING gin (search_text gin_trgm_ops)"
        )


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        for statement in SQLITE_DOWN:
            op.execute(statement)
    elif bind.dialect.name == "postgresql":
        op.execute(f"DROP INDEX IF EXISTS {PG_INDEX}")
