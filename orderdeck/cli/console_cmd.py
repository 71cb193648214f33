"""``orderdeck console``: the full-screen console (also ``orderdeck`` alone)."""

from __future__ import annotations

import sys
from dataclasses import replace

import click

from orderdeck import __version__, logs
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
    from console.context import ConsoleContext
    from console.engine import in_process

    config = app.config
    settings = config.console
    if read_only:
        settings = replace(settings, read_only=True)
    if no_engine:
        settings = replace(settings, run_engine=False)
    store = app.store()
    engine = None
    if settings.run_engine and not settings.read_only:
        engine = in_process(
            store,
            config.sync,
            config.notify,
            version=__version__,
            heartbeat_seconds=config.sync.heartbeat_seconds,
        )
    if config.logging.file is not None:
        # The engine's log goes to the configured file; never to the terminal,
        # which the console owns (its errors show as notifications instead).
        logs.setup(
            level=config.logging.level,
            file=config.logging.file,
            secrets=config.secrets(),
            stream=False,
        )
    context = ConsoleContext(
        store=store,
        settings=settings,
        notify=config.notify,
        heartbeat_fresh=app.heartbeat_fresh(),
        engine=engine,
        engine_check_seconds=config.sync.heartbeat_seconds,
        secrets=tuple(config.secrets()),
    )
    OrderdeckApp(context).run()


def register(cli: click.Group) -> None:
    cli.add_command(console)
