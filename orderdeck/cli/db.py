"""``orderdeck db``: schema migrations."""

from __future__ import annotations

import click

from orderdeck.cli.common import AppContext, json_option, pass_app, print_json
from store import migrate


@click.group("db")
def db() -> None:
    """Create or upgrade the store's schema."""


@db.command("upgrade")
@json_option
@pass_app
def upgrade(app: AppContext, as_json: bool) -> None:
    """Bring the store to this orderdeck's schema (creating it if empty)."""
    store = app.raw_store()
    before, after = migrate.upgrade(store)
    if as_json:
        print_json({"store": store.display_url, "from": before, "to": after})
    elif before == after:
        click.echo(f"{store.display_url}: already at schema revision {after}")
    else:
        click.echo(f"{store.display_url}: upgraded from {before or 'empty'} to {after}")


@db.command("current")
@json_option
@pass_app
def current(app: AppContext, as_json: bool) -> None:
    """Show the store's schema revision and the one this orderdeck needs."""
    store = app.raw_store()
    state = migrate.state(store)
    if state.too_new:
        verdict = "newer than this orderdeck: upgrade orderdeck"
    elif state.fresh:
        verdict = "empty: created on first use, or run `orderdeck db upgrade`"
    elif state.up_to_date:
        verdict = "up to date"
    else:
        verdict = "needs `orderdeck db upgrade`"
    if as_json:
        print_json(
            {
                "store": store.display_url,
                "current": state.current,
                "head": state.head,
                "up_to_date": state.up_to_date,
                "too_new": state.too_new,
            }
        )
        return
    click.echo(f"store:   {store.display_url}")
    click.echo(f"current: {state.current or '(none)'}")
    click.echo(f"head:    {state.head}")
    click.echo(f"status:  {verdict}")


def register(cli: click.Group) -> None:
    cli.add_command(db)
