"""``orderdeck notify``: the notification log, resending, previews, the suppression list."""

from __future__ import annotations

import asyncio
import getpass
import signal
import sys
from datetime import UTC, datetime
from typing import Any

import click

from orderdeck.cli.common import AppContext, json_option, pass_app, print_json
from orderdeck.cli.text import age, clean, console, local_time, plain, table
from store.errors import OrderdeckError
from store.statuses import NotificationState

_STATES = [s.value for s in NotificationState]


def _operator(app: AppContext) -> str:
    configured = app.config.console.operator
    if configured:
        return configured
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value


def _order_id(app: AppContext, number: str) -> int:
    from store import queries

    with app.store().read() as session:
        order_id = queries.find_order(session, number).id
    assert order_id is not None
    return order_id


@click.group("notify")
def notify() -> None:
    """The notification log: list, show, resend, preview, suppress, dispatch."""


@notify.command("list")
@click.option("--order", "order_number", metavar="NUMBER", help="Only this order's messages.")
@click.option("--state", type=click.Choice(_STATES), help="Only rows in this state.")
@click.option("--channel", metavar="NAME", help="Only this channel.")
@click.option("--event", metavar="EVENT", help="Only this event, e.g. shipped.")
@click.option("--limit", type=click.IntRange(1, 100_000), default=50, show_default=True)
@json_option
@pass_app
def list_cmd(
    app: AppContext,
    order_number: str | None,
    state: str | None,
    channel: str | None,
    event: str | None,
    limit: int,
    as_json: bool,
) -> None:
    """List notifications, newest first."""
    from notifiers import outbox

    order_id = _order_id(app, order_number) if order_number else None
    flt = outbox.ListFilter(
        order_id=order_id, state=state, channel=channel, event=event, limit=limit
    )
    with app.store().read_connection() as conn:
        rows = outbox.list_rows(conn, flt)
    if as_json:
        print_json([_jsonable(r) for r in rows])
        return
    if not rows:
        click.echo(
            "no notifications match"
            if any([order_number, state, channel, event])
            else "no notifications yet"
        )
        return
    zone = app.config.notify.timezone
    now = datetime.now(UTC)
    grid = table("ID", "ORDER", "EVENT", "CHANNEL", "TO", "STATE", "TRIES", "CREATED", "NOTE")
    for r in rows:
        note = r["state_reason"] or ""
        if r["resend_of"]:
            note = f"resend of {r['resend_of']} by {r['requested_by']}" + (
                f"; {note}" if note else ""
            )
        if r["state"] == "pending" and r["next_attempt_at"] and r["next_attempt_at"] > now:
            note = f"due {local_time(r['next_attempt_at'], zone)}" + (f"; {note}" if note else "")
        grid.add_row(
            str(r["id"]),
            plain(r["order_number"]),
            plain(r["event"]),
            plain(r["channel"]),
            plain(r["recipient"] or ("team" if r["audience"] == "team" else "")),
            plain(r["state"], "bold" if r["state"] in ("dead", "unknown") else ""),
            str(r["attempts"]),
            age(r["created_at"], now),
            plain(note[:80]),
        )
    console().print(grid)


@notify.command("show")
@click.argument("notification_id", type=int)
@json_option
@pass_app
def show_cmd(app: AppContext, notification_id: int, as_json: bool) -> None:
    """Show one notification: what was sent, to whom, and every attempt."""
    from notifiers import outbox

    with app.store().read_connection() as conn:
        row = outbox.get(conn, notification_id)
    if as_json:
        print_json(_jsonable(row))
        return
    zone = app.config.notify.timezone
    out = console()
    out.print(plain(f"Notification {row['id']}: {row['event']} on {row['channel']}", "bold"))
    fields = [
        ("order", row.get("order_number")),
        ("to", row["recipient"] or ("the team" if row["audience"] == "team" else "")),
        ("state", row["state"] + (f" ({row['state_reason']})" if row["state_reason"] else "")),
        ("attempts", row["attempts"]),
        ("created", local_time(row["created_at"], zone)),
        ("next try", local_time(row["next_attempt_at"], zone) if row["state"] == "pending" else ""),
        ("sent", local_time(row["sent_at"], zone)),
        ("resend of", row["resend_of"]),
        ("asked by", row["requested_by"]),
        ("resent as", ", ".join(str(i) for i in row["resends"])),
        ("last error", row["last_error"]),
    ]
    for label, value in fields:
        if value not in (None, ""):
            out.print(plain(f"  {label:<11} {clean(value)}"))
    meta = (row.get("context") or {}).get("_meta") or {}
    for warning in meta.get("warnings", []):
        out.print(plain(f"  warning     {warning}"))
    if row["subject"]:
        out.print(plain(f"\nSubject: {row['subject']}", "bold"))
    if row["body"]:
        out.print(plain("\n" + row["body"]))
    if row["body_html"]:
        out.print(plain(f"\n(HTML part: {len(row['body_html'])} characters; --json shows it)"))
    if row["attempt_log"]:
        out.print(plain("\nAttempts", "bold"))
        for a in row["attempt_log"]:
            out.print(
                plain(
                    f"  #{a['attempt']} {local_time(a['started_at'], zone, '%Y-%m-%d %H:%M:%S')} "
                    f"{a['outcome'] or '?'}  {clean(a['error'] or '')}"
                )
            )
            for service in (a.get("result") or {}).get("services", []):
                out.print(
                    plain(f"      {service['service']} {service['status']}  {service['url']}")
                )
                for line in service.get("logs", []):
                    out.print(plain(f"        {line['level']}: {line['message']}"))


@notify.command("resend")
@click.argument("notification_id", type=int)
@click.option("--channel", metavar="NAME", help="Send on this channel instead.")
@click.option("--to", "to", metavar="ADDRESS", help="Send to this address instead.")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@json_option
@pass_app
def resend_cmd(
    app: AppContext,
    notification_id: int,
    channel: str | None,
    to: str | None,
    yes: bool,
    as_json: bool,
) -> None:
    """Queue a notification again as a new row (the original is kept as it was)."""
    from notifiers import outbox

    settings = app.config.notify
    store = app.store()
    with store.read_connection() as conn:
        original = outbox.get(conn, notification_id)
    target = channel or original["channel"]
    who = (
        to
        or original["recipient"]
        or ("the team" if original["audience"] == "team" else "the customer")
    )
    if not yes:
        if not sys.stdin.isatty():
            raise OrderdeckError(
                "resend sends a message to a customer: confirm with --yes when not on a terminal"
            )
        click.confirm(
            f"Resend notification {notification_id} ({original['event']}, order "
            f"{original.get('order_number') or '-'}) on {target} to {who}?",
            abort=True,
        )
    with store.write_connection() as conn:
        new_id = outbox.resend(
            conn,
            notification_id,
            requested_by=_operator(app),
            settings=settings,
            channel=channel,
            to=to,
            now=datetime.now(UTC),
        )
        row = outbox.get(conn, new_id)
    if as_json:
        print_json(
            _jsonable(
                {
                    "id": new_id,
                    "resend_of": notification_id,
                    "state": row["state"],
                    "next_attempt_at": row["next_attempt_at"],
                }
            )
        )
        return
    when = ""
    if row["next_attempt_at"] and row["next_attempt_at"] > datetime.now(UTC):
        when = f", held until {local_time(row['next_attempt_at'], settings.timezone)} (quiet hours)"
    click.echo(
        f"queued notification {new_id} (resend of {notification_id}) on {target} to {row['recipient'] or who}{when}; "
        "the sync service sends it, or run `orderdeck notify dispatch`"
    )


@notify.command("preview")
@click.argument("event")
@click.option(
    "--order", "order_number", metavar="NUMBER", required=True, help="The order to render for."
)
@click.option(
    "--channel", metavar="NAME", help="Only this channel (default: every channel with EVENT)."
)
@click.option("--html", "show_html", is_flag=True, help="Also print the HTML of e-mails.")
@json_option
@pass_app
def preview_cmd(
    app: AppContext,
    event: str,
    order_number: str,
    channel: str | None,
    show_html: bool,
    as_json: bool,
) -> None:
    """Render EVENT for an order exactly as it would be sent; nothing is sent or written."""
    from notifiers import preview
    from notifiers.settings import EVENTS

    if event not in EVENTS:
        raise click.BadParameter(f"{event!r} is not one of {', '.join(EVENTS)}", param_hint="EVENT")
    settings = app.config.notify
    order_id = _order_id(app, order_number)
    with app.store().read_connection() as conn:
        previews = preview.render_for_order(conn, settings, event, order_id, channel=channel)
    if as_json:
        print_json([_jsonable(p) for p in previews])
        return
    out = console()
    for p in previews:
        out.print(
            plain(f"── {p['channel']} ({p['kind']}) to {p['recipient'] or p['audience']}", "bold")
        )
        if p.get("problem"):
            out.print(plain(f"   not sent: {p['problem']}"))
        if p.get("error"):
            out.print(plain(f"   template error: {p['error']}"))
            continue
        for warning in p.get("warnings", []):
            out.print(plain(f"   warning: {warning}"))
        if p.get("sms"):
            s = p["sms"]
            out.print(plain(f"   {s['segments']} segment(s), {s['units']} {s['encoding']} units"))
        if p.get("subject"):
            out.print(plain(f"Subject: {p['subject']}"))
        out.print(plain(p["body"] + "\n"))
        if show_html and p.get("body_html"):
            out.print(plain(p["body_html"] + "\n"))


@notify.command("suppress")
@click.argument("address")
@click.option("--reason", help="Why (kept with the entry).")
@pass_app
def suppress_cmd(app: AppContext, address: str, reason: str | None) -> None:
    """Never message ADDRESS (an e-mail or +E.164 phone) again; its pending messages stop."""
    from notifiers import outbox

    with app.store().write_connection() as conn:
        normalized, added, stopped = outbox.suppress(
            conn, address, reason=reason, by=_operator(app), now=datetime.now(UTC)
        )
    state = "added to" if added else "already on"
    extra = f"; {stopped} pending message(s) suppressed" if stopped else ""
    click.echo(f"{normalized} {state} the suppression list{extra}")


@notify.command("unsuppress")
@click.argument("address")
@pass_app
def unsuppress_cmd(app: AppContext, address: str) -> None:
    """Allow messages to ADDRESS again (suppressed messages stay as they are; resend them)."""
    from notifiers import outbox

    with app.store().write_connection() as conn:
        normalized, removed = outbox.unsuppress(
            conn, address, by=_operator(app), now=datetime.now(UTC)
        )
    if not removed:
        raise OrderdeckError(f"{normalized} is not on the suppression list")
    click.echo(f"{normalized} removed from the suppression list")


@notify.command("suppressed")
@json_option
@pass_app
def suppressed_cmd(app: AppContext, as_json: bool) -> None:
    """List the suppression list."""
    import sqlalchemy as sa

    from store.models import Suppression

    t = Suppression.__table__  # type: ignore[attr-defined]
    with app.store().read_connection() as conn:
        rows = [
            dict(r._mapping) for r in conn.execute(sa.select(t).order_by(t.c.created_at.desc()))
        ]
    if as_json:
        print_json([_jsonable(r) for r in rows])
        return
    if not rows:
        click.echo("the suppression list is empty")
        return
    grid = table("ADDRESS", "SOURCE", "SINCE", "BY", "REASON")
    for r in rows:
        grid.add_row(
            plain(r["address"]),
            plain(r["source"]),
            local_time(r["created_at"], app.config.notify.timezone),
            plain(r["created_by"]),
            plain(r["reason"]),
        )
    console().print(grid)


@notify.command("dispatch")
@click.option("--once", is_flag=True, help="One pass: send what is due now, then exit.")
@json_option
@pass_app
def dispatch_cmd(app: AppContext, once: bool, as_json: bool) -> None:
    """Send due notifications: one pass with --once, else until Ctrl-C.

    The sync service does this on its own; this command is for a setup without it,
    or to flush the outbox now.
    """
    from notifiers.dispatch import Dispatcher

    settings = app.config.notify
    if not any(c.enabled for c in settings.channels.values()):
        raise OrderdeckError(
            "no notification channels configured ([notify.channels.NAME] in the config)"
        )
    dispatcher = Dispatcher(app.store(), settings)

    async def forever() -> Any:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        return await dispatcher.run(stop)

    try:
        counters = asyncio.run(dispatcher.run_once() if once else forever())
    finally:
        dispatcher.close()
    if as_json:
        print_json(counters.as_dict())
        return
    figures = counters.as_dict()
    click.echo(", ".join(f"{k} {v}" for k, v in figures.items() if v) or "nothing was due")


def register(cli: click.Group) -> None:
    cli.add_command(notify)
