"""``orderdeck console``: the full-screen console (also ``orderdeck`` alone)."""

from __future__ import annotations

import sys
from dataclasses import replace

import click

from orderdeck.cli.common import AppContext, pass_app


@click.command("console")
@click.option(
    "--read-only",
    is_flag=True,
    help="Hide every action that changes or sends anything (also [console] read_only).",
)
@pass_app
def console(app: AppContext, read_only: bool) -> None:
    """The full-screen console: board, order detail, notifications, attention queue.

    Keys: ? shows every key of the view you are on; : opens the command palette;
    q quits. Remap keys by binding id in [console.keymap].
    """
    if not sys.stdin.isatty() or not sys.stdout.isatty():
        raise click.UsageError("the console needs a terminal (stdin and stdout must be a TTY)")
    from console.app import OrderdeckApp
    from console.context import ConsoleContext

    config = app.config
    settings = config.console
    if read_only:
        settings = replace(settings, read_only=True)
    store = app.store()
    context = ConsoleContext(
        store=store,
        settings=settings,
        notify=config.notify,
        heartbeat_fresh=app.heartbeat_fresh(),
    )
    OrderdeckApp(context).run()


def register(cli: click.Group) -> None:
    cli.add_command(console)
