"""Shared fixtures: real stores (a SQLite file, a fresh PostgreSQL database) and the CLI.

PostgreSQL tests run when ``ORDERDECK_TEST_PG_URL`` names a server (CI always sets
it, and there a missing server is a failure); elsewhere they are skipped with a reason.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from store.engine import Store
from store.migrate import open_store
from store.settings import StoreSettings

PG_ENV = "ORDERDECK_TEST_PG_URL"


def pg_admin_url() -> str | None:
    return os.environ.get(PG_ENV) or None


def _psycopg_url(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    url = pg_admin_url()
    if not url:
        pytest.skip(
            f"PostgreSQL tests need {PG_ENV} (e.g. postgresql://postgres@127.0.0.1:5432/postgres)"
        )
    import psycopg

    try:
        with psycopg.connect(_psycopg_url(url), connect_timeout=5) as conn:
            conn.execute("SELECT 1")
    except psycopg.OperationalError as exc:
        pytest.fail(f"{PG_ENV} is set but PostgreSQL is not reachable: {exc}")
    yield url


def _replace_db(url: str, name: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).set(database=name).render_as_string(hide_password=False)


@pytest.fixture
def pg_url(pg_server: str) -> Iterator[str]:
    """A brand-new PostgreSQL database for one test, dropped afterwards."""
    import psycopg

    name = f"orderdeck_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(_psycopg_url(pg_server), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = _replace_db(pg_server, name)
    try:
        yield url
    finally:
        with psycopg.connect(_psycopg_url(pg_server), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'orderdeck.db'}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The same test on a SQLite file and on a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'orderdeck.db'}"
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    s = open_store(StoreSettings(url=store_url))
    try:
        yield s
    finally:
        s.dispose()


@pytest.fixture
def sqlite_store(sqlite_url: str) -> Iterator[Store]:
    s = open_store(StoreSettings(url=sqlite_url))
    try:
        yield s
    finally:
        s.dispose()


@pytest.fixture
def cli_env(tmp_path: Path) -> dict[str, str]:
    """An environment in which the CLI sees only this test's files."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORDERDECK_")}
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    env.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_DATA_HOME=str(home / ".local/share"),
        XDG_STATE_HOME=str(home / ".local/state"),
        XDG_CACHE_HOME=str(home / ".cache"),
        NO_COLOR="1",
        COLUMNS="160",
    )
    return env


def run_cli(
    *args: str,
    env: dict[str, str],
    input: str | None = None,
    timeout: float = 120,
    cwd: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run the real ``orderdeck`` entry point in a subprocess."""
    return subprocess.run(
        [sys.executable, "-m", "orderdeck", *args],
        env=env,
        input=input,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
    )
