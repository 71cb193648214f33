"""``orderdeck orders``: query the store from the shell."""

from __future__ import annotations

from datetime import UTC, datetime

import click

from orderdeck.cli.common import AppContext, json_option, pass_app, print_json
from orderdeck.cli.text import age, clean, console, local_time, plain, table
from store import queries
from store.statuses import AttentionReason


@click.group("orders")
def orders() -> None:
    """List and show orders."""


@orders.command("list")
@click.option("--status", help="Summary status, e.g. in_transit, delivered, unfulfilled.")
@click.option("--carrier", help="Carrier code, e.g. ups, dhl, royal_mail.")
@click.option(
    "--attention",
    metavar="REASON",
    help="Only orders needing attention: a reason (late, stalled, ...) or 'any'.",
)
@click.option("--search", help="Substring of number, name, email, phone or tracking number.")
@click.option("--source", help="Only orders from this source.")
@click.option("--limit", type=click.IntRange(1, 100_000), default=50, show_default=True)
@json_option
@pass_app
def list_orders(
    app: AppContext,
    status: str | None,
    carrier: str | None,
    attention: str | None,
    search: str | None,
    source: str | None,
    limit: int,
    as_json: bool,
) -> None:
    """List orders, most recently changed first."""
    if attention and attention != "any" and attention not in set(AttentionReason):
        reasons = ", ".join(r.value for r in AttentionReason)
        raise click.BadParameter(
            f"{attention!r} is not one of any, {reasons}", param_hint="--attention"
        )
    flt = queries.OrderFilter(
        status=status,
        carrier=carrier,
        attention=attention,
        search=search,
        source=source,
        limit=limit,
    )
    store = app.store()
    with store.read() as session:
        found = queries.list_orders(session, flt)
        data = queries.orders_as_dicts(session, found) if as_json else None
    if as_json:
        print_json(data)
        return
    if not found:
        click.echo(
            "no orders match"
            if any([status, carrier, attention, search, source])
            else "no orders yet"
        )
        return
    zone = app.config.sync.timezone
    now = datetime.now(UTC)
    grid = table("ORDER", "CUSTOMER", "STATUS", "CARRIER", "TRACKING", "ETA", "SCAN", "ATTENTION")
    for o in found:
        grid.add_row(
            plain(o.number),
            plain(o.customer_name),
            plain(o.status),
            plain(o.carrier),
            plain(o.tracking_number),
            local_time(o.estimated_delivery, zone, "%Y-%m-%d"),
            age(o.last_scan_at, now),
            plain(o.attention, "bold"),
        )
    console().print(grid)


@orders.command("show")
@click.argument("number")
@click.option("--source", help="The source, when the number exists in several.")
@json_option
@pass_app
def show(app: AppContext, number: str, source: str | None, as_json: bool) -> None:
    """Show one order with its line items and shipments."""
    store = app.store()
    with store.read() as session:
        order = queries.find_order(session, number, source)
        data = queries.orders_as_dicts(session, [order])[0]
    if as_json:
        print_json(data)
        return
    zone = app.config.sync.timezone
    out = console()
    out.print(plain(f"Order {data['number']}  ({data['source']})", "bold"))
    for label, key in (
        ("customer", "customer_name"),
        ("email", "email"),
        ("phone", "phone"),
        ("payment", "financial_status"),
        ("fulfilment", "fulfillment_status"),
        ("status", "status"),
        ("attention", "attention"),
    ):
        if data.get(key):
            flag = ""
            if key == "email" and data.get("email_valid") is False:
                flag = "  (invalid)"
            if key == "phone" and data.get("phone_valid") is False:
                flag = "  (invalid)"
            out.print(plain(f"  {label:<11} {clean(data[key])}{flag}"))
    if data.get("total"):
        out.print(plain(f"  {'total':<11} {data['total']} {data.get('currency') or ''}"))
    if order.created_at:
        out.print(plain(f"  {'placed':<11} {local_time(order.created_at, zone)}"))
    if data["line_items"]:
        out.print(plain("\nLine items", "bold"))
        grid = table("QTY", "SKU", "NAME", "PRICE")
        for item in data["line_items"]:
            grid.add_row(
                str(item["quantity"]), plain(item["sku"]), plain(item["name"]), plain(item["price"])
            )
        out.print(grid)
    if data["shipments"]:
        out.print(plain("\nShipments", "bold"))
        grid = table("CARRIER", "TRACKING", "STATUS", "ETA", "ATTENTION")
        for s in data["shipments"]:
            grid.add_row(
                plain(s["carrier"] or "(detecting)"),
                plain(s["tracking_number"]),
                plain(s["status"] + (f" / {s['substatus']}" if s["substatus"] else "")),
                plain((s["estimated_delivery"] or "")[:10]),
                plain(s["attention"]),
            )
        out.print(grid)


def register(cli: click.Group) -> None:
    cli.add_command(orders)
