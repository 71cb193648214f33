"""Migrations: empty -> head on both stores, models agree with them, newer schemas refused."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from store import migrate, search
from store.engine import Store
from store.errors import SchemaOutdated, SchemaTooNew, StoreError
from store.models import metadata
from store.settings import StoreSettings


def test_empty_store_upgrades_to_head(store_url: str) -> None:
    store = Store(StoreSettings(url=store_url))
    try:
        assert migrate.state(store).fresh
        before, after = migrate.upgrade(store)
        assert (before, after) == (None, migrate.head_revision())
        # A second upgrade changes nothing.
        assert migrate.upgrade(store) == (after, after)
        with store.read_connection() as conn:
            tables = set(sa.inspect(conn).get_table_names())
        assert set(metadata.tables) <= tables
    finally:
        store.dispose()


def test_models_and_migrations_agree(store: Store) -> None:
    """The migrated schema is exactly what the models declare."""
    with store.read_connection() as conn:
        # Search objects (revision 0002) that are not models: see store.search.
        opts = {"compare_type": False, **search.schema_filters(store.dialect)}
        ctx = MigrationContext.configure(conn, opts=opts)
        diff = compare_metadata(ctx, metadata)
    # SQLite reflects partial-index predicates imperfectly; ignore index noise there only.
    if store.is_sqlite:
        diff = [
            d for d in diff if not (isinstance(d, tuple) and d[0] in {"add_index", "remove_index"})
        ]
    assert diff == []


def _set_revision(store: Store, revision: str) -> None:
    with store.write_connection() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = :r"), {"r": revision})


def test_newer_schema_is_refused_and_left_untouched(store_url: str) -> None:
    migrate.open_store(StoreSettings(url=store_url)).dispose()
    raw = Store(StoreSettings(url=store_url))
    _set_revision(raw, "9999")
    with pytest.raises(SchemaTooNew) as err:
        migrate.open_store(StoreSettings(url=store_url))
    message = str(err.value)
    assert "9999" in message and migrate.head_revision() in message
    with pytest.raises(SchemaTooNew):
        migrate.upgrade(raw)
    with raw.read_connection() as conn:
        assert (
            conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar_one() == "9999"
        )
    raw.dispose()


def test_foreign_database_is_not_taken_over(sqlite_url: str) -> None:
    raw = Store(StoreSettings(url=sqlite_url))
    with raw.write_connection() as conn:
        conn.execute(sa.text("CREATE TABLE customers (id INTEGER PRIMARY KEY)"))
    with pytest.raises(StoreError, match="not an orderdeck store"):
        migrate.open_store(StoreSettings(url=sqlite_url))
    raw.dispose()


def test_outdated_schema_names_the_upgrade_command(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    migrate.open_store(StoreSettings(url=sqlite_url)).dispose()
    monkeypatch.setattr(migrate, "head_revision", lambda: "0099")
    with pytest.raises(SchemaOutdated, match="orderdeck db upgrade"):
        migrate.open_store(StoreSettings(url=sqlite_url))


def test_sqlite_store_runs_in_wal_with_foreign_keys(sqlite_store: Store) -> None:
    with sqlite_store.read_connection() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar_one() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar_one() == 1
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar_one() == 1  # NORMAL
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar_one() >= 1000
