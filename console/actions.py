"""Actions shared by several views: resend, resolve, snooze, note, poll now.

Each asks what it needs (which item, which channel, how long) in a dialog,
confirms what reaches a customer, then writes one transaction in a worker.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from rich.text import Text
from sqlalchemy.engine import Connection

from console.format import safe, status_label
from console.screens.modals import ChoiceScreen, ConfirmScreen, NoteScreen, PromptScreen
from store import operator

if TYPE_CHECKING:
    from console.app import OrderdeckApp

SNOOZE_CHOICES = (
    ("1 hour", timedelta(hours=1)),
    ("4 hours", timedelta(hours=4)),
    ("until tomorrow (24 hours)", timedelta(days=1)),
    ("3 days", timedelta(days=3)),
    ("1 week", timedelta(weeks=1)),
)


@dataclass(frozen=True)
class ResendTarget:
    id: int
    event: str
    channel: str
    recipient: str | None
    state: str


def _resend(
    conn: Connection,
    app: OrderdeckApp,
    notification_id: int,
    channel: str | None,
) -> int:
    from notifiers import outbox

    ctx = app.context
    return int(
        outbox.resend(
            conn,
            notification_id,
            requested_by=ctx.operator,
            settings=ctx.notify,
            channel=channel,
            now=ctx.now(),
        )
    )


def resend_one(app: OrderdeckApp, targets: Sequence[ResendTarget]) -> None:
    """Pick a notification (when several), a channel, confirm, resend."""
    if not targets:
        app.notify("this order has no notifications to resend", severity="warning")
        return

    def with_target(target: ResendTarget | None) -> None:
        if target is None:
            return
        channels = [
            c
            for c in app.context.notify.channels.values()
            if c.enabled and c.name != target.channel
        ]
        options: list[tuple[Text | str, str]] = [(f"same channel ({target.channel})", "")]
        options += [(f"{c.name} ({c.kind})", c.name) for c in channels]
        if len(options) == 1:
            with_channel(target, None)
            return
        app.push_screen(
            ChoiceScreen("Send it on which channel?", options),
            lambda channel: channel is not None and with_channel(target, channel or None),
        )

    def with_channel(target: ResendTarget, channel: str | None) -> None:
        body = Text("Send ")
        body.append(safe(target.event, "bold"))
        body.append(" again to ")
        body.append(safe(target.recipient or "its recipient", "bold"))
        body.append(f" by {channel or target.channel}?\nThe customer gets a new message.")
        app.push_screen(
            ConfirmScreen("Resend this notification?", body),
            lambda yes: yes and go(target, channel),
        )

    def go(target: ResendTarget, channel: str | None) -> None:
        app.run_write(
            lambda conn: _resend(conn, app, target.id, channel),
            done=lambda new_id: app.notify(
                f"queued as notification #{new_id}", title="Resend requested"
            ),
            title="Resend failed",
        )

    if len(targets) == 1:
        with_target(targets[0])
        return
    app.push_screen(
        ChoiceScreen(
            "Resend which notification?",
            [(_target_label(t), t) for t in targets],
        ),
        with_target,
    )


def resend_many(app: OrderdeckApp, ids: Sequence[int], run: Callable[[list[int]], Any]) -> None:
    """One confirmation, then ``run`` resends every marked notification."""
    if not ids:
        app.notify("mark notifications with space first", severity="warning")
        return

    def go(yes: bool | None) -> None:
        if yes:
            run(list(ids))

    app.push_screen(
        ConfirmScreen(
            f"Resend {len(ids)} notifications?",
            f"Each of the {len(ids)} marked notifications is sent again on its own "
            "channel. Customers get new messages.",
        ),
        go,
    )


def _target_label(t: ResendTarget) -> Text:
    text = Text(f"#{t.id} ")
    text.append(safe(t.event, "bold"))
    text.append(f" · {t.channel} · ")
    text.append(safe(t.recipient))
    text.append(f" · {status_label(t.state)}", style="dim")
    return text


@dataclass(frozen=True)
class AttentionTarget:
    id: int
    reason: str
    detail: str | None
    raised_at: datetime


def _attention_label(item: AttentionTarget) -> Text:
    text = Text(status_label(item.reason), style="bold")
    if item.detail:
        text.append("  ")
        text.append(safe(item.detail))
    return text


def _pick_item(
    app: OrderdeckApp,
    items: Sequence[AttentionTarget],
    title: str,
    then: Callable[[AttentionTarget], Any],
) -> None:
    if not items:
        app.notify("nothing needs attention here", severity="warning")
        return
    if len(items) == 1:
        then(items[0])
        return
    app.push_screen(
        ChoiceScreen(title, [(_attention_label(i), i) for i in items]),
        lambda item: item is not None and then(item),
    )


def resolve(app: OrderdeckApp, items: Sequence[AttentionTarget]) -> None:
    ctx = app.context

    def ask(item: AttentionTarget) -> None:
        app.push_screen(
            PromptScreen(
                f"Resolve '{status_label(item.reason)}': what was done?",
                placeholder="e.g. called the carrier, parcel found",
            ),
            lambda text: text is not None and go(item, text),
        )

    def go(item: AttentionTarget, text: str) -> None:
        app.run_write(
            lambda conn: operator.resolve_attention(
                conn,
                item.id,
                actor=ctx.operator,
                resolution=text.strip() or "resolved",
                now=ctx.now(),
            ),
            done=f"{status_label(item.reason)} resolved",
            title="Resolve failed",
        )

    _pick_item(app, items, "Resolve which?", ask)


def snooze(app: OrderdeckApp, items: Sequence[AttentionTarget]) -> None:
    ctx = app.context

    def ask(item: AttentionTarget) -> None:
        app.push_screen(
            ChoiceScreen(f"Snooze '{status_label(item.reason)}' for", list(SNOOZE_CHOICES)),
            lambda delta: delta is not None and go(item, delta),
        )

    def go(item: AttentionTarget, delta: timedelta) -> None:
        now = ctx.now()
        app.run_write(
            lambda conn: operator.snooze_attention(
                conn, item.id, now + delta, actor=ctx.operator, now=now
            ),
            done=f"{status_label(item.reason)} snoozed",
            title="Snooze failed",
        )

    _pick_item(app, items, "Snooze which?", ask)


def add_note(app: OrderdeckApp, order_id: int, number: str) -> None:
    ctx = app.context

    def go(text: str | None) -> None:
        if text is None:
            return
        if not text.strip():
            app.notify("empty note not saved", severity="warning")
            return
        app.run_write(
            lambda conn: operator.add_note(conn, order_id, text, actor=ctx.operator, now=ctx.now()),
            done="note saved",
            title="Note not saved",
        )

    app.push_screen(NoteScreen(f"Note on order {number}"), go)


def poll_now(app: OrderdeckApp, shipments: Sequence[tuple[int, str, str]]) -> None:
    """``shipments``: (id, tracking number, carrier)."""
    ctx = app.context
    if not shipments:
        app.notify("this order has no shipment to poll", severity="warning")
        return

    def go(shipment: tuple[int, str, str] | None) -> None:
        if shipment is None:
            return
        app.run_write(
            lambda conn: operator.poll_now(conn, shipment[0], actor=ctx.operator, now=ctx.now()),
            done=f"{shipment[1]} is due now; the sync engine polls it next",
            title="Poll now failed",
        )

    if len(shipments) == 1:
        go(shipments[0])
        return
    app.push_screen(
        ChoiceScreen(
            "Poll which shipment now?",
            [(safe(f"{s[1]} ({s[2] or 'carrier unknown'})"), s) for s in shipments],
        ),
        go,
    )
