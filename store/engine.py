"""Opening the store: one code path for SQLite and PostgreSQL.

SQLite runs in WAL mode with ``synchronous=NORMAL``, foreign keys on and a busy
timeout. Python's sqlite3 driver is put in autocommit mode so that we issue the
``BEGIN`` ourselves: write transactions begin ``IMMEDIATE``, taking the write lock
up front, so two writers queue on the busy timeout instead of failing halfway
with ``database is locked``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, OperationalError
from sqlmodel import Session

from store.errors import StoreError
from store.redact import mask_db_url
from store.settings import StoreSettings

_WRITE = "orderdeck_write"


def normalize_url(url: str) -> URL:
    """Accept ``postgresql://`` and ``postgres://`` and use psycopg 3 for them."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise StoreError(f"store URL {url!r} is not a database URL: {exc}") from None
    backend = parsed.get_backend_name()
    if backend in {"postgres", "postgresql"}:
        if parsed.drivername in {"postgres", "postgresql"}:
            parsed = parsed.set(drivername="postgresql+psycopg")
        return parsed
    if backend == "sqlite":
        return parsed
    raise StoreError(
        f"store URL {mask_db_url(url)!r}: unsupported database {backend!r} "
        "(use sqlite:///PATH or postgresql://...)"
    )


def _sqlite_engine(url: URL, settings: StoreSettings) -> Engine:
    database = url.database
    if not database or database == ":memory:":
        raise StoreError("an in-memory SQLite store would lose everything; give a file path")
    path = Path(database).expanduser()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(
            f"cannot create the store's folder {path.parent}: {exc.strerror}"
        ) from None
    url = url.set(database=str(path))
    engine = sa.create_engine(
        url,
        echo=settings.echo,
        connect_args={"timeout": settings.busy_timeout_ms / 1000, "check_same_thread": False},
    )
    busy = int(settings.busy_timeout_ms)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {busy}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        if conn.get_execution_options().get(_WRITE):
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.exec_driver_sql("BEGIN")

    return engine


def _postgres_engine(url: URL, settings: StoreSettings) -> Engine:
    return sa.create_engine(url, echo=settings.echo, pool_pre_ping=True)


class Store:
    """The engine plus the two ways to use it: :meth:`read` and :meth:`write`."""

    def __init__(self, settings: StoreSettings) -> None:
        self.settings = settings
        self.url = normalize_url(settings.url)
        if self.url.get_backend_name() == "sqlite":
            self.engine = _sqlite_engine(self.url, settings)
        else:
            self.engine = _postgres_engine(self.url, settings)
        self._write_engine = self.engine.execution_options(**{_WRITE: True})

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    @property
    def display_url(self) -> str:
        return mask_db_url(self.url.render_as_string(hide_password=False))

    @property
    def sqlite_path(self) -> Path | None:
        return Path(self.url.database) if self.is_sqlite and self.url.database else None

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A session for reading; it never takes the write lock. Objects stay readable
        after the block (closing detaches them without expiring what was loaded)."""
        with self._errors(), Session(self.engine, expire_on_commit=False) as session:
            yield session

    @contextmanager
    def write(self) -> Iterator[Session]:
        """One write transaction, committed on a clean exit, rolled back on error."""
        with self._errors(), Session(self._write_engine, expire_on_commit=False) as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    @contextmanager
    def write_connection(self) -> Iterator[Connection]:
        """A Core connection inside one write transaction, for bulk statements."""
        with self._errors(), self._write_engine.begin() as conn:
            yield conn

    @contextmanager
    def read_connection(self) -> Iterator[Connection]:
        with self._errors(), self.engine.connect() as conn:
            yield conn

    @contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except OperationalError as exc:
            if _is_connection_failure(exc):
                raise StoreError(
                    f"cannot open the store {self.display_url}: {_first_line(exc)}"
                ) from exc
            raise

    def dispose(self) -> None:
        self.engine.dispose()


def _first_line(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None) or exc
    return str(orig).strip().splitlines()[0] if str(orig).strip() else type(orig).__name__


def _is_connection_failure(exc: OperationalError) -> bool:
    text = str(exc.orig).lower() if exc.orig else str(exc).lower()
    return any(
        marker in text
        for marker in (
            "unable to open database",
            "connection refused",
            "could not connect",
            "connection failed",
            "does not exist",
            "password authentication failed",
            "no such host",
            "name or service not known",
            "is not a database",
        )
    )
