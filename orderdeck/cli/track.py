"""``orderdeck track NUMBER``: poll one order's shipments now and show what changed."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import click
from sqlmodel import col, select

from orderdeck.cli.common import AppContext, json_option, pass_app, print_json
from orderdeck.cli.text import clean, console, local_time, plain
from store import queries
from store.errors import OrderdeckError
from store.models import Shipment


@click.command("track")
@click.argument("number")
@click.option("--source", help="The order's source, when the number exists in several.")
@json_option
@pass_app
def track(app: AppContext, number: str, source: str | None, as_json: bool) -> None:
    """Poll the shipments of order NUMBER now, whatever their schedule, and print what changed.

    Exits 1 when no carrier answered for any of them (all failed, or no provider).
    """
    from sync.assembly import notification_hook
    from sync.poller import Poller

    store = app.store()
    with store.read() as session:
        order = queries.find_order(session, number, source)
        order_number, order_source = order.number, order.source
        shipment_ids = [
            s.id
            for s in session.exec(
                select(Shipment).where(Shipment.order_id == order.id).order_by(col(Shipment.id))
            )
            if s.id is not None
        ]
    if not shipment_ids:
        if as_json:
            print_json({"order": order_number, "source": order_source, "shipments": [], "busy": []})
        else:
            click.echo(f"order {clean(order_number)} has no shipment to track yet")
        return

    async def poll() -> Any:
        hook = notification_hook(app.config.notify)
        async with Poller(store, app.config.sync, on_changes=hook) as poller:
            return await poller.poll_shipments(shipment_ids)

    result = asyncio.run(poll())
    reports = sorted(result.reports, key=lambda r: r.shipment_id)
    answered = any(r.outcome in ("result", "not_found") for r in reports)
    if as_json:
        print_json(
            {
                "order": order_number,
                "source": order_source,
                "shipments": [r.as_dict() for r in reports],
                "busy": result.busy,
            }
        )
        if not answered:
            raise OrderdeckError(f"no carrier answered for order {order_number}")
        return
    zone = app.config.sync.timezone
    out = console()
    out.soft_wrap = True  # a long reason stays one line, for grep
    now = datetime.now(UTC)
    for report in reports:
        who = report.carrier or "unknown carrier"
        via = (
            f" via {report.provider}"
            if report.provider and report.provider != report.carrier
            else ""
        )
        out.print(plain(f"{order_number}  {report.tracking_number}  ({who}{via})", "bold"))
        if report.old_status != report.new_status:
            line = f"  status      {report.old_status} -> {report.new_status}"
        else:
            line = f"  status      {report.new_status} (unchanged)"
        if report.substatus:
            line += f" / {clean(report.substatus)}"
        out.print(plain(line))
        if report.new_estimated_delivery != report.old_estimated_delivery:
            was = local_time(report.old_estimated_delivery, zone) or "none"
            out.print(
                plain(
                    f"  estimate    {local_time(report.new_estimated_delivery, zone)} (was {was})"
                )
            )
        elif report.new_estimated_delivery:
            out.print(plain(f"  estimate    {local_time(report.new_estimated_delivery, zone)}"))
        if report.new_events:
            out.print(plain(f"  {len(report.new_events)} new event(s):"))
            for event in report.new_events:
                when = local_time(datetime.fromisoformat(event["occurred_at"]), zone)
                where = f"  {event['location']}" if event["location"] else ""
                out.print(plain(f"    {when}  {clean(event['description'])}{clean(where)}"))
        elif report.outcome == "result":
            out.print(plain("  no new events"))
        if report.error:
            out.print(plain(f"  {report.outcome.replace('_', ' ')}: {clean(report.error)}"))
        if report.raised:
            out.print(plain(f"  attention raised: {', '.join(report.raised)}", "bold"))
        if report.cleared:
            out.print(plain(f"  attention cleared: {', '.join(report.cleared)}"))
        if report.next_poll_at:
            minutes = max(0, int((report.next_poll_at - now).total_seconds() // 60))
            out.print(plain(f"  next poll   in {minutes} min"))
        else:
            out.print(plain("  next poll   none (no more polling)"))
    for shipment_id in result.busy:
        out.print(plain(f"shipment {shipment_id}: being polled by another worker right now"))
    if not answered:
        raise OrderdeckError(f"no carrier answered for order {order_number}")


def register(cli: click.Group) -> None:
    cli.add_command(track)
