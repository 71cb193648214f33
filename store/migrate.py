"""Schema versions: upgrade, report, and refuse a store written by a newer orderdeck."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from store.engine import Store
from store.errors import SchemaOutdated, SchemaTooNew, StoreError
from store.settings import StoreSettings

MIGRATIONS = Path(__file__).parent / "migrations"
_PG_MIGRATION_LOCK = 0x0DEC_0001


def _config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def script() -> ScriptDirectory:
    return ScriptDirectory.from_config(_config())


def head_revision() -> str:
    head = script().get_current_head()
    assert head is not None
    return head


def known_revisions() -> set[str]:
    return {rev.revision for rev in script().walk_revisions()}


@dataclass(frozen=True)
class SchemaState:
    current: str | None
    head: str
    has_tables: bool

    @property
    def fresh(self) -> bool:
        return self.current is None and not self.has_tables

    @property
    def up_to_date(self) -> bool:
        return self.current == self.head

    @property
    def too_new(self) -> bool:
        return self.current is not None and self.current not in known_revisions()


def state(store: Store) -> SchemaState:
    with store.read_connection() as conn:
        current = MigrationContext.configure(conn).get_current_revision()
        tables = set(inspect(conn).get_table_names()) - {"alembic_version"}
    return SchemaState(current=current, head=head_revision(), has_tables=bool(tables))


def _refuse_newer(store: Store, current: str) -> SchemaTooNew:
    from store import __version__

    return SchemaTooNew(
        f"the store {store.display_url} has schema revision {current}, written by a newer "
        f"orderdeck; this orderdeck ({__version__}) knows revisions up to {head_revision()}. "
        "Upgrade orderdeck to use this store; it was left unchanged."
    )


def upgrade(store: Store, target: str = "head") -> tuple[str | None, str]:
    """Bring the store to ``target``; returns (before, after)."""
    before = state(store)
    if before.too_new:
        raise _refuse_newer(store, before.current or "?")
    if before.current is None and before.has_tables:
        raise StoreError(
            f"the store {store.display_url} holds tables but no orderdeck schema version; "
            "it is not an orderdeck store (or was made by hand). Point --db at another database."
        )
    cfg = _config()
    with store._write_engine.begin() as conn:
        if store.dialect == "postgresql":
            # Several workers starting at once must not migrate twice.
            conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_PG_MIGRATION_LOCK})")
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, target)
    return before.current, state(store).current or ""


def open_store(settings: StoreSettings, *, create: bool = True) -> Store:
    """Open a store that is ready for use.

    A fresh (empty) store is created at the current schema. An older schema is
    reported with the command that upgrades it; a newer one is refused untouched.
    """
    store = Store(settings)
    try:
        current = state(store)
        if current.too_new:
            raise _refuse_newer(store, current.current or "?")
        if current.fresh and create:
            upgrade(store)
        elif not current.up_to_date:
            if current.current is None:
                raise StoreError(
                    f"the store {store.display_url} holds tables but no orderdeck schema "
                    "version; it is not an orderdeck store."
                )
            raise SchemaOutdated(
                f"the store {store.display_url} has schema revision {current.current}; this "
                f"orderdeck needs {current.head}. Run `orderdeck db upgrade` (back the store up first)."
            )
    except BaseException:
        store.dispose()
        raise
    return store
