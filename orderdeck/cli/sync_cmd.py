"""``orderdeck sync``: the headless service.

Signals: SIGTERM / SIGINT drain (stop claiming, finish or release what is in
flight, exit 0 within ``--drain-timeout``); a second one exits at once; SIGHUP
re-reads the configuration and restarts the parts with it (a bad file is logged
and the old configuration kept).
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from typing import Any

import click

from orderdeck import __version__, logs
from orderdeck import config as config_mod
from orderdeck.cli.common import AppContext, json_option, pass_app, print_json
from store.errors import OrderdeckError
from sync.settings import ENGINE_PARTS as PARTS

log = logging.getLogger("orderdeck.sync")


def _setup_logging(cfg: config_mod.Config, level: str | None) -> None:
    logs.setup(
        level=level or cfg.logging.level,
        fmt=cfg.logging.format,
        file=cfg.logging.file,
        secrets=cfg.secrets(),
    )


@click.command("sync")
@click.option("--once", is_flag=True, help="One pass of each part, then exit (for cron and tests).")
@click.option(
    "--only",
    "only",
    multiple=True,
    type=click.Choice(PARTS),
    help="Run only this part (repeatable); default: all of them.",
)
@click.option(
    "--drain-timeout",
    type=click.FloatRange(min=0),
    default=30.0,
    show_default=True,
    help="Seconds to finish in-flight work on SIGTERM before giving it up.",
)
@click.option(
    "--log-level",
    type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"]),
    help="Override [logging] level.",
)
@json_option
@pass_app
def sync(
    app: AppContext,
    once: bool,
    only: tuple[str, ...],
    drain_timeout: float,
    log_level: str | None,
    as_json: bool,
) -> None:
    """Run the sync engine headless: drop-folder ingest, carrier polling, notifications.

    Writes a heartbeat every [sync] heartbeat_interval seconds (see `orderdeck status`).
    Under systemd with Type=notify it reports READY=1 and pings the watchdog.
    SIGTERM drains and exits 0; a second SIGTERM exits at once; SIGHUP reloads the
    configuration.
    """
    from store.heartbeat import new_worker_id
    from sync.sdnotify import SystemdNotifier
    from sync.service import Engine

    cfg = app.config
    _setup_logging(cfg, log_level)
    store = app.store()
    parts = only or PARTS
    state: dict[str, Any] = {"config": cfg}

    def make_parts() -> list[Any]:
        return build_parts(store, state["config"], parts)

    engine = Engine(
        store,
        make_parts,
        role="sync",
        worker_id=new_worker_id("sync"),
        version=__version__,
        heartbeat_seconds=cfg.sync.heartbeat_seconds,
        drain_seconds=drain_timeout,
        notifier=SystemdNotifier(),
    )
    if once:
        results = asyncio.run(engine.run_once())
        if as_json:
            print_json(results)
        else:
            for name, counters in results.items():
                shown = ", ".join(
                    f"{k} {v}" for k, v in counters.items() if v and not isinstance(v, float)
                )
                click.echo(f"{name}: {shown or 'nothing to do'}")
        failed = [n for n, state in engine.states.items() if state.last_error]
        if failed:
            raise OrderdeckError(
                "; ".join(f"{n} failed: {engine.states[n].last_error}" for n in failed)
            )
        return
    asyncio.run(_serve(engine, app, state, log_level))


async def _serve(
    engine: Any, app: AppContext, state: dict[str, Any], log_level: str | None
) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    reload = asyncio.Event()
    terms = 0

    def on_term(signum: int) -> None:
        nonlocal terms
        terms += 1
        if terms > 1:
            log.warning("second %s: exiting at once", signal.Signals(signum).name)
            os._exit(128 + signum)
        log.info("%s: draining (send it again to exit at once)", signal.Signals(signum).name)
        stop.set()

    def on_hup() -> None:
        try:
            fresh = config_mod.load(app.config_path, app.db_url)
        except OrderdeckError as exc:
            log.error("SIGHUP: configuration not reloaded: %s", exc)
            return
        if fresh.store.url != state["config"].store.url:
            log.error("SIGHUP: [store] url changed; restart the service to change stores")
            return
        state["config"] = fresh
        _setup_logging(fresh, log_level)
        log.info("SIGHUP: configuration reloaded from %s", fresh.path)
        reload.set()

    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, on_term, signum)
    loop.add_signal_handler(signal.SIGHUP, on_hup)
    try:
        await engine.run(stop, reload)
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            loop.remove_signal_handler(signum)
        # Drained: another SIGTERM on the way out still means "exit now", quietly.
        signal.signal(signal.SIGTERM, lambda signum, _frame: os._exit(128 + signum))


def build_parts(store: Any, cfg: config_mod.Config, only: tuple[str, ...] | list[str]) -> list[Any]:
    from sync.assembly import make_parts

    return make_parts(store, cfg.sync, cfg.notify, only=only)


def register(cli: click.Group) -> None:
    if sys.platform != "win32":
        cli.add_command(sync)
