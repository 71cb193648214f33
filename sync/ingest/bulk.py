"""Core statements compiled once, then run through the driver's ``executemany``.

SQLAlchemy builds the statement (``store.upsert.insert`` with ``ON CONFLICT``) and
its dialect compiles it; the rows go to the driver as plain tuples (SQLite) or
dicts (psycopg). That skips Core's per-row parameter assembly, which at a million
rows costs as much as the database work itself. Column types still convert
values the way Core would: each column's bind processor is applied here.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from store import upsert

PREFIX = "p_"


def params_for(columns: Sequence[str]) -> dict[str, Any]:
    """``.values()`` for an insert of ``columns``: bind parameters named ``p_<column>``."""
    return {c: sa.bindparam(PREFIX + c) for c in columns}


class Bulk:
    """One compiled statement over ``columns`` (in the order rows give them)."""

    def __init__(self, conn: Connection, table: sa.Table, stmt: Any, columns: Sequence[str]):
        dialect = conn.dialect
        compiled = stmt.compile(dialect=dialect)
        self.sql = compiled.string
        self.columns = list(columns)
        self.positional = bool(compiled.positional)
        index = {PREFIX + c: i for i, c in enumerate(self.columns)}
        # Columns left out that have a Python-side scalar default (``poll_failures=0``)
        # come back as parameters of their own; they take that default.
        self.constants: dict[str, Any] = {}
        for name in compiled.binds:
            if name in index:
                continue
            column = table.c.get(name)
            default = column.default if column is not None else None
            if default is None or not default.is_scalar:
                raise ValueError(f"bulk statement on {table.name}: no value for {name!r}")
            self.constants[name] = default.arg
        self.constant_values = tuple(self.constants.values())
        extra = {name: len(self.columns) + i for i, name in enumerate(self.constants)}
        self.getter: Callable[[Any], tuple[Any, ...]] | None = None
        if self.positional:
            names = list(compiled.positiontup or ())
            order = [index.get(n, extra.get(n, -1)) for n in names]
            if order != list(range(len(self.columns))):
                self.getter = _getter(order)
        self.keys = [PREFIX + c for c in self.columns]
        self.processors: list[tuple[int, Callable[[Any], Any]]] = []
        for i, name in enumerate(self.columns):
            proc = table.c[name].type.dialect_impl(dialect).bind_processor(dialect)
            if proc is not None:
                self.processors.append((i, _faster(proc)))

    def run(self, conn: Connection, rows: list[tuple[Any, ...]]) -> None:
        if not rows:
            return
        if self.processors:
            converted = []
            procs = [(i, _memo(proc)) for i, proc in self.processors]
            for row in rows:
                values = list(row)
                for i, proc in procs:
                    value = values[i]
                    if value is not None:
                        values[i] = proc(value)
                converted.append(values)
            rows = converted  # type: ignore[assignment]
        constants = self.constant_values
        params: list[Any]
        if self.positional:
            getter = self.getter
            if constants:
                rows = [(*r, *constants) for r in rows]
            if getter is not None:
                params = [getter(r) for r in rows]
            elif self.processors:
                params = [tuple(r) for r in rows]  # converted rows are lists
            else:
                params = rows
        else:
            keys = self.keys
            fixed = self.constants
            params = [{**fixed, **dict(zip(keys, r, strict=True))} for r in rows]
        conn.exec_driver_sql(self.sql, params)


_SAMPLES = (
    datetime(2026, 11, 7, 19, 8, 25, 123456, tzinfo=UTC),
    datetime(2026, 3, 29, 1, 30, tzinfo=timezone(timedelta(hours=-5))),
    datetime(1999, 12, 31, 23, 59, 59, tzinfo=timezone(timedelta(hours=9, minutes=30))),
)


def _sqlite_utc_text(value: datetime) -> str:
    if value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    return value.replace(tzinfo=None).isoformat(" ", "microseconds")


def _faster(proc: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """The same conversion in C where one exists: an aware datetime stored as naive
    UTC text on SQLite is ``isoformat``. Used only if it gives exactly what the
    column type's own processor gives."""
    try:
        same = all(proc(sample) == _sqlite_utc_text(sample) for sample in _SAMPLES)
    except Exception:
        same = False
    if same:

        def convert(value: Any) -> Any:
            if isinstance(value, datetime) and value.tzinfo is not None:
                return _sqlite_utc_text(value)
            return proc(value)

        return convert
    return proc


def _getter(order: list[int]) -> Callable[[Any], tuple[Any, ...]]:
    pick = operator.itemgetter(*order)
    if len(order) == 1:
        return lambda row: (pick(row),)
    return pick  # type: ignore[return-value]


def _memo(proc: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """``proc``, remembering its last answer: a batch repeats the same ``now`` often."""
    last: list[Any] = [object(), None]

    def convert(value: Any) -> Any:
        if value is last[0]:
            return last[1]
        result = proc(value)
        last[0], last[1] = value, result
        return result

    return convert


def upsert_statement(
    conn: Connection,
    table: sa.Table,
    columns: Sequence[str],
    *,
    conflict: Sequence[str],
    update: Sequence[str] | None = None,
    update_exprs: dict[str, Any] | None = None,
    copy: bool = False,
    returning: Sequence[Any] = (),
) -> Bulk | CopyUpsert:
    """``INSERT (columns) ... ON CONFLICT (conflict) DO UPDATE SET update`` (or DO NOTHING).

    On PostgreSQL with ``copy=True`` the rows are COPYed into a temporary table and
    upserted from it with the same statement shape (``INSERT ... SELECT ... ON
    CONFLICT``): psycopg's ``executemany`` pays a protocol round of its own per row.
    """
    if copy and conn.dialect.name == "postgresql":
        staging = _staging_table(conn, table, columns)
        source = sa.select(*(staging.c[c] for c in columns))
        stmt = upsert.insert(conn, table).from_select(list(columns), source)
    else:
        staging = None
        stmt = upsert.insert(conn, table).values(params_for(columns))
    if update or update_exprs:
        set_: dict[str, Any] = {c: stmt.excluded[c] for c in (update or ())}
        set_.update(update_exprs or {})
        stmt = stmt.on_conflict_do_update(index_elements=list(conflict), set_=set_)
    else:
        stmt = stmt.on_conflict_do_nothing(index_elements=list(conflict))
    if staging is not None:
        if returning:
            # Which rows were inserted rather than updated: a fresh row has no xmax.
            stmt = stmt.returning(*returning, sa.literal_column("(xmax = 0)").label("inserted"))
        return CopyUpsert(staging, stmt, columns)
    return Bulk(conn, table, stmt, columns)


def insert_statement(conn: Connection, table: sa.Table, columns: Sequence[str]) -> Bulk | Copy:
    if conn.dialect.name == "postgresql":
        return Copy(table.name, columns)
    return Bulk(conn, table, sa.insert(table).values(params_for(columns)), columns)


def _copy_rows(conn: Connection, table: str, columns: Sequence[str], rows: list[Any]) -> None:
    driver = conn.connection.driver_connection
    assert driver is not None
    names = ", ".join(f'"{c}"' for c in columns)
    with driver.cursor() as cursor, cursor.copy(f'COPY "{table}" ({names}) FROM STDIN') as copy:
        for row in rows:
            copy.write_row(row)


class Copy:
    """Plain inserts on PostgreSQL: ``COPY ... FROM STDIN``. Values go as Python
    objects; psycopg adapts them (aware datetimes included)."""

    def __init__(self, table: str, columns: Sequence[str]) -> None:
        self.table = table
        self.columns = list(columns)

    def run(self, conn: Connection, rows: list[tuple[Any, ...]]) -> None:
        if rows:
            _copy_rows(conn, self.table, self.columns, rows)


class CopyUpsert:
    """COPY into a temporary table, then one ``INSERT ... SELECT ... ON CONFLICT``."""

    def __init__(self, staging: sa.Table, stmt: Any, columns: Sequence[str]) -> None:
        self.staging = staging
        self.stmt = stmt
        self.columns = list(columns)

    def run(self, conn: Connection, rows: list[tuple[Any, ...]]) -> list[Any]:
        if not rows:
            return []
        conn.exec_driver_sql(f'TRUNCATE "{self.staging.name}"')
        _copy_rows(conn, self.staging.name, self.columns, rows)
        result = conn.execute(self.stmt)
        return list(result) if result.returns_rows else []


def _staging_table(conn: Connection, table: sa.Table, columns: Sequence[str]) -> sa.Table:
    """A temporary table with ``columns`` of ``table`` (their types), gone at commit."""
    name = f"orderdeck_stage_{table.name}_{abs(hash(tuple(columns))) % 10**8}"
    names = ", ".join(f'"{c}"' for c in columns)
    conn.exec_driver_sql(
        f'CREATE TEMPORARY TABLE IF NOT EXISTS "{name}" ON COMMIT DROP AS '
        f'SELECT {names} FROM "{table.name}" WITH NO DATA'
    )
    return sa.Table(name, sa.MetaData(), *(sa.Column(c, table.c[c].type) for c in columns))
