"""Actions from the order detail and the two queues, with what they leave in the store."""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa
from sqlmodel import select

from console.app import OrderdeckApp
from console.screens.attention import AttentionScreen
from console.screens.board import BoardScreen
from console.screens.detail import DetailScreen
from console.screens.modals import ChoiceScreen, InfoScreen, NoteScreen, PromptScreen
from console.screens.notifications import NotificationsScreen
from store import lists
from store.engine import Store
from store.models import AttentionItem, AuditEntry, Notification, Order, OrderNote, Shipment
from tests.console.conftest import list_ready, screen_text, wait_for
from tests.console.data import NOW

_orders = Order.__table__  # type: ignore[attr-defined]
_attention = AttentionItem.__table__  # type: ignore[attr-defined]
_shipments = Shipment.__table__  # type: ignore[attr-defined]


def _order_with(store: Store, where: object) -> tuple[int, str]:
    with store.read_connection() as conn:
        row = conn.execute(
            sa.select(_orders.c.id, _orders.c.number).where(where).order_by(_orders.c.id.desc())
        ).first()
    assert row is not None
    return int(row[0]), str(row[1])


async def open_order(app: OrderdeckApp, pilot: object, number: str) -> DetailScreen:
    await wait_for(pilot, list_ready(app, "#board"))
    await pilot.press("slash", *number, "enter", "enter")  # type: ignore[attr-defined]
    await wait_for(pilot, lambda: isinstance(app.screen, DetailScreen) and app.screen.story)
    assert isinstance(app.screen, DetailScreen)
    return app.screen


def _audit(store: Store, action: str) -> list[AuditEntry]:
    with store.read() as s:
        entries = list(
            s.exec(
                select(AuditEntry).where(AuditEntry.action == action, AuditEntry.actor == "tester")
            )
        )
        s.expunge_all()
        return entries


async def test_note_from_detail_is_saved_audited_and_shown(
    app_factory: Callable[..., OrderdeckApp], demo_store: Store
) -> None:
    order_id, number = _order_with(demo_store, _orders.c.id == 30)
    app = app_factory()
    async with app.run_test(size=(120, 40)) as pilot:
        await open_order(app, pilot, number)
        await pilot.press("n")
        assert isinstance(app.screen, NoteScreen)
        await pilot.press(*"Customer says [b]gate code[/b] 1234")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: "gate code" in screen_text(app))
        assert "[b]gate code[/b] 1234" in screen_text(app)
        assert "note.add" in screen_text(app)
    with demo_store.read() as s:
        notes = s.exec(select(OrderNote).where(OrderNote.order_id == order_id)).all()
        assert [(n.author, n.body) for n in notes][-1] == (
            "tester",
            "Customer says [b]gate code[/b] 1234",
        )
    assert [e.order_id for e in _audit(demo_store, "note.add")] == [order_id]


async def test_empty_note_is_not_saved(
    app_factory: Callable[..., OrderdeckApp], demo_store: Store
) -> None:
    _, number = _order_with(demo_store, _orders.c.id == 31)
    app = app_factory()
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await open_order(app, pilot, number)
        await pilot.press("n", "space", "ctrl+s")
        await pilot.pause(0.2)
        assert isinstance(app.screen, DetailScreen)
        assert any("empty note" in n.message for n in app._notifications)
    assert _audit(demo_store, "note.add") == []


async def test_resolve_an_attention_item_from_detail(
    app_factory: Callable[..., OrderdeckApp], demo_store: Store
) -> None:
    with demo_store.read_connection() as conn:
        order_id = (
            conn.execute(
                sa.select(_attention.c.order_id)
                .where(_attention.c.resolved_at.is_(None))
                .group_by(_attention.c.order_id)
                .having(sa.func.count() == 1)
                .order_by(_attention.c.order_id.desc())
            )
            .scalars()
            .first()
        )
    assert order_id is not None
    _, number = _order_with(demo_store, _orders.c.id == order_id)
    app = app_factory()
    async with app.run_test(size=(120, 40)) as pilot:
        detail = await open_order(app, pilot, number)
        assert "Attention (1 open)" in screen_text(app)
        await pilot.press("x")
        assert isinstance(app.screen, PromptScreen)
        await pilot.press(*"rang the depot", "enter")
        await wait_for(pilot, lambda: "Attention (0 open)" in screen_text(app))
        assert "resolved by tester" in screen_text(app)
        assert detail.story is not None and detail.story.order.attention is None
    with demo_store.read_connection() as conn:
        row = conn.execute(
            sa.select(_attention.c.resolved_by, _attention.c.resolution).where(
                _attention.c.order_id == order_id
            )
        ).one()
        assert tuple(row) == ("tester", "rang the depot")
        assert (
            conn.execute(
                sa.select(_orders.c.attention).where(_orders.c.id == order_id)
            ).scalar_one()
            is None
        )
    assert len(_audit(demo_store, "attention.resolve")) == 1


async def test_poll_now_copy_and_tracking_url(
    app_factory: Callable[..., OrderdeckApp], demo_store: Store
) -> None:
    order_id, number = _order_with(
        demo_store, (_orders.c.shipment_count == 1) & (_orders.c.carrier == "ups")
    )
    with demo_store.read_connection() as conn:
        shipment_id, tracking = conn.execute(
            sa.select(_shipments.c.id, _shipments.c.tracking_number).where(
                _shipments.c.order_id == order_id
            )
        ).one()
    app = app_factory()
    async with app.run_test(size=(120, 40)) as pilot:
        await open_order(app, pilot, number)
        await pilot.press("p")
        await wait_for(pilot, lambda: "shipment.poll_now" in screen_text(app))
        await pilot.press("y")
        assert app.clipboard == tracking
        await pilot.press("u")
        assert app.clipboard == f"https://www.ups.com/track?tracknum={tracking}"
        await pilot.press("o")
        assert isinstance(app.screen, InfoScreen)
        assert tracking in screen_text(app)
        await pilot.press("escape")
        assert isinstance(app.screen, DetailScreen)
    with demo_store.read_connection() as conn:
        due = conn.execute(
            sa.select(_shipments.c.next_poll_at).where(_shipments.c.id == shipment_id)
        ).scalar_one()
    assert due is not None and due.replace(tzinfo=None) == NOW.replace(tzinfo=None)


async def test_multi_parcel_order_asks_which_shipment(
    app_factory: Callable[..., OrderdeckApp], demo_store: Store
) -> None:
    order_id, number = _order_with(demo_store, _orders.c.shipment_count == 2)
    app = app_factory()
    async with app.run_test(size=(120, 40)) as pilot:
        await open_order(app, pilot, number)
        await pilot.press("y")
        assert isinstance(app.screen, ChoiceScreen)
        await pilot.press("down", "enter")
        with demo_store.read_connection() as conn:
            second = (
                conn.execute(
                    sa.select(_shipments.c.tracking_number)
                    .where(_shipments.c.order_id == order_id)
                    .order_by(_shipments.c.id)
                )
                .scalars()
                .all()[1]
            )
        assert app.clipboard == second


async def test_attention_queue_resolve_snooze_note_and_jump(
    app_factory: Callable[..., OrderdeckApp], demo_store: Store
) -> None:
    app = app_factory()
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_for(pilot, list_ready(app, "#board"))
        await pilot.press("2")
        await wait_for(pilot, list_ready(app, "#alist"))
        queue = app.screen.query_one("#alist")
        rows = queue.visible_rows()
        keys = [(lists.urgency(r.reason), r.raised_at, r.id) for r in rows]
        assert keys == sorted(keys)  # most urgent reason first, oldest first
        total = queue.total
        first = queue.current
        await pilot.press("z")
        assert isinstance(app.screen, ChoiceScreen)
        await pilot.press("down", "enter")  # 4 hours
        await wait_for(pilot, lambda: queue.known and queue.total == total - 1)
        second = queue.current
        await pilot.press("x", *"done", "enter")
        await wait_for(pilot, lambda: queue.known and queue.total == total - 2)
        third = queue.current
        await pilot.press("n", *"looked at it", "ctrl+s")
        await pilot.pause(0.3)
        await pilot.press("S")  # show snoozed too
        await wait_for(pilot, lambda: queue.known and queue.total == total - 1)
        await pilot.press("escape", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, DetailScreen) and app.screen.story)
        await pilot.press("escape")
        assert isinstance(app.screen, AttentionScreen)
    with demo_store.read() as s:
        snoozed = s.get(AttentionItem, first.id)
        resolved = s.get(AttentionItem, second.id)
        assert snoozed is not None and snoozed.snoozed_until is not None
        assert snoozed.snoozed_until.replace(tzinfo=None) == (NOW.replace(tzinfo=None)).__add__(
            __import__("datetime").timedelta(hours=4)
        )
        assert resolved is not None and resolved.resolution == "done"
        notes = s.exec(select(OrderNote).where(OrderNote.order_id == third.order_id)).all()
        assert [n.body for n in notes][-1:] == ["looked at it"]


async def test_notifications_filters_search_and_attempts(
    app_factory: Callable[..., OrderdeckApp], demo_store: Store
) -> None:
    with demo_store.read_connection() as conn:
        dead = conn.execute(
            sa.select(sa.func.count()).select_from(Notification).where(Notification.state == "dead")
        ).scalar_one()
    app = app_factory()
    async with app.run_test(size=(140, 36)) as pilot:
        await wait_for(pilot, list_ready(app, "#board"))
        await pilot.press("3")
        await wait_for(pilot, list_ready(app, "#nlist"))
        nlist = app.screen.query_one("#nlist")
        await pilot.press("f")
        await pilot.press("down", "down", "down", "down", "enter")  # pending, sending, sent, dead
        await wait_for(pilot, lambda: nlist.known and nlist.total == dead)
        assert {r.state for r in nlist.visible_rows()} == {"dead"}
        assert "state dead" in screen_text(app)
        await pilot.press("enter")
        assert isinstance(app.screen, InfoScreen)
        text = screen_text(app)
        assert "PROVIDER SAID" in text and "550 mailbox unavailable" in text
        await pilot.press("escape", "escape")  # close, then clear the filter
        await wait_for(pilot, lambda: nlist.known and nlist.total > dead)
        await pilot.press("slash", *"+4477")
        await wait_for(
            pilot,
            lambda: (
                nlist.known and all("+4477" in (r.recipient or "") for r in nlist.visible_rows())
            ),
        )
        assert nlist.total > 0
        await pilot.press("escape", "escape")
        assert isinstance(app.screen, NotificationsScreen)
        await pilot.press("o", *"#100040", "enter")
        await wait_for(
            pilot,
            lambda: nlist.known and all(r.order_number == "#100040" for r in nlist.visible_rows()),
        )
        await pilot.press("escape", "escape")
        assert isinstance(app.screen, BoardScreen)


async def test_read_only_hides_every_change(
    app_factory: Callable[..., OrderdeckApp], demo_store: Store
) -> None:
    _, number = _order_with(demo_store, _orders.c.attention.is_not(None))
    app = app_factory(read_only=True)
    async with app.run_test(size=(160, 40)) as pilot:
        await open_order(app, pilot, number)
        footer = screen_text(app).splitlines()[-1]
        for hidden in ("Resend", "Poll now", "Resolve", "Snooze", "Note"):
            assert hidden not in footer
        assert "Copy" in footer
        await pilot.press("r", "p", "x", "z", "n")
        await pilot.pause(0.2)
        assert isinstance(app.screen, DetailScreen)
        await pilot.press("escape", "3")
        await wait_for(pilot, list_ready(app, "#nlist"))
        footer = screen_text(app).splitlines()[-1]
        assert "Resend" not in footer and "Mark" not in footer
        await pilot.press("space", "R", "r")
        await pilot.pause(0.2)
        assert isinstance(app.screen, NotificationsScreen)
        await pilot.press("2")
        await wait_for(pilot, list_ready(app, "#alist"))
        await pilot.press("x", "z", "n")
        await pilot.pause(0.2)
        assert isinstance(app.screen, AttentionScreen)
        await pilot.press("colon", *"resolve")
        await pilot.pause(0.3)
        assert "Resolve" not in screen_text(app)
    with demo_store.read() as s:
        assert s.exec(select(AuditEntry).where(AuditEntry.actor == "tester")).all() == []


def _resends(store: Store) -> list[Notification]:
    with store.read() as s:
        rows = list(s.exec(select(Notification).where(Notification.resend_of.is_not(None))))  # type: ignore[union-attr]
        s.expunge_all()
        return rows


async def test_resend_from_detail_picks_channel_and_confirms(
    app_factory: Callable[..., OrderdeckApp], demo_store: Store
) -> None:
    with demo_store.read_connection() as conn:
        nid, order_id = conn.execute(
            sa.select(Notification.id, Notification.order_id)
            .where(Notification.channel == "email")
            .order_by(Notification.order_id.desc())  # type: ignore[union-attr]
        ).first()
        count = conn.execute(
            sa.select(sa.func.count()).where(Notification.order_id == order_id)
        ).scalar_one()
    _, number = _order_with(demo_store, _orders.c.id == order_id)
    app = app_factory()
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await open_order(app, pilot, number)
        await pilot.press("r")
        if count > 1:
            assert isinstance(app.screen, ChoiceScreen)
            options = app.screen.options
            index = next(i for i, (_, t) in enumerate(options) if t.id == nid)
            await pilot.press(*["down"] * index, "enter")
        assert isinstance(app.screen, ChoiceScreen)  # which channel
        await pilot.press("down", "enter")  # sms
        assert "Resend this notification?" in screen_text(app)
        await pilot.press("n")  # changed my mind: nothing is sent
        assert isinstance(app.screen, DetailScreen)
        assert _resends(demo_store) == []
        await pilot.press("r")
        if count > 1:
            await pilot.press(*["down"] * index, "enter")
        await pilot.press("enter", "y")  # same channel, confirmed
        await wait_for(pilot, lambda: "notify.resend" in screen_text(app))
        assert any("queued as notification" in n.message for n in app._notifications)
    resent = _resends(demo_store)
    assert [(r.resend_of, r.channel, r.requested_by, r.state) for r in resent] == [
        (nid, "email", "tester", "pending")
    ]


async def test_bulk_resend_marks_rows_and_confirms_once(
    app_factory: Callable[..., OrderdeckApp], demo_store: Store
) -> None:
    app = app_factory()
    async with app.run_test(size=(140, 36), notifications=True) as pilot:
        await wait_for(pilot, list_ready(app, "#board"))
        await pilot.press("3")
        await wait_for(pilot, list_ready(app, "#nlist"))
        nlist = app.screen.query_one("#nlist")
        await pilot.press("space", "space", "down", "space")  # mark 1st, 2nd, 4th
        marked = sorted(nlist.marked)
        assert len(marked) == 3
        assert "3 marked" in screen_text(app)
        await pilot.press("R")
        assert "Resend 3 notifications?" in screen_text(app)
        await pilot.press("y")
        await wait_for(pilot, lambda: not nlist.marked and "3 marked" not in screen_text(app))
        await wait_for(
            pilot, lambda: any("3 notifications queued" in n.message for n in app._notifications)
        )
        await wait_for(pilot, lambda: nlist.known and nlist.total >= len(marked))
    assert sorted(r.resend_of for r in _resends(demo_store)) == marked


async def test_resend_error_is_a_notification_not_a_traceback(
    app_factory: Callable[..., OrderdeckApp], demo_store: Store
) -> None:
    with demo_store.write_connection() as conn:
        conn.execute(sa.update(Notification).values(context=None))
    app = app_factory()
    async with app.run_test(size=(140, 36), notifications=True) as pilot:
        await wait_for(pilot, list_ready(app, "#board"))
        await pilot.press("3")
        await wait_for(pilot, list_ready(app, "#nlist"))
        await pilot.press("r", "enter", "y")
        await wait_for(
            pilot, lambda: any("cannot be resent" in n.message for n in app._notifications)
        )
        assert isinstance(app.screen, NotificationsScreen)
    assert _resends(demo_store) == []
