"""``orderdeck console``: the full-screen console (also ``orderdeck`` alone)."""

from __future__ import annotations

import sys
from dataclasses import replace

import click

from orderdeck import logs
from orderdeck.cli.common import AppContext, pass_app


@click.command("console")
@click.option(
    "--read-only",
    is_flag=True,
    help="Hide every action that changes or sends anything (also [console] read_only).",
)
@click.option(
    "--no-engine",
    is_flag=True,
    help="Never run the sync engine here, even when no sync service is alive "
    "(also [console] run_engine = false).",
)
@pass_app
def console(app: AppContext, read_only: bool, no_engine: bool) -> None:
    """The full-screen console: board, order detail, notifications, attention queue.

    When no `orderdeck sync` service is alive, the console runs the sync engine
    itself (ingest, polling, notifications) until one starts; the header says who
    runs it.

    Keys: ? shows every key of the view you are on; : opens the command palette;
    q quits. Remap keys by binding id in [console.keymap].
    """
    if not sys.stdin.isatty() or not sys.stdout.isatty():
        raise click.UsageError("the console needs a terminal (stdin and stdout must be a TTY)")
    from console.app import OrderdeckApp
    from console.context import from_config

    config = app.config
    settings = config.console
    if read_only:
        settings = replace(settings, read_only=True)
    if no_engine:
        settings = replace(settings, run_engine=False)
    store = app.store()
    if config.logging.file is not None:
        # The engine's log goes to the configured file; never to the terminal,
        # which the console owns (its errors show as notifications instead).
        logs.setup(
            level=config.logging.level,
            file=config.logging.file,
            secrets=config.secrets(),
            stream=False,
        )
    context = from_config(config, store, settings=settings)
    OrderdeckApp(context).run()


def register(cli: click.Group) -> None:
    cli.add_command(console)
