"""The outbox: claiming due rows with a lease, recording outcomes, resending, suppressing.

Every function takes a Core connection inside the caller's write transaction.
States: ``pending`` -> ``sending`` (claimed, leased) -> ``sent``; a temporary
failure goes back to ``pending`` with backoff until ``max_attempts``, then
``dead``; a timeout, or a lease that expired while ``sending`` (the worker died),
is ``unknown`` on e-mail and SMS — delivery may have happened, a person decides —
and retried on chat; a provider's permanent refusal is ``suppressed`` and the
address goes on the suppression list. History is never edited: a resend is a new
row pointing at the original.
"""

from __future__ import annotations

import logging
import random
import uuid
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from notifiers import recipients as rcpt
from notifiers.changes import AttentionRaised
from notifiers.rules import apply as apply_rules
from notifiers.rules import render_row, suppressed_addresses
from notifiers.schedule import backoff, quiet_until
from notifiers.settings import Channel, NotifySettings
from store import attention as attention_store
from store import changes as change_feed
from store import summary, upsert
from store.errors import NotFoundError, OrderdeckError
from store.models import AuditEntry, Notification, NotificationAttempt, Order, Suppression
from store.statuses import AttentionReason, NotificationState

log = logging.getLogger(__name__)

_n = Notification.__table__  # type: ignore[attr-defined]
_attempts = NotificationAttempt.__table__  # type: ignore[attr-defined]
_suppressions = Suppression.__table__  # type: ignore[attr-defined]
_orders = Order.__table__  # type: ignore[attr-defined]
_audit = AuditEntry.__table__  # type: ignore[attr-defined]

S = NotificationState
#: Kinds whose unknown outcome is never retried by a machine (a duplicate reaches a person).
NO_BLIND_RETRY = frozenset({"email", "sms"})


@dataclass(frozen=True)
class Claimed:
    """A row this worker now holds, with what it needs to send it."""

    id: int
    order_id: int | None
    event: str
    channel: str
    audience: str
    recipient: str | None
    subject: str | None
    body: str | None
    body_html: str | None
    attempts: int
    context: dict[str, Any] | None

    @property
    def meta(self) -> dict[str, Any]:
        return dict((self.context or {}).get("_meta") or {})


@dataclass
class Outcome:
    """What one send attempt came to. ``status``: sent, failed, timeout, refused, invalid."""

    notification_id: int
    attempt: int
    status: str
    started_at: datetime
    finished_at: datetime
    error: str | None = None
    result: dict[str, Any] | None = None
    #: For refused: the reason the address goes on the suppression list.
    refusal: str | None = None


@dataclass
class Counters:
    claimed: int = 0
    sent: int = 0
    retried: int = 0
    dead: int = 0
    unknown: int = 0
    suppressed: int = 0
    expired: int = 0
    late_results: int = 0

    def add(self, other: Counters) -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def as_dict(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


_CLAIM_COLUMNS = (
    _n.c.id,
    _n.c.order_id,
    _n.c.event,
    _n.c.channel,
    _n.c.audience,
    _n.c.recipient,
    _n.c.subject,
    _n.c.body,
    _n.c.body_html,
    _n.c.attempts,
    _n.c.context,
)


def claim(
    conn: Connection,
    *,
    worker: str,
    channels: Collection[str],
    limit: int,
    now: datetime,
    lease_seconds: float,
    counters: Counters | None = None,
) -> list[Claimed]:
    """Lease up to ``limit`` due rows of ``channels`` (``FOR UPDATE SKIP LOCKED`` on
    PostgreSQL; SQLite's write lock serializes claimers). Rows whose address was
    suppressed since they were queued are suppressed here instead."""
    if limit <= 0 or not channels:
        return []
    due = (
        sa.select(_n.c.id)
        .where(
            _n.c.state == S.PENDING.value,
            sa.or_(_n.c.next_attempt_at.is_(None), _n.c.next_attempt_at <= now),
            _n.c.channel.in_(sorted(channels)),
        )
        .order_by(_n.c.next_attempt_at, _n.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    rows = conn.execute(
        sa.update(_n)
        .where(_n.c.id.in_(due))
        .values(
            state=S.SENDING.value,
            lease_owner=worker,
            lease_until=now + timedelta(seconds=lease_seconds),
            attempts=_n.c.attempts + 1,
            updated_at=now,
        )
        .returning(*_CLAIM_COLUMNS)
    ).all()
    claimed = sorted((Claimed(**row._mapping) for row in rows), key=lambda c: c.id)
    if counters is not None:
        counters.claimed += len(claimed)
    blocked = suppressed_addresses(conn, {c.recipient for c in claimed if c.recipient})
    if not blocked:
        return claimed
    keep: list[Claimed] = []
    for c in claimed:
        if c.recipient in blocked:
            reason = blocked[c.recipient]
            _set_state(
                conn,
                c.id,
                S.SUPPRESSED,
                now,
                reason="the address was put on the suppression list before sending"
                + (f" ({reason})" if reason else ""),
                attempts=c.attempts - 1,
            )
            if counters is not None:
                counters.suppressed += 1
        else:
            keep.append(c)
    change_feed.record(conn, "notifications", {c.order_id for c in claimed if c.order_id})
    return keep


def _set_state(
    conn: Connection,
    notification_id: int,
    state: S,
    now: datetime,
    *,
    reason: str | None = None,
    worker: str | None = None,
    **values: Any,
) -> bool:
    stmt = sa.update(_n).where(_n.c.id == notification_id)
    if worker is not None:
        stmt = stmt.where(_n.c.state == S.SENDING.value, _n.c.lease_owner == worker)
    done = conn.execute(
        stmt.values(
            state=state.value,
            state_reason=reason,
            updated_at=now,
            lease_owner=None,
            lease_until=None,
            **values,
        )
    )
    return bool(done.rowcount)


def _kind_of(settings: NotifySettings, channel: str) -> str:
    found = settings.channels.get(channel)
    # A channel no longer configured: assume the cautious kind.
    return found.kind if found is not None else "email"


def _retry_at(
    settings: NotifySettings,
    channel: str,
    attempts: int,
    now: datetime,
    rng: Callable[[], float],
) -> datetime:
    delay = backoff(
        attempts,
        base=settings.backoff_base_seconds,
        maximum=settings.backoff_max_seconds,
        rng=rng,
    )
    found = settings.channels.get(channel)
    return quiet_until(found.quiet_hours if found else None, now + delay, settings.timezone)


def _needs_person(
    conn: Connection,
    settings: NotifySettings,
    row: Any,
    detail: str,
    now: datetime,
    raised: set[int],
) -> None:
    """Put a dead or unknown notification on the attention queue; tell the team,
    unless it is the team's own message that failed (no loops)."""
    if row.order_id is None:
        return
    item = attention_store.raise_item(
        conn,
        order_id=row.order_id,
        reason=AttentionReason.NOTIFICATION_FAILED,
        notification_id=row.id,
        detail=detail,
        now=now,
    )
    raised.add(row.order_id)
    if item is not None and row.audience == "customer":
        apply_rules(
            conn,
            settings,
            [
                AttentionRaised(
                    order_id=row.order_id,
                    reason=AttentionReason.NOTIFICATION_FAILED,
                    at=now,
                    shipment_id=row.shipment_id,
                    notification_id=row.id,
                    detail=detail,
                    attention_item_id=item,
                )
            ],
            now=now,
        )


def finish(
    conn: Connection,
    settings: NotifySettings,
    outcomes: Sequence[Outcome],
    *,
    worker: str,
    now: datetime,
    counters: Counters,
    rng: Callable[[], float] = random.random,
) -> None:
    """Record each attempt and move each row to its next state."""
    if not outcomes:
        return
    ids = [o.notification_id for o in outcomes]
    rows = {
        r.id: r
        for r in conn.execute(
            sa.select(
                _n.c.id,
                _n.c.order_id,
                _n.c.shipment_id,
                _n.c.channel,
                _n.c.audience,
                _n.c.recipient,
                _n.c.attempts,
                _n.c.event,
                _n.c.state,
                _n.c.lease_owner,
            ).where(_n.c.id.in_(ids))
        )
    }
    touched: set[int] = set()
    raised: set[int] = set()
    attempt_rows: list[dict[str, Any]] = []
    sent_updates: list[dict[str, Any]] = []
    for o in outcomes:
        row = rows.get(o.notification_id)
        attempt = {
            "notification_id": o.notification_id,
            "attempt": o.attempt,
            "worker": worker,
            "started_at": o.started_at,
            "finished_at": o.finished_at,
            "outcome": o.status,
            "error": o.error,
            "result": o.result,
        }
        if row is None:
            continue
        if row.state != S.SENDING.value or row.lease_owner != worker:
            # Our lease expired and someone else decided; keep what we learnt.
            attempt["error"] = (
                o.error + "; " if o.error else ""
            ) + f"result arrived after the lease was lost (row is {row.state})"
            attempt_rows.append(attempt)
            counters.late_results += 1
            continue
        attempt_rows.append(attempt)
        if row.order_id is not None:
            touched.add(row.order_id)
        if o.status == "sent":
            sent_updates.append({"b_id": row.id, "b_sent": o.finished_at, "b_result": o.result})
            counters.sent += 1
            continue
        kind = _kind_of(settings, row.channel)
        if o.status == "refused" and row.recipient:
            _suppress_address(
                conn, row.recipient, reason=o.refusal or o.error, source="provider", now=now
            )
            _set_state(
                conn, row.id, S.SUPPRESSED, now, reason=o.refusal or o.error, worker=worker,
                result=o.result, last_error=o.error,
            )  # fmt: skip
            counters.suppressed += 1
        elif o.status == "timeout" and kind in NO_BLIND_RETRY:
            reason = (
                f"no answer within {settings.send_timeout_seconds:g}s: it may have been "
                "delivered; resend only after checking"
            )
            _set_state(
                conn, row.id, S.UNKNOWN, now, reason=reason, worker=worker,
                result=o.result, last_error=o.error,
            )  # fmt: skip
            _needs_person(conn, settings, row, f"notification {row.id}: {reason}", now, raised)
            counters.unknown += 1
        elif o.status == "invalid" or row.attempts >= settings.max_attempts:
            reason = (
                o.error or "failed"
                if o.status == "invalid"
                else f"gave up after {row.attempts} attempts: {o.error or 'failed'}"
            )
            _set_state(
                conn, row.id, S.DEAD, now, reason=reason, worker=worker,
                result=o.result, last_error=o.error,
            )  # fmt: skip
            _needs_person(conn, settings, row, f"notification {row.id}: {reason}", now, raised)
            counters.dead += 1
        else:
            _set_state(
                conn, row.id, S.PENDING, now,
                reason=f"attempt {row.attempts} failed; retrying",
                worker=worker, result=o.result, last_error=o.error,
                next_attempt_at=_retry_at(settings, row.channel, row.attempts, now, rng),
            )  # fmt: skip
            counters.retried += 1
    if sent_updates:
        conn.execute(
            sa.update(_n)
            .where(
                _n.c.id == sa.bindparam("b_id"),
                _n.c.state == S.SENDING.value,
                _n.c.lease_owner == worker,
            )
            .values(
                state=S.SENT.value,
                state_reason=None,
                sent_at=sa.bindparam("b_sent"),
                result=sa.bindparam("b_result", type_=_n.c.result.type),
                last_error=None,
                lease_owner=None,
                lease_until=None,
                updated_at=now,
            ),
            sent_updates,
        )
    if attempt_rows:
        conn.execute(sa.insert(_attempts), attempt_rows)
    _touch(conn, touched, raised, now)


def _touch(conn: Connection, touched: set[int], raised: set[int], now: datetime) -> None:
    """Refresh the board summary of orders that got an attention item; tell readers."""
    if raised:
        summary.refresh_orders(conn, raised, now=now)
    if touched:
        change_feed.record(conn, "notifications", touched)


def expire_leases(
    conn: Connection,
    settings: NotifySettings,
    *,
    now: datetime,
    counters: Counters,
    rng: Callable[[], float] = random.random,
) -> None:
    """Rows left ``sending`` by a worker that stopped: the send may or may not have
    happened. E-mail and SMS become ``unknown`` (a person decides); chat retries."""
    stale = conn.execute(
        sa.select(
            _n.c.id,
            _n.c.order_id,
            _n.c.shipment_id,
            _n.c.channel,
            _n.c.audience,
            _n.c.attempts,
            _n.c.lease_owner,
            _n.c.lease_until,
        )
        .where(_n.c.state == S.SENDING.value, _n.c.lease_until < now)
        .order_by(_n.c.id)
        .with_for_update(skip_locked=True)
    ).all()
    if not stale:
        return
    touched: set[int] = set()
    raised: set[int] = set()
    attempts: list[dict[str, Any]] = []
    for row in stale:
        what = f"worker {row.lease_owner} stopped while sending (lease expired {row.lease_until:%Y-%m-%d %H:%M:%S} UTC)"
        attempts.append(
            {
                "notification_id": row.id,
                "attempt": row.attempts,
                "worker": row.lease_owner,
                "started_at": row.lease_until - timedelta(seconds=settings.lease_seconds),
                "finished_at": now,
                "outcome": "unknown",
                "error": what,
            }
        )
        counters.expired += 1
        if row.order_id is not None:
            touched.add(row.order_id)
        if _kind_of(settings, row.channel) in NO_BLIND_RETRY:
            reason = f"{what}: it may have been delivered; resend only after checking"
            _set_state(conn, row.id, S.UNKNOWN, now, reason=reason, last_error=what)
            _needs_person(conn, settings, row, f"notification {row.id}: {reason}", now, raised)
            counters.unknown += 1
        elif row.attempts >= settings.max_attempts:
            reason = f"gave up after {row.attempts} attempts: {what}"
            _set_state(conn, row.id, S.DEAD, now, reason=reason, last_error=what)
            _needs_person(conn, settings, row, f"notification {row.id}: {reason}", now, raised)
            counters.dead += 1
        else:
            _set_state(
                conn, row.id, S.PENDING, now, reason=f"{what}; retrying", last_error=what,
                next_attempt_at=_retry_at(settings, row.channel, row.attempts, now, rng),
            )  # fmt: skip
            counters.retried += 1
    conn.execute(sa.insert(_attempts), attempts)
    _touch(conn, touched, raised, now)


def next_due(conn: Connection, channels: Collection[str]) -> datetime | None:
    """When the next pending row of ``channels`` falls due."""
    if not channels:
        return None
    value = conn.execute(
        sa.select(sa.func.min(_n.c.next_attempt_at)).where(
            _n.c.state == S.PENDING.value, _n.c.channel.in_(sorted(channels))
        )
    ).scalar_one()
    if value is None:
        return None
    return _n.c.next_attempt_at.type.process_result_value(value, conn.dialect)  # type: ignore[no-any-return]


# -- suppression -------------------------------------------------------------


def _suppress_address(
    conn: Connection,
    address: str,
    *,
    reason: str | None,
    source: str,
    now: datetime,
    by: str | None = None,
) -> bool:
    kind = "email" if "@" in address else "phone"
    row = conn.execute(
        upsert.insert(conn, _suppressions)
        .values(
            address=address, kind=kind, reason=reason, source=source, created_at=now, created_by=by
        )
        .on_conflict_do_nothing(index_elements=[_suppressions.c.address])
        .returning(_suppressions.c.id)
    ).first()
    return row is not None


def suppress(
    conn: Connection, address: str, *, reason: str | None, by: str, now: datetime
) -> tuple[str, bool, int]:
    """Put ``address`` on the list; its pending messages are suppressed at once.
    Returns (normalized address, newly added, pending rows suppressed)."""
    try:
        _kind, normalized = rcpt.normalize_address(address)
    except ValueError as exc:
        raise OrderdeckError(str(exc)) from None
    added = _suppress_address(conn, normalized, reason=reason, source="manual", now=now, by=by)
    why = "the address was put on the suppression list" + (f" ({reason})" if reason else "")
    result = conn.execute(
        sa.update(_n)
        .where(_n.c.recipient == normalized, _n.c.state == S.PENDING.value)
        .values(state=S.SUPPRESSED.value, state_reason=why, updated_at=now)
        .returning(_n.c.order_id)
    ).all()
    conn.execute(
        sa.insert(_audit).values(
            at=now,
            actor=by,
            action="notify.suppress",
            detail={"address": normalized, "reason": reason, "pending_suppressed": len(result)},
        )
    )
    change_feed.record(conn, "notifications", {r.order_id for r in result if r.order_id})
    return normalized, added, len(result)


def unsuppress(conn: Connection, address: str, *, by: str, now: datetime) -> tuple[str, bool]:
    try:
        _kind, normalized = rcpt.normalize_address(address)
    except ValueError as exc:
        raise OrderdeckError(str(exc)) from None
    removed = conn.execute(sa.delete(_suppressions).where(_suppressions.c.address == normalized))
    if removed.rowcount:
        conn.execute(
            sa.insert(_audit).values(
                at=now, actor=by, action="notify.unsuppress", detail={"address": normalized}
            )
        )
    return normalized, bool(removed.rowcount)


# -- resend ------------------------------------------------------------------


def _recipient_for_resend(
    channel: Channel, original: Any, order: dict[str, Any] | None, to: str | None
) -> str | None:
    need = rcpt.needs(channel)
    if to is not None:
        if need is None:
            raise OrderdeckError(
                f"channel {channel.name!r} sends to a fixed destination; --to does not apply"
            )
        value = rcpt.normalize_email(to) if need == "email" else rcpt.normalize_phone(to)
        if value is None:
            wanted = "an e-mail address" if need == "email" else "a phone number in E.164 (+...)"
            raise OrderdeckError(f"--to {to!r}: channel {channel.name!r} needs {wanted}")
        return value
    if need is None:
        return None
    if original.channel == channel.name and original.recipient:
        return str(original.recipient)
    if order is None:
        raise OrderdeckError(f"notification {original.id} has no order to find an address in")
    found = rcpt.recipient_for(channel, order)
    if found.address is None:
        raise OrderdeckError(f"cannot send on {channel.name!r}: {found.problem}; give --to ADDRESS")
    return found.address


def resend(
    conn: Connection,
    notification_id: int,
    *,
    requested_by: str,
    settings: NotifySettings,
    channel: str | None = None,
    to: str | None = None,
    now: datetime,
) -> int:
    """Queue the message of ``notification_id`` again, as a new row linked to it.

    The original row is never changed. The message is rendered from the facts
    the original was built from, with today's templates, for ``channel`` (default:
    the original's) and ``to`` (default: the original's recipient, or the order's
    address for that channel). Recorded in the audit log with who asked.
    """
    original = conn.execute(sa.select(_n).where(_n.c.id == notification_id)).first()
    if original is None:
        raise NotFoundError(f"no notification {notification_id}")
    name = channel or original.channel
    target = settings.channels.get(name)
    if target is None:
        known = ", ".join(sorted(settings.channels)) or "none configured"
        raise OrderdeckError(f"no channel {name!r} in [notify.channels] (known: {known})")
    if not target.enabled:
        raise OrderdeckError(f"channel {name!r} is disabled (enabled = false)")
    if original.event not in target.events and original.event != "attention":
        log.info("resending %s on %s, which does not list it in events", original.event, name)
    if original.event == "attention" and target.audience != "team":
        raise OrderdeckError(
            f"notification {notification_id} is a team message; {name!r} goes to customers"
        )
    order = None
    if original.order_id is not None:
        found = conn.execute(sa.select(_orders).where(_orders.c.id == original.order_id)).first()
        order = dict(found._mapping) if found else None
    recipient = _recipient_for_resend(target, original, order, to)
    if recipient is not None:
        blocked = suppressed_addresses(conn, {recipient})
        if recipient in blocked:
            why = f" ({blocked[recipient]})" if blocked[recipient] else ""
            raise OrderdeckError(
                f"{recipient} is on the suppression list{why}; "
                f"`orderdeck notify unsuppress {recipient}` first if they agreed"
            )
    context = {k: v for k, v in (original.context or {}).items() if k != "_meta"}
    if not context:
        raise OrderdeckError(
            f"notification {notification_id} kept no context to render from; it cannot be resent"
        )
    rendered = render_row(settings, target, original.event, context)
    values: dict[str, Any] = {
        "order_id": original.order_id,
        "shipment_id": original.shipment_id,
        "event": original.event,
        "channel": name,
        "audience": target.audience,
        "recipient": recipient,
        "dedupe_key": f"resend:{notification_id}:{uuid.uuid4().hex}",
        "state": S.PENDING.value,
        "attempts": 0,
        "next_attempt_at": quiet_until(target.quiet_hours, now, settings.timezone),
        "created_at": now,
        "updated_at": now,
        "resend_of": notification_id,
        "requested_by": requested_by,
        **rendered,
    }
    if values["next_attempt_at"] > now:
        values["state_reason"] = "held for quiet hours"
    new_id = int(conn.execute(sa.insert(_n).values(**values).returning(_n.c.id)).scalar_one())
    conn.execute(
        sa.insert(_audit).values(
            at=now,
            actor=requested_by,
            action="notify.resend",
            order_id=original.order_id,
            shipment_id=original.shipment_id,
            notification_id=new_id,
            detail={
                "resend_of": notification_id,
                "original_state": original.state,
                "channel": name,
                "recipient": recipient,
            },
        )
    )
    if original.order_id is not None:
        change_feed.record(conn, "notifications", [original.order_id])
    return new_id


# -- reading -----------------------------------------------------------------


@dataclass(frozen=True)
class ListFilter:
    order_id: int | None = None
    state: str | None = None
    channel: str | None = None
    event: str | None = None
    recipient: str | None = None
    limit: int = 50


def list_rows(conn: Connection, flt: ListFilter) -> list[dict[str, Any]]:
    query = (
        sa.select(
            _n.c.id,
            _n.c.order_id,
            _orders.c.number.label("order_number"),
            _n.c.shipment_id,
            _n.c.event,
            _n.c.channel,
            _n.c.audience,
            _n.c.recipient,
            _n.c.state,
            _n.c.state_reason,
            _n.c.attempts,
            _n.c.subject,
            _n.c.created_at,
            _n.c.updated_at,
            _n.c.next_attempt_at,
            _n.c.sent_at,
            _n.c.resend_of,
            _n.c.requested_by,
            _n.c.last_error,
        )
        .select_from(_n.outerjoin(_orders, _orders.c.id == _n.c.order_id))
        .order_by(_n.c.created_at.desc(), _n.c.id.desc())
        .limit(flt.limit)
    )
    if flt.order_id is not None:
        query = query.where(_n.c.order_id == flt.order_id)
    if flt.state:
        query = query.where(_n.c.state == flt.state)
    if flt.channel:
        query = query.where(_n.c.channel == flt.channel)
    if flt.event:
        query = query.where(_n.c.event == flt.event)
    if flt.recipient:
        query = query.where(_n.c.recipient == flt.recipient)
    return [dict(r._mapping) for r in conn.execute(query)]


def get(conn: Connection, notification_id: int) -> dict[str, Any]:
    row = conn.execute(
        sa.select(_n, _orders.c.number.label("order_number"))
        .select_from(_n.outerjoin(_orders, _orders.c.id == _n.c.order_id))
        .where(_n.c.id == notification_id)
    ).first()
    if row is None:
        raise NotFoundError(f"no notification {notification_id}")
    found = dict(row._mapping)
    found["attempt_log"] = [
        dict(a._mapping)
        for a in conn.execute(
            sa.select(_attempts)
            .where(_attempts.c.notification_id == notification_id)
            .order_by(_attempts.c.attempt, _attempts.c.id)
        )
    ]
    found["resends"] = [
        r[0] for r in conn.execute(sa.select(_n.c.id).where(_n.c.resend_of == notification_id))
    ]
    return found


def counts_by_state(conn: Connection) -> dict[str, int]:
    return {
        r[0]: int(r[1])
        for r in conn.execute(sa.select(_n.c.state, sa.func.count()).group_by(_n.c.state))
    }
