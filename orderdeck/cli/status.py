"""``orderdeck status``: health at a glance."""

from __future__ import annotations

import click

from orderdeck.cli.common import AppContext, json_option, pass_app, print_json
from orderdeck.cli.text import clean
from store import migrate, queries


@click.command("status")
@json_option
@pass_app
def status(app: AppContext, as_json: bool) -> None:
    """Store, schema, live workers, due polls, pending notifications, attention."""
    store = app.store()
    schema = migrate.state(store)
    with store.read() as session:
        summary = queries.status_summary(session, heartbeat_fresh=app.heartbeat_fresh())
    data = {
        "store": store.display_url,
        "dialect": store.dialect,
        "schema": {"current": schema.current, "head": schema.head, "up_to_date": schema.up_to_date},
        **summary,
    }
    if as_json:
        print_json(data)
        return
    click.echo(
        f"store        {data['store']}  (schema {schema.current}, {'up to date' if schema.up_to_date else 'needs upgrade'})"
    )
    click.echo(f"orders       {summary['orders']}   shipments {summary['shipments']}")
    if summary["shipments_by_status"]:
        parts = ", ".join(f"{k} {v}" for k, v in sorted(summary["shipments_by_status"].items()))
        click.echo(f"  by status  {parts}")
    click.echo(
        f"due polls    {summary['due_polls']}   last poll {summary['last_poll_at'] or 'never'}"
    )
    notif = summary["notifications"]
    click.echo(
        "notifications "
        + (", ".join(f"{k} {v}" for k, v in sorted(notif.items())) if notif else "none")
    )
    if summary["attention"]:
        parts = ", ".join(f"{k} {v}" for k, v in sorted(summary["attention"].items()))
        click.echo(f"attention    {summary['attention_total']}: {parts}")
    else:
        click.echo("attention    none")
    alive = [w for w in summary["workers"] if w["alive"]]
    click.echo(f"workers      {len(alive)} alive")
    for w in summary["workers"][:10]:
        click.echo(
            f"  {clean(w['worker_id'])}  {w['role']}  {w['state']}  last seen {w['last_seen']}"
        )
        if w["alive"]:
            ingest = (w["counters"] or {}).get("ingest") or {}
            for key, label in (("folders_owned", "owns"), ("folders_standby", "stands by for")):
                if ingest.get(key):
                    click.echo(f"    {label} {', '.join(clean(str(f)) for f in ingest[key])}")
    for c in summary["carriers"]:
        if c["auth_error"]:
            click.echo(f"carrier {c['carrier']}: CONFIGURATION PROBLEM: {clean(c['auth_error'])}")
        elif c["circuit"] != "closed":
            click.echo(f"carrier {c['carrier']}: {c['circuit']} ({clean(c['last_error'])})")


def register(cli: click.Group) -> None:
    cli.add_command(status)
