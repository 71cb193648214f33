"""The ``orderdeck`` command.

Errors the user can act on print one line on stderr and exit non-zero; anything
else prints one line too, and the traceback only with ``ORDERDECK_DEBUG=1``.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import click

from orderdeck import __version__
from orderdeck.cli.common import AppContext
from store.errors import OrderdeckError

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


class OrderdeckGroup(click.Group):
    """Lists commands in the order they were added, which is the order of use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(self.commands)


@click.group(cls=OrderdeckGroup, context_settings=CONTEXT_SETTINGS, invoke_without_command=True)
@click.option(
    "--config",
    "config_path",
    metavar="PATH",
    envvar="ORDERDECK_CONFIG",
    help="Configuration file [env: ORDERDECK_CONFIG; default: `orderdeck config path`].",
)
@click.option(
    "--db",
    "db_url",
    metavar="URL",
    envvar="ORDERDECK_DB",
    help="Store URL, overriding [store] url [env: ORDERDECK_DB].",
)
@click.version_option(__version__, "-V", "--version", prog_name="orderdeck")
@click.pass_context
def cli(ctx: click.Context, config_path: str | None, db_url: str | None) -> None:
    """orderdeck: a terminal operations console for e-commerce order tracking."""
    if ctx.get_parameter_source("config_path") is click.core.ParameterSource.ENVIRONMENT:
        config_path = None  # read from ORDERDECK_CONFIG by the loader, which says so in errors
    obj = AppContext(config_path=config_path, db_url=db_url)
    ctx.obj = obj
    ctx.call_on_close(obj.close)
    if ctx.invoked_subcommand is None:
        default = cli.commands.get("console")
        if default is not None:
            ctx.invoke(default)
        else:
            click.echo(ctx.get_help())


def _register() -> None:
    from orderdeck.cli import (
        config_cmd,
        console_cmd,
        db,
        demo_cmd,
        detect,
        importer,
        notify,
        orders,
        sandbox_cmd,
        status,
        sync_cmd,
        track,
    )

    for module in (
        console_cmd,
        demo_cmd,
        importer,
        orders,
        track,
        notify,
        detect,
        status,
        sync_cmd,
        sandbox_cmd,
        db,
        config_cmd,
    ):
        module.register(cli)


_register()


def main(argv: list[str] | None = None) -> Any:
    debug = bool(os.environ.get("ORDERDECK_DEBUG"))
    try:
        return cli.main(args=argv, prog_name="orderdeck", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("orderdeck: aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except OrderdeckError as exc:
        click.echo(f"orderdeck: error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("orderdeck: interrupted", err=True)
        sys.exit(130)
    except BrokenPipeError:
        # `orderdeck orders list | head`: the reader went away; that is fine.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(0)
    except Exception as exc:
        if debug:
            raise
        store_problem = _store_problem(exc)
        if store_problem:
            click.echo(f"orderdeck: error: {store_problem}", err=True)
            sys.exit(1)
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        click.echo(
            f"orderdeck: internal error: {type(exc).__name__}: {message} "
            "(set ORDERDECK_DEBUG=1 to see the traceback)",
            err=True,
        )
        sys.exit(70)


def _store_problem(exc: BaseException) -> str | None:
    """The store's own trouble (locked, gone, full) is the environment's, not a bug."""
    from sqlalchemy.exc import OperationalError

    if not isinstance(exc, OperationalError):
        return None
    reason = str(exc.orig).strip().splitlines()[0] if exc.orig is not None else str(exc)
    if "database is locked" in reason:
        return (
            "the store is busy: another process has held its write lock longer than "
            "the busy timeout (database is locked); try again"
        )
    return f"the store failed: {reason}"
