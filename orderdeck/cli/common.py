"""What every command shares: the loaded configuration, the store, output helpers."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import click

from orderdeck import config as config_mod
from store.engine import Store


@dataclass
class AppContext:
    config_path: str | None
    db_url: str | None
    _config: config_mod.Config | None = None
    _stores: list[Store] = field(default_factory=list)

    @property
    def config(self) -> config_mod.Config:
        if self._config is None:
            self._config = config_mod.load(self.config_path, self.db_url)
        return self._config

    def store(self, *, create: bool = True) -> Store:
        """The store, created if fresh, refused if its schema is newer than ours."""
        from store.migrate import open_store

        store = open_store(self.config.store, create=create)
        self._stores.append(store)
        return store

    def raw_store(self) -> Store:
        """The store without any schema check (for ``db`` commands)."""
        store = Store(self.config.store)
        self._stores.append(store)
        return store

    def heartbeat_fresh(self) -> timedelta:
        return self.config.sync.heartbeat_fresh

    def close(self) -> None:
        for store in self._stores:
            store.dispose()
        self._stores.clear()


def app(ctx: click.Context) -> AppContext:
    obj = ctx.find_object(AppContext)
    assert obj is not None
    return obj


pass_app = click.make_pass_decorator(AppContext)


def print_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


def stdout_is_terminal() -> bool:
    return sys.stdout.isatty()


def json_option(fn: Any) -> Any:
    return click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")(fn)
