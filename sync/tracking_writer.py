"""Writing what a poll learned about shipments: all of a shipment's news or none of it.

:func:`write_group` stores the outcomes of many shipments in one transaction,
with a handful of bulk statements instead of a dozen per shipment: it reads
what it needs for the whole group (stored event hashes, open attention items,
who holds the leases), works out each shipment's new state in Python, then
inserts the new tracking events (deduplicated by hash, so a carrier that
repeats its whole history adds nothing twice), the estimate revisions, the
attention items raised and cleared, and updates every shipment (status,
estimate, scans, delivery, next poll, lease released) in one ``executemany``.
It returns the changes the notification rules must hear about.

A shipment's news lives or dies with the transaction it is in; the poller
retries a failed group one shipment per transaction, so one bad shipment
cannot hold the others back.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from notifiers.changes import AttentionRaised, Change, ShipmentChange
from store import attention, upsert
from store.models import EtaRevision, Shipment, TrackingEvent
from store.statuses import AttentionReason, ShipmentStatus
from sync import schedule
from sync.carriers.base import NormalizedEvent, TrackResult
from sync.settings import SyncSettings
from sync.tracking_attention import (
    MACHINE,
    SHIPMENT_REASONS,
    TIME_REASONS,
    Decision,
    Facts,
    decide,
    open_items_for,
    resolved_by_person,
    shipment_reasons,
)

S = ShipmentStatus
R = AttentionReason

_shipments = Shipment.__table__  # type: ignore[attr-defined]
_events = TrackingEvent.__table__  # type: ignore[attr-defined]
_revisions = EtaRevision.__table__  # type: ignore[attr-defined]

#: The shipment columns the poller writes back, every one of them every time.
WRITTEN = (
    "carrier",
    "carrier_candidates",
    "provider",
    "provider_ref",
    "status",
    "substatus",
    "estimated_delivery",
    "original_estimated_delivery",
    "shipped_at",
    "first_scan_at",
    "last_scan_at",
    "delivered_at",
    "updated_at",
    "last_polled_at",
    "next_poll_at",
    "poll_failures",
    "not_found_since",
    "last_error",
    "attention",
    "attention_since",
)
#: The shipment columns a poll reads when it claims a shipment.
SNAPSHOT = ("id", "order_id", "tracking_number", "created_at", *WRITTEN)

_UNSCANNED = (S.PENDING, S.INFO_RECEIVED)
_CHUNK = 500

# Outcome kinds.
RESULT = "result"
NOT_FOUND = "not_found"
FAILED = "failed"
NO_PROVIDER = "no_provider"
INVALID = "invalid"
SKIPPED = "skipped"


@dataclass
class Outcome:
    """What happened to one claimed shipment in this pass."""

    shipment: dict[str, Any]
    kind: str
    provider: str | None = None
    #: The carrier after detection (may differ from the row's when it was unknown).
    carrier: str | None = None
    candidates: list[str] | None = None
    result: TrackResult | None = None
    #: The error (failed, not found), or why there is no provider / the number is invalid.
    detail: str | None = None
    provider_name: str | None = None


@dataclass
class ShipmentReport:
    """What one poll changed, for ``orderdeck track`` and the console."""

    shipment_id: int
    order_id: int
    tracking_number: str
    carrier: str | None
    provider: str | None
    outcome: str
    old_status: str
    new_status: str
    substatus: str | None
    old_estimated_delivery: datetime | None
    new_estimated_delivery: datetime | None
    new_events: list[dict[str, Any]] = field(default_factory=list)
    raised: list[str] = field(default_factory=list)
    cleared: list[str] = field(default_factory=list)
    next_poll_at: datetime | None = None
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        def iso(value: datetime | None) -> str | None:
            return value.isoformat() if value else None

        return {
            "tracking_number": self.tracking_number,
            "carrier": self.carrier,
            "provider": self.provider,
            "outcome": self.outcome,
            "old_status": self.old_status,
            "status": self.new_status,
            "substatus": self.substatus,
            "status_changed": self.old_status != self.new_status,
            "old_estimated_delivery": iso(self.old_estimated_delivery),
            "estimated_delivery": iso(self.new_estimated_delivery),
            "new_events": self.new_events,
            "attention_raised": self.raised,
            "attention_cleared": self.cleared,
            "next_poll_at": iso(self.next_poll_at),
            "error": self.error,
        }


@dataclass
class Applied:
    """What storing one outcome did."""

    shipment_id: int
    order_id: int
    changes: list[Change] = field(default_factory=list)
    #: Something an order's summary or a screen shows moved.
    visible: bool = False
    events_new: int = 0
    status_changed: bool = False
    raised: int = 0
    cleared: int = 0
    report: ShipmentReport | None = None


@dataclass
class Written:
    applied: list[Applied]
    #: Shipments whose lease another worker took over; their news was dropped.
    lost: list[int]

    @property
    def changes(self) -> list[Change]:
        return [c for a in self.applied for c in a.changes]

    @property
    def visible_orders(self) -> list[int]:
        return list(dict.fromkeys(a.order_id for a in self.applied if a.visible))


@dataclass(frozen=True)
class WriteContext:
    settings: SyncSettings
    now: datetime
    owner: str
    rng: random.Random
    want_report: bool = False


@dataclass
class _Plan:
    """One shipment's new state, worked out before anything is written."""

    outcome: Outcome
    values: dict[str, Any]
    events: list[NormalizedEvent] = field(default_factory=list)
    event_rows: list[dict[str, Any]] = field(default_factory=list)
    eta_moved: bool = False
    decision: Decision = field(default_factory=lambda: Decision({}, []))
    open_items: dict[str, datetime] = field(default_factory=dict)
    had_events: bool = True
    expired: bool = False

    @property
    def sid(self) -> int:
        return int(self.outcome.shipment["id"])

    @property
    def oid(self) -> int:
        return int(self.outcome.shipment["order_id"])


def write_group(conn: Connection, outcomes: list[Outcome], ctx: WriteContext) -> Written:
    """Store every outcome of ``outcomes`` in the caller's transaction."""
    ids = [o.shipment["id"] for o in outcomes]
    held = _still_ours(conn, ids, ctx.owner)
    lost = [i for i in ids if i not in held]
    outcomes = [o for o in outcomes if o.shipment["id"] in held]
    polled = [o.shipment["id"] for o in outcomes if o.kind == RESULT]
    hashes = _known_hashes(conn, polled)
    keys = {o.shipment["id"]: attention.key_for(shipment_id=o.shipment["id"]) for o in outcomes}
    open_items = open_items_for(
        conn, [keys[o.shipment["id"]] for o in outcomes if o.kind != SKIPPED]
    )

    plans = []
    for outcome in outcomes:
        sid = outcome.shipment["id"]
        if outcome.kind == SKIPPED:
            plans.append(_skip(outcome))
            continue
        items = open_items.get(keys[sid], {})

        def by_person(
            reason: str,
            since: datetime,
            key: str = keys[sid],
            oid: int = outcome.shipment["order_id"],
        ) -> bool:
            return resolved_by_person(conn, oid, key, reason, since)

        if outcome.kind == RESULT:
            assert outcome.result is not None
            plan = _plan_result(
                outcome, outcome.result, hashes.get(sid, set()), items, by_person, ctx
            )
        else:
            plan = _plan_without_news(outcome, items, by_person, ctx)
        plans.append(plan)

    inserted = _insert_events(conn, [row for p in plans for row in p.event_rows])
    revisions = [
        {
            "shipment_id": p.sid,
            "estimated_delivery": p.values["estimated_delivery"],
            "recorded_at": ctx.now,
            "source": p.outcome.provider,
        }
        for p in plans
        if p.eta_moved
    ]
    if revisions:
        conn.execute(sa.insert(_revisions), revisions)
    raised_ids: dict[tuple[int, str], int | None] = {}
    for p in plans:
        for reason, why in p.decision.raise_.items():
            raised_ids[(p.sid, reason)] = attention.raise_item(
                conn,
                order_id=p.oid,
                shipment_id=p.sid,
                reason=reason,
                detail=why.detail,
                now=ctx.now,
            )
        if p.decision.clear:
            attention.clear(
                conn, key=keys[p.sid], reasons=p.decision.clear, now=ctx.now, by=MACHINE
            )
    _update(conn, plans, ctx.owner)

    latest = _latest_events(conn, plans, inserted)
    applied = [_finish(p, inserted, raised_ids, latest, ctx) for p in plans]
    return Written(applied, lost)


# --- planning (no writes) -----------------------------------------------------------


def _skip(outcome: Outcome) -> _Plan:
    """Give the shipment back untouched (still due), noting who would track it."""
    values = {k: outcome.shipment[k] for k in WRITTEN}
    if outcome.provider is not None:
        values["provider"] = outcome.provider
    return _Plan(outcome, values)


def _plan_result(
    outcome: Outcome,
    result: TrackResult,
    known: set[str],
    open_items: dict[str, datetime],
    by_person: Any,
    ctx: WriteContext,
) -> _Plan:
    s = outcome.shipment
    sid, now = s["id"], ctx.now
    events = result.events
    rows = _new_rows(sid, events, known, now)
    newest = max(events, key=lambda e: e.occurred_at) if events else None

    old_status, old_eta = s["status"], s["estimated_delivery"]
    status, substatus = old_status, s["substatus"]
    stale = (
        newest is not None
        and s["last_scan_at"] is not None
        and newest.occurred_at < s["last_scan_at"]
    )
    current = result.current_status
    if current is not None and not stale:
        status = current.value
        if result.status is not None:
            substatus = result.substatus
        else:
            substatus = newest.substatus if newest else None

    eta = result.estimated_delivery or old_eta
    eta_moved = result.estimated_delivery is not None and result.estimated_delivery != old_eta

    times = [e.occurred_at for e in events]
    scans = [e.occurred_at for e in events if e.status not in _UNSCANNED]
    last_scan = max([t for t in (s["last_scan_at"], *times) if t is not None], default=None)
    first_scan = min([t for t in (s["first_scan_at"], *scans) if t is not None], default=None)
    delivered_at = s["delivered_at"]
    if status == S.DELIVERED and delivered_at is None:
        delivered = [e.occurred_at for e in events if e.status == S.DELIVERED]
        delivered_at = max(delivered) if delivered else now
    same_status = [e.occurred_at for e in events if e.status.value == status]

    expire_after = timedelta(days=ctx.settings.attention.expire_days)
    if (
        status not in (S.DELIVERED, S.EXPIRED)
        and not result.returned
        and now - (last_scan or s["created_at"]) >= expire_after
    ):
        status, substatus = (
            S.EXPIRED.value,
            f"no news from the carrier for {expire_after.days} days",
        )

    facts = Facts(
        status=status,
        created_at=s["created_at"],
        estimated_delivery=eta,
        last_scan_at=last_scan,
        first_scan_at=first_scan,
        label_at=min(times) if times else s["shipped_at"],
        status_since=max(same_status) if same_status else None,
        substatus=substatus,
        returned=result.returned,
        returned_at=s["created_at"],
    )
    wanted = shipment_reasons(facts, ctx.settings, now)
    decision = decide(open_items, wanted, SHIPMENT_REASONS, by_person)
    top = decision.top_after(open_items, now)
    carrier = outcome.carrier or s["carrier"] or result.carrier
    moved = status != old_status or substatus != s["substatus"] or eta_moved
    values = {
        "carrier": carrier,
        "carrier_candidates": (
            outcome.candidates if outcome.candidates is not None else s["carrier_candidates"]
        ),
        "provider": outcome.provider,
        "provider_ref": result.provider_ref or s["provider_ref"],
        "status": status,
        "substatus": substatus,
        "estimated_delivery": eta,
        # The first promise is kept: ours, else the one the provider says it made.
        "original_estimated_delivery": (
            s["original_estimated_delivery"] or result.original_estimated_delivery or eta
        ),
        "shipped_at": s["shipped_at"] or (min(times) if times else None),
        "first_scan_at": first_scan,
        "last_scan_at": last_scan,
        "delivered_at": delivered_at,
        "updated_at": now if (moved or rows or carrier != s["carrier"]) else s["updated_at"],
        "last_polled_at": now,
        "next_poll_at": schedule.next_poll(
            status,
            now=now,
            poll=ctx.settings.tracking.poll,
            estimated_delivery=eta,
            returned=result.returned,
            rng=ctx.rng,
        ),
        "poll_failures": 0,
        "not_found_since": None,
        "last_error": None,
        "attention": top[0] if top else None,
        "attention_since": top[1] if top else None,
    }
    return _Plan(
        outcome,
        values,
        events=events,
        event_rows=rows,
        eta_moved=eta_moved,
        decision=decision,
        open_items=open_items,
        had_events=s["last_scan_at"] is not None or bool(known),
    )


def _plan_without_news(
    outcome: Outcome, open_items: dict[str, datetime], by_person: Any, ctx: WriteContext
) -> _Plan:
    """Not found, failed, no provider or an invalid number: no events, maybe attention."""
    s = outcome.shipment
    now = ctx.now
    poll = ctx.settings.tracking.poll
    cfg = ctx.settings.attention
    values = {k: s[k] for k in WRITTEN}
    values["last_polled_at"] = now
    status, substatus = s["status"], s["substatus"]
    extra: dict[str, Any] = {}
    managed: tuple[str, ...]
    kind = outcome.kind
    if kind == NOT_FOUND and s["last_scan_at"] is not None:
        # The carrier knew this parcel before: losing it now is its hiccup, not ours.
        kind = FAILED
    if kind == NOT_FOUND:
        since = s["not_found_since"] or now
        invalid = now - since >= timedelta(days=cfg.not_found_days)
        if invalid:
            who = outcome.provider_name or outcome.provider or "the carrier"
            extra = {
                "invalid": f"{who} has not known this number since {since:%Y-%m-%d}",
                "invalid_since": since + timedelta(days=cfg.not_found_days),
            }
        managed = (R.INVALID_TRACKING,)
        values.update(
            not_found_since=since,
            poll_failures=0,
            last_error=outcome.detail,
            next_poll_at=schedule.after_not_found(now, invalid=invalid, poll=poll, rng=ctx.rng),
            provider=outcome.provider,
        )
        if now - s["created_at"] >= timedelta(days=cfg.expire_days):
            status = S.EXPIRED.value
            substatus = f"the carrier never knew this number in {cfg.expire_days} days"
            values["next_poll_at"] = None
    elif kind == FAILED:
        failures = int(s["poll_failures"] or 0) + 1
        managed = TIME_REASONS
        values.update(
            poll_failures=failures,
            last_error=outcome.detail,
            next_poll_at=schedule.after_failure(status, failures, now=now, poll=poll, rng=ctx.rng),
        )
    elif kind == NO_PROVIDER:
        extra = {"no_provider": outcome.detail or "no tracking provider"}
        managed = (R.NO_PROVIDER,)
        values.update(provider=None, last_error=outcome.detail, next_poll_at=now + schedule.RECHECK)
    elif kind == INVALID:
        extra = {
            "invalid": outcome.detail or "not a tracking number",
            "invalid_since": s["created_at"],
        }
        managed = (R.INVALID_TRACKING,)
        values.update(provider=None, last_error=outcome.detail, next_poll_at=None)
    else:  # pragma: no cover - the kinds are closed
        raise ValueError(f"unknown outcome kind {kind!r}")
    if outcome.carrier is not None:
        values["carrier"] = outcome.carrier
    if outcome.candidates is not None:
        values["carrier_candidates"] = outcome.candidates

    facts = Facts(
        status=status,
        created_at=s["created_at"],
        estimated_delivery=s["estimated_delivery"],
        last_scan_at=s["last_scan_at"],
        first_scan_at=s["first_scan_at"],
        label_at=s["shipped_at"],
        substatus=substatus,
        **extra,
    )
    decision = decide(open_items, shipment_reasons(facts, ctx.settings, now), managed, by_person)
    top = decision.top_after(open_items, now)
    expired = status != s["status"]
    values.update(
        status=status,
        substatus=substatus,
        attention=top[0] if top else None,
        attention_since=top[1] if top else None,
    )
    if expired or decision.raise_ or decision.clear or values["carrier"] != s["carrier"]:
        values["updated_at"] = now
    return _Plan(outcome, values, decision=decision, open_items=open_items, expired=expired)


def _new_rows(
    shipment_id: int, events: list[NormalizedEvent], known: set[str], now: datetime
) -> list[dict[str, Any]]:
    rows = []
    seen = set(known)
    for e in events:
        digest = e.dedupe_hash(shipment_id)
        if digest in seen:
            continue
        seen.add(digest)  # the same event twice in one answer is one event
        rows.append(
            {
                "shipment_id": shipment_id,
                "occurred_at": e.occurred_at,
                "utc_offset_minutes": e.utc_offset_minutes,
                "status": e.status.value,
                "substatus": e.substatus,
                "description": e.description,
                "location": e.location,
                "raw": dict(e.raw) if e.raw is not None else None,
                "dedupe_hash": digest,
                "created_at": now,
            }
        )
    return rows


# --- writing ------------------------------------------------------------------------


def _still_ours(conn: Connection, ids: list[int], owner: str) -> set[int]:
    held: set[int] = set()
    for start in range(0, len(ids), _CHUNK):
        query = sa.select(_shipments.c.id).where(
            _shipments.c.id.in_(ids[start : start + _CHUNK]), _shipments.c.lease_owner == owner
        )
        if conn.dialect.name == "postgresql":
            query = query.with_for_update()
        held.update(conn.execute(query).scalars())
    return held


def _known_hashes(conn: Connection, ids: list[int]) -> dict[int, set[str]]:
    found: dict[int, set[str]] = {}
    for start in range(0, len(ids), _CHUNK):
        rows = conn.execute(
            sa.select(_events.c.shipment_id, _events.c.dedupe_hash).where(
                _events.c.shipment_id.in_(ids[start : start + _CHUNK])
            )
        )
        for sid, digest in rows:
            found.setdefault(sid, set()).add(digest)
    return found


def _insert_events(conn: Connection, rows: list[dict[str, Any]]) -> dict[tuple[int, str], int]:
    """Insert events; (shipment, hash) -> id of each one inserted."""
    if not rows:
        return {}
    # ON CONFLICT guards against another worker storing the same events meanwhile.
    stmt = (
        upsert.insert(conn, _events)
        .on_conflict_do_nothing(index_elements=[_events.c.shipment_id, _events.c.dedupe_hash])
        .returning(_events.c.id, _events.c.shipment_id, _events.c.dedupe_hash)
    )
    return {(sid, digest): eid for eid, sid, digest in conn.execute(stmt, rows)}


def _update(conn: Connection, plans: list[_Plan], owner: str) -> None:
    if not plans:
        return
    stmt = (
        sa.update(_shipments)
        .where(_shipments.c.id == sa.bindparam("b_id"), _shipments.c.lease_owner == owner)
        .values(
            {name: sa.bindparam(f"v_{name}") for name in WRITTEN}
            | {"lease_owner": None, "lease_until": None}
        )
    )
    conn.execute(
        stmt,
        [{"b_id": p.sid, **{f"v_{k}": p.values[k] for k in WRITTEN}} for p in plans],
    )


def _latest_events(
    conn: Connection, plans: list[_Plan], inserted: dict[tuple[int, str], int]
) -> dict[int, int | None]:
    """The newest stored event of each shipment that will report a change."""
    latest: dict[int, int | None] = {}
    missing = []
    for p in plans:
        if p.outcome.kind not in (RESULT, NOT_FOUND, FAILED) or not _will_report(p):
            continue
        newest = None
        for row in p.event_rows:
            if (p.sid, row["dedupe_hash"]) in inserted and (
                newest is None or row["occurred_at"] >= newest["occurred_at"]
            ):
                newest = row
        last_scan = p.outcome.shipment["last_scan_at"]
        if newest is not None and (last_scan is None or newest["occurred_at"] >= last_scan):
            latest[p.sid] = inserted[(p.sid, newest["dedupe_hash"])]
        else:
            missing.append(p.sid)
    for sid in missing:
        row = conn.execute(
            sa.select(_events.c.id)
            .where(_events.c.shipment_id == sid)
            .order_by(_events.c.occurred_at.desc(), _events.c.id.desc())
            .limit(1)
        ).first()
        latest[sid] = int(row[0]) if row else None
    return latest


def _will_report(p: _Plan) -> bool:
    s = p.outcome.shipment
    first_info = not p.had_events and bool(p.event_rows)
    return first_info or p.values["status"] != s["status"] or p.eta_moved


def _finish(
    p: _Plan,
    inserted: dict[tuple[int, str], int],
    raised_ids: dict[tuple[int, str], int | None],
    latest: dict[int, int | None],
    ctx: WriteContext,
) -> Applied:
    s = p.outcome.shipment
    applied = Applied(p.sid, p.oid)
    if p.outcome.kind == SKIPPED:
        return applied
    now = ctx.now
    values = p.values
    new = [row for row in p.event_rows if (p.sid, row["dedupe_hash"]) in inserted]
    raised = [
        AttentionRaised(
            order_id=p.oid,
            reason=reason,
            at=now,
            shipment_id=p.sid,
            detail=why.detail,
            attention_item_id=raised_ids.get((p.sid, reason)),
        )
        for reason, why in p.decision.raise_.items()
        if raised_ids.get((p.sid, reason)) is not None
    ]
    status_changed = values["status"] != s["status"]
    if _will_report(p) and (p.outcome.kind == RESULT or status_changed):
        first_info = not p.had_events and bool(new)
        applied.changes.append(
            ShipmentChange(
                order_id=p.oid,
                shipment_id=p.sid,
                at=now,
                old_status=None if first_info else s["status"],
                new_status=values["status"],
                old_estimated_delivery=s["estimated_delivery"],
                new_estimated_delivery=values["estimated_delivery"],
                latest_event_id=latest.get(p.sid),
                delivered_when_first_seen=first_info and values["status"] == S.DELIVERED,
                origin="poll",
            )
        )
    applied.changes.extend(raised)
    applied.events_new = len(new)
    applied.status_changed = status_changed
    applied.raised = len(raised)
    applied.cleared = len(p.decision.clear)
    applied.visible = bool(
        new
        or status_changed
        or values["substatus"] != s["substatus"]
        or p.eta_moved
        or raised
        or p.decision.clear
        or values["carrier"] != s["carrier"]
        or values["attention"] != s["attention"]
    )
    if ctx.want_report:
        new.sort(key=lambda row: row["occurred_at"])
        applied.report = ShipmentReport(
            shipment_id=p.sid,
            order_id=p.oid,
            tracking_number=s["tracking_number"],
            carrier=values["carrier"],
            provider=p.outcome.provider,
            outcome=p.outcome.kind,
            old_status=s["status"],
            new_status=values["status"],
            substatus=values["substatus"],
            old_estimated_delivery=s["estimated_delivery"],
            new_estimated_delivery=values["estimated_delivery"],
            new_events=[
                {
                    "occurred_at": row["occurred_at"].isoformat(),
                    "status": row["status"],
                    "description": row["description"],
                    "location": row["location"],
                }
                for row in new
            ],
            raised=[r.reason for r in raised],
            cleared=list(p.decision.clear),
            next_poll_at=values["next_poll_at"],
            error=p.outcome.detail if p.outcome.kind != RESULT else None,
        )
    return applied
