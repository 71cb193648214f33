"""Order detail: the order's whole story, and what a person can do about it."""

from __future__ import annotations

from typing import ClassVar

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.widgets import Static

from console import actions
from console.format import (
    ATTENTION_STYLE,
    STATE_STYLE,
    age,
    eta_text,
    local,
    safe,
    safe_block,
    status_label,
    status_text,
)
from console.live import StoreChanged
from console.screens.base import OrderdeckScreen
from console.screens.modals import ChoiceScreen, InfoScreen
from console.widgets.header import StatusHeader
from console.widgets.keybar import KeyBar
from store import story as story_mod
from store.story import OrderStory
from sync.carriers.names import tracking_url


def _table(*columns: str) -> Table:
    table = Table(box=None, pad_edge=False, show_edge=False, header_style="bold dim", expand=False)
    for column in columns:
        table.add_column(column, overflow="fold")
    return table


def _section(title: str) -> Text:
    return Text(f"\n{title}", style="bold underline")


class DetailScreen(OrderdeckScreen):
    VIEW_TITLE = "order"
    MUTATING = frozenset({"resend", "poll_now", "resolve", "snooze", "note"})
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back", id="detail.back"),
        Binding("r", "resend", "Resend", id="detail.resend"),
        Binding("p", "poll_now", "Poll now", id="detail.poll_now"),
        Binding("x", "resolve", "Resolve", id="detail.resolve"),
        Binding("z", "snooze", "Snooze", id="detail.snooze"),
        Binding("n", "note", "Note", id="detail.note"),
        Binding("y", "copy_tracking", "Copy #", id="detail.copy_tracking"),
        Binding("u", "copy_url", "Copy URL", id="detail.copy_url"),
        Binding("o", "show_url", "Tracking URL", id="detail.show_url"),
    ]

    DEFAULT_CSS = """
    #detail-body { height: 1fr; padding: 0 1; }
    """

    def __init__(self, order_id: int) -> None:
        super().__init__()
        self.order_id = order_id
        self.story: OrderStory | None = None
        self._loading = False
        self._again = False

    def compose(self) -> ComposeResult:
        yield StatusHeader("order")
        with VerticalScroll(id="detail-body"):
            yield Static(Text("loading…", style="dim"), id="detail")
        yield KeyBar()

    def on_mount(self) -> None:
        self.query_one("#detail-body").focus()
        self._load()

    def _load(self) -> None:
        if self._loading:
            self._again = True
            return
        self._loading = True
        store = self.ctx.store

        def job() -> None:
            try:
                with store.read() as session:
                    loaded = story_mod.load(session, self.order_id)
            except Exception as exc:
                self.app.call_from_thread(self._failed, exc)
                return
            self.app.call_from_thread(self._loaded, loaded)

        self.run_worker(job, thread=True, group="detail", exit_on_error=False)

    def _failed(self, error: BaseException) -> None:
        self._loading = False
        self.oapp.show_error(error, "Cannot show the order")
        if self.story is None:
            self.query_one("#detail", Static).update(Text(str(error), style="bold red"))

    def _loaded(self, loaded: OrderStory) -> None:
        self._loading = False
        self.story = loaded
        self.query_one("#detail", Static).update(self.render_story(loaded))
        if self._again:
            self._again = False
            self._load()

    def refresh_data(self, message: StoreChanged | None) -> None:
        if message is None or message.order_ids is None or self.order_id in message.order_ids:
            self._load()

    # -- rendering ------------------------------------------------------------

    def render_story(self, s: OrderStory) -> RenderableType:
        ctx = self.ctx
        tz, now = ctx.timezone, ctx.now()
        o = s.order
        parts: list[RenderableType] = []
        title = Text()
        title.append("Order ", style="bold")
        title.append(safe(o.number, "bold"))
        title.append("  ")
        title.append(status_text(o.status))
        if o.attention:
            title.append("  ")
            title.append(safe(status_label(o.attention), ATTENTION_STYLE))
        title.append(f"   placed {local(o.created_at, tz)} ({tz})", style="dim")
        title.append(f"   {o.source}", style="dim")
        parts.append(title)

        facts = _table("", "")
        facts.show_header = False

        def flag(valid: bool | None) -> Text:
            if valid is False:
                return Text("  ✗ invalid", style="bold red")
            if valid is True:
                return Text("  ✓", style="green")
            return Text("")

        facts.add_row(Text("customer", style="dim"), safe(o.customer_name))
        facts.add_row(Text("email", style="dim"), safe(o.email) + flag(o.email_valid))
        facts.add_row(Text("phone", style="dim"), safe(o.phone) + flag(o.phone_valid))
        if o.contact_problems:
            facts.add_row(Text("problems", style="dim"), safe(o.contact_problems, "bold red"))
        address = ", ".join(
            p
            for p in (
                o.ship_name,
                o.ship_company,
                o.ship_address1,
                o.ship_address2,
                o.ship_city,
                o.ship_province,
                o.ship_zip,
                o.ship_country,
            )
            if p
        )
        facts.add_row(Text("ship to", style="dim"), safe(address))
        if o.total:
            facts.add_row(Text("total", style="dim"), safe(f"{o.total} {o.currency or ''}"))
        facts.add_row(
            Text("payment", style="dim"),
            safe(f"{o.financial_status or '?'} · fulfilment {o.fulfillment_status or '?'}"),
        )
        if o.tags:
            facts.add_row(Text("tags", style="dim"), safe(o.tags))
        if o.note:
            facts.add_row(Text("shop note", style="dim"), safe_block(o.note))
        parts.append(facts)

        if s.items:
            parts.append(_section("Line items"))
            items = _table("QTY", "SKU", "ITEM", "PRICE")
            for item in s.items:
                items.add_row(
                    str(item.quantity), safe(item.sku), safe(item.name), safe(item.unit_price)
                )
            parts.append(items)

        parts.append(_section(f"Shipments ({len(s.shipments)})"))
        if not s.shipments:
            parts.append(Text("no tracking yet", style="dim"))
        for index, ship in enumerate(s.shipments, 1):
            sh = ship.shipment
            head = Text(f"{index}. ")
            head.append(safe(sh.carrier or "carrier unknown", "bold"))
            head.append("  ")
            head.append(safe(sh.tracking_number, "bold"))
            head.append("  ")
            head.append(status_text(sh.status))
            if sh.substatus:
                head.append(" / ")
                head.append(safe(sh.substatus))
            if sh.attention:
                head.append("  ")
                head.append(safe(status_label(sh.attention), ATTENTION_STYLE))
            parts.append(head)
            info = Text("   ETA ", style="dim")
            info.append(eta_text(sh.estimated_delivery, sh.status, now, tz))
            if (
                sh.original_estimated_delivery
                and sh.original_estimated_delivery != sh.estimated_delivery
            ):
                info.append(
                    f" (first said {local(sh.original_estimated_delivery, tz, '%b %d')})",
                    style="dim",
                )
            info.append(f"   provider {sh.provider or 'none'}", style="dim")
            if sh.last_polled_at:
                info.append(f"   polled {age(sh.last_polled_at, now)} ago", style="dim")
            if sh.next_poll_at:
                info.append(f"   next {local(sh.next_poll_at, tz, '%b %d %H:%M')}", style="dim")
            if sh.last_error:
                info.append("   error ", style="bold red")
                info.append(safe(sh.last_error, "red"))
            parts.append(info)
            if len(ship.eta_revisions) > 1:
                revs = Text("   ETA revisions: ", style="dim")
                revs.append(
                    " → ".join(
                        f"{local(r.estimated_delivery, tz, '%b %d')} ({local(r.recorded_at, tz, '%b %d')})"
                        for r in ship.eta_revisions
                    )
                )
                parts.append(revs)
            if ship.events:
                timeline = _table("   TIME", "STATUS", "EVENT", "WHERE")
                for event in ship.events:
                    timeline.add_row(
                        Text("   " + local(event.occurred_at, tz)),
                        status_text(event.status),
                        safe(event.description),
                        safe(event.location),
                    )
                parts.append(timeline)
            else:
                parts.append(Text("   no scans yet", style="dim"))

        parts.append(_section(f"Attention ({len(s.open_attention)} open)"))
        if not s.attention:
            parts.append(Text("nothing needs a person", style="dim"))
        else:
            table = _table("REASON", "RAISED", "DETAIL", "STATE")
            for item in s.attention:
                if item.resolved_at is not None:
                    state = Text(f"resolved by {item.resolved_by or '?'}: ", style="dim")
                    state.append(safe(item.resolution, "dim"))
                elif item.snoozed_until is not None and item.snoozed_until > now:
                    state = Text(f"snoozed until {local(item.snoozed_until, tz)}", style="yellow")
                else:
                    state = Text("open", style=ATTENTION_STYLE)
                table.add_row(
                    safe(status_label(item.reason), "bold" if item.resolved_at is None else "dim"),
                    Text(local(item.raised_at, tz)),
                    safe(item.detail),
                    state,
                )
            parts.append(table)

        parts.append(_section(f"Notifications ({len(s.notifications)})"))
        if not s.notifications:
            parts.append(Text("none sent", style="dim"))
        else:
            table = _table("#", "EVENT", "CHANNEL", "TO", "STATE", "TRIES", "WHEN", "RESULT")
            for n in s.notifications:
                nt = n.notification
                last = n.attempts[-1] if n.attempts else None
                result = safe(nt.last_error or (last.outcome if last else ""))
                table.add_row(
                    str(nt.id),
                    safe(nt.event),
                    safe(nt.channel),
                    safe(nt.recipient),
                    Text(status_label(nt.state), style=STATE_STYLE.get(nt.state, "")),
                    str(nt.attempts),
                    Text(local(nt.sent_at or nt.created_at, tz)),
                    result,
                )
            parts.append(table)

        parts.append(_section(f"Notes ({len(s.notes)})"))
        if not s.notes:
            parts.append(Text("no notes", style="dim"))
        for note in s.notes:
            head = Text(f"{local(note.created_at, tz)}  ", style="dim")
            head.append(safe(note.author, "bold"))
            parts.append(head)
            parts.append(safe_block("  " + note.body))

        parts.append(_section("Audit trail"))
        if not s.audit:
            parts.append(Text("no actions yet", style="dim"))
        else:
            table = _table("WHEN", "WHO", "DID", "DETAIL")
            for entry in s.audit:
                detail = ", ".join(f"{k}={v}" for k, v in (entry.detail or {}).items())
                table.add_row(
                    Text(local(entry.at, tz)), safe(entry.actor), safe(entry.action), safe(detail)
                )
            parts.append(table)
        return Group(*parts)

    # -- actions -------------------------------------------------------------

    def action_back(self) -> None:
        self.app.pop_screen()

    def _need_story(self) -> OrderStory | None:
        if self.story is None:
            self.app.notify("still loading the order", severity="warning")
        return self.story

    def action_resend(self) -> None:
        if (s := self._need_story()) is None:
            return
        actions.resend_one(
            self.oapp,
            [
                actions.ResendTarget(
                    n.notification.id or 0,
                    n.notification.event,
                    n.notification.channel,
                    n.notification.recipient,
                    n.notification.state,
                )
                for n in s.notifications
            ],
        )

    def action_poll_now(self) -> None:
        if (s := self._need_story()) is None:
            return
        actions.poll_now(
            self.oapp,
            [
                (x.shipment.id or 0, x.shipment.tracking_number, x.shipment.carrier or "")
                for x in s.shipments
            ],
        )

    def _attention_targets(self, s: OrderStory) -> list[actions.AttentionTarget]:
        return [
            actions.AttentionTarget(a.id or 0, a.reason, a.detail, a.raised_at)
            for a in s.open_attention
        ]

    def action_resolve(self) -> None:
        if (s := self._need_story()) is not None:
            actions.resolve(self.oapp, self._attention_targets(s))

    def action_snooze(self) -> None:
        if (s := self._need_story()) is not None:
            actions.snooze(self.oapp, self._attention_targets(s))

    def action_note(self) -> None:
        if (s := self._need_story()) is not None:
            actions.add_note(self.oapp, self.order_id, s.order.number)

    def _pick_shipment(self, title: str, then: object) -> None:
        s = self._need_story()
        if s is None:
            return
        shipments = [x.shipment for x in s.shipments]
        if not shipments:
            self.app.notify("this order has no tracking number yet", severity="warning")
            return
        if len(shipments) == 1:
            then(shipments[0])  # type: ignore[operator]
            return
        self.app.push_screen(
            ChoiceScreen(
                title, [(safe(f"{x.tracking_number} ({x.carrier or '?'})"), x) for x in shipments]
            ),
            lambda x: x is not None and then(x),  # type: ignore[operator]
        )

    def action_copy_tracking(self) -> None:
        def copy(shipment: object) -> None:
            number = shipment.tracking_number  # type: ignore[attr-defined]
            self.app.copy_to_clipboard(number)
            self.app.notify(f"copied {number}", title="Clipboard")

        self._pick_shipment("Copy which tracking number?", copy)

    def action_copy_url(self) -> None:
        def copy(shipment: object) -> None:
            url = tracking_url(shipment.carrier, shipment.tracking_number)  # type: ignore[attr-defined]
            if not url:
                self.app.notify(
                    "no public tracking page is known for this carrier", severity="warning"
                )
                return
            self.app.copy_to_clipboard(url)
            self.app.notify("copied the tracking URL", title="Clipboard")

        self._pick_shipment("Copy which tracking URL?", copy)

    def action_show_url(self) -> None:
        def show(shipment: object) -> None:
            url = tracking_url(shipment.carrier, shipment.tracking_number)  # type: ignore[attr-defined]
            body = safe(url) if url else Text("no public tracking page is known for this carrier")
            self.app.push_screen(InfoScreen("Carrier tracking page", body))

        self._pick_shipment("Show which tracking URL?", show)
