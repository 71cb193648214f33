"""Which attention reasons a shipment (or an order without one) has, and keeping
the attention items in step with them.

The poller computes the reasons a shipment should have from what it knows,
raises the ones that are missing and clears the ones whose cause went away.
A reason a person resolved is not raised again for the same occurrence: an
item resolved after the condition began stays resolved until the condition
ends and begins anew.

Day thresholds that are about people (stalled, not picked up, unfulfilled)
count business days in the shop's time zone; those about carriers (not found,
expired) count calendar days.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from notifiers.changes import AttentionRaised
from store import attention
from store.models import AttentionItem, Order, Shipment
from store.statuses import ATTENTION_PRIORITY, AttentionReason, ShipmentStatus
from sync.schedule import add_business_days
from sync.settings import SyncSettings

R = AttentionReason
S = ShipmentStatus

_items = AttentionItem.__table__  # type: ignore[attr-defined]
_orders = Order.__table__  # type: ignore[attr-defined]
_shipments = Shipment.__table__  # type: ignore[attr-defined]

#: Reasons the poller owns on a shipment: it raises and clears exactly these.
SHIPMENT_REASONS: tuple[str, ...] = (
    R.LATE,
    R.STALLED,
    R.NOT_PICKED_UP,
    R.FAILED_ATTEMPT,
    R.EXCEPTION,
    R.RETURNED,
    R.INVALID_TRACKING,
    R.NO_PROVIDER,
)
#: Reasons that follow from the clock alone; recomputed even when the carrier
#: could not be asked (a dead provider must not hide a stalled parcel).
TIME_REASONS: tuple[str, ...] = (R.LATE, R.STALLED, R.NOT_PICKED_UP)

#: Statuses in which a parcel has been physically scanned by the carrier.
_UNSCANNED = (S.PENDING, S.INFO_RECEIVED)
MACHINE = "orderdeck"


@dataclass(frozen=True)
class Facts:
    """What the reasons of one shipment are computed from."""

    status: str
    created_at: datetime
    estimated_delivery: datetime | None = None
    last_scan_at: datetime | None = None
    first_scan_at: datetime | None = None
    #: When the label was created (first event), else when the shop shipped it.
    label_at: datetime | None = None
    #: Time of the newest event, i.e. since when the current status holds.
    status_since: datetime | None = None
    substatus: str | None = None
    returned: bool = False
    returned_at: datetime | None = None
    #: Invalid number: the carrier never knew it, or no carrier could own it.
    invalid: str | None = None
    invalid_since: datetime | None = None
    no_provider: str | None = None


@dataclass(frozen=True)
class Reason:
    since: datetime
    detail: str


def _day(value: datetime) -> str:
    return value.strftime("%Y-%m-%d")


def shipment_reasons(facts: Facts, settings: SyncSettings, now: datetime) -> dict[str, Reason]:
    """The reasons this shipment has at ``now``."""
    cfg = settings.attention
    status = facts.status
    reasons: dict[str, Reason] = {}
    if facts.no_provider:
        reasons[R.NO_PROVIDER] = Reason(facts.created_at, facts.no_provider)
    if facts.invalid:
        reasons[R.INVALID_TRACKING] = Reason(facts.invalid_since or now, facts.invalid)
    if status in (S.DELIVERED, S.EXPIRED):
        return reasons
    if facts.returned:
        reasons[R.RETURNED] = Reason(
            facts.returned_at or now, facts.substatus or "on its way back to the sender"
        )
        return reasons
    if status == S.FAILED_ATTEMPT:
        reasons[R.FAILED_ATTEMPT] = Reason(
            facts.status_since or now, facts.substatus or "delivery attempted"
        )
    if status == S.EXCEPTION:
        reasons[R.EXCEPTION] = Reason(facts.status_since or now, facts.substatus or "exception")
    eta = facts.estimated_delivery
    if eta is not None and status != S.AVAILABLE_FOR_PICKUP:
        late_from = eta + timedelta(hours=cfg.late_grace_hours)
        if now >= late_from:
            reasons[R.LATE] = Reason(late_from, f"estimated delivery {_day(eta)} has passed")
    business = {"timezone": settings.timezone, "business_days": settings.business_days}
    if status in _UNSCANNED:
        start = facts.label_at or facts.created_at
        due = add_business_days(start, cfg.not_picked_up_days, **business)
        if now >= due:
            reasons[R.NOT_PICKED_UP] = Reason(
                due, f"label created {_day(start)}, no carrier scan since"
            )
    elif facts.last_scan_at is not None and status not in (S.AVAILABLE_FOR_PICKUP, S.EXCEPTION):
        due = add_business_days(facts.last_scan_at, cfg.stalled_business_days, **business)
        if now >= due:
            reasons[R.STALLED] = Reason(due, f"no scan since {_day(facts.last_scan_at)}")
    return reasons


@dataclass
class Decision:
    """What to do with one shipment's (or order's) attention items."""

    raise_: dict[str, Reason]
    clear: list[str]

    def top_after(
        self, open_items: dict[str, datetime], now: datetime
    ) -> tuple[str, datetime] | None:
        """The most urgent open reason, and since when, once this is done."""
        after = {r: at for r, at in open_items.items() if r not in self.clear}
        after.update(dict.fromkeys(self.raise_, now))
        if not after:
            return None
        return min(after.items(), key=lambda kv: (ATTENTION_PRIORITY.get(kv[0], 99), kv[1]))


def decide(
    open_items: dict[str, datetime],
    wanted: dict[str, Reason],
    managed: Iterable[str],
    resolved_by_person: Callable[[str, datetime], bool],
) -> Decision:
    """Raise what is ``wanted`` (and ``managed``) and not open, unless a person
    resolved it since its condition began; clear what is open, managed, unwanted."""
    managed = set(managed)
    raise_ = {
        reason: why
        for reason, why in wanted.items()
        if reason in managed
        and reason not in open_items
        and not resolved_by_person(reason, why.since)
    }
    clear = sorted(r for r in open_items if r in managed and r not in wanted)
    return Decision(raise_, clear)


def open_items_for(conn: Connection, keys: Iterable[str]) -> dict[str, dict[str, datetime]]:
    """key -> {reason: raised_at} of the open items of those keys, in one query."""
    found: dict[str, dict[str, datetime]] = {}
    keys = list(keys)
    for start in range(0, len(keys), 500):
        rows = conn.execute(
            sa.select(_items.c.key, _items.c.reason, _items.c.raised_at).where(
                # Naming every reason lets the (reason, key) index of open items answer.
                _items.c.reason.in_([r.value for r in AttentionReason]),
                _items.c.key.in_(keys[start : start + 500]),
                _items.c.resolved_at.is_(None),
            )
        )
        for key, reason, raised_at in rows:
            found.setdefault(key, {})[reason] = raised_at
    return found


def resolved_by_person(
    conn: Connection, order_id: int, key: str, reason: str, since: datetime
) -> bool:
    """Did a person resolve this reason for ``key`` at or after ``since``?"""
    row = conn.execute(
        sa.select(_items.c.id)
        .where(
            _items.c.order_id == order_id,  # the indexed way in: an order has few items
            _items.c.key == key,
            _items.c.reason == reason,
            _items.c.resolved_at.is_not(None),
            _items.c.resolved_at >= since,
            sa.or_(_items.c.resolved_by.is_(None), _items.c.resolved_by != MACHINE),
        )
        .limit(1)
    ).first()
    return row is not None


#: Orders refunded or voided need no parcel.
_NO_PARCEL_NEEDED = ("refunded", "voided")


@dataclass
class SweepResult:
    raised: list[AttentionRaised]
    cleared: int
    order_ids: list[int]
    #: The ``after_id`` of the next batch; None when the sweep is complete.
    next_after: int | None = None


def sweep_unfulfilled(
    conn: Connection,
    settings: SyncSettings,
    now: datetime,
    *,
    after_id: int = 0,
    limit: int | None = None,
) -> SweepResult:
    """Raise ``unfulfilled`` on live orders that still have no shipment
    ``unfulfilled_days`` business days after they were placed; clear it once they
    have one, or were cancelled or refunded.

    Orders older than ``expire_days`` are history, not work: they are left alone.
    With ``limit``, one batch of candidate orders (ids above ``after_id``): the
    caller commits each batch on its own, so a first sweep over a large backlog
    never holds the write lock for long, and what a batch raised survives a crash
    of the next. Clearing runs with the first batch.
    """
    cfg = settings.attention
    oldest = now - timedelta(days=cfg.expire_days)
    newest = now - timedelta(days=cfg.unfulfilled_days)
    has_shipment = sa.exists().where(_shipments.c.order_id == _orders.c.id)
    open_item = sa.exists().where(
        _items.c.order_id == _orders.c.id,
        _items.c.reason == R.UNFULFILLED,
        _items.c.resolved_at.is_(None),
    )
    query = (
        sa.select(_orders.c.id, _orders.c.created_at)
        .where(
            _orders.c.id > after_id,
            _orders.c.created_at.is_not(None),
            _orders.c.created_at >= oldest,
            _orders.c.created_at <= newest,
            _orders.c.cancelled_at.is_(None),
            sa.or_(
                _orders.c.financial_status.is_(None),
                sa.func.lower(_orders.c.financial_status).not_in(_NO_PARCEL_NEEDED),
            ),
            ~has_shipment,
            ~open_item,
        )
        .order_by(_orders.c.id)
    )
    candidates = conn.execute(query if limit is None else query.limit(limit)).all()
    next_after = candidates[-1][0] if limit is not None and len(candidates) >= limit else None
    raised: list[AttentionRaised] = []
    touched: list[int] = []
    business = {"timezone": settings.timezone, "business_days": settings.business_days}
    for order_id, created_at in candidates:
        due = add_business_days(created_at, cfg.unfulfilled_days, **business)
        if now < due:
            continue
        key = attention.key_for(order_id=order_id)
        if resolved_by_person(conn, order_id, key, R.UNFULFILLED, due):
            continue
        detail = f"ordered {_day(created_at)}, no tracking number yet"
        item_id = attention.raise_item(
            conn, order_id=order_id, reason=R.UNFULFILLED, detail=detail, now=now
        )
        if item_id is not None:
            touched.append(order_id)
            raised.append(
                AttentionRaised(
                    order_id=order_id,
                    reason=R.UNFULFILLED,
                    at=now,
                    detail=detail,
                    attention_item_id=item_id,
                )
            )
    if after_id:
        return SweepResult(raised, 0, list(dict.fromkeys(touched)), next_after)
    # Open unfulfilled items whose order has a shipment now, or needs none.
    done = conn.execute(
        sa.select(_items.c.id, _items.c.order_id)
        .join(_orders, _orders.c.id == _items.c.order_id)
        .where(
            _items.c.reason == R.UNFULFILLED,
            _items.c.resolved_at.is_(None),
            sa.or_(
                has_shipment,
                _orders.c.cancelled_at.is_not(None),
                sa.func.lower(sa.func.coalesce(_orders.c.financial_status, "")).in_(
                    _NO_PARCEL_NEEDED
                ),
            ),
        )
    ).all()
    cleared = 0
    for _item_id, order_id in done:
        cleared += attention.clear(
            conn,
            key=attention.key_for(order_id=order_id),
            reasons=[R.UNFULFILLED],
            now=now,
            by=MACHINE,
        )
        touched.append(order_id)
    return SweepResult(
        raised=raised,
        cleared=cleared,
        order_ids=list(dict.fromkeys(touched)),
        next_after=next_after,
    )
