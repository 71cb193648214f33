"""Writing what a poll learned about one shipment, all of it or none of it.

:func:`apply` runs inside a transaction (the poller gives each shipment its own
SAVEPOINT within a group commit): it inserts the new tracking events
(deduplicated by hash, so a carrier that repeats its whole history adds
nothing twice), moves status, estimate, scans and delivery time, records the
estimate's revisions, raises and clears attention items, schedules the next
poll and releases the shipment's lease, and returns the changes the
notification rules must hear about.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from notifiers.changes import AttentionRaised, Change, ShipmentChange
from store import upsert
from store.models import EtaRevision, Shipment, TrackingEvent
from store.statuses import AttentionReason, ShipmentStatus
from sync import schedule
from sync.carriers.base import NormalizedEvent, TrackResult
from sync.settings import SyncSettings
from sync.tracking_attention import (
    SHIPMENT_REASONS,
    TIME_REASONS,
    Facts,
    reconcile,
    shipment_reasons,
)

S = ShipmentStatus
R = AttentionReason

_shipments = Shipment.__table__  # type: ignore[attr-defined]
_events = TrackingEvent.__table__  # type: ignore[attr-defined]
_revisions = EtaRevision.__table__  # type: ignore[attr-defined]

#: The shipment columns a poll reads when it claims a shipment.
SNAPSHOT = (
    "id",
    "order_id",
    "carrier",
    "carrier_candidates",
    "tracking_number",
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
    "created_at",
    "poll_failures",
    "not_found_since",
    "attention",
    "attention_since",
)

_UNSCANNED = (S.PENDING, S.INFO_RECEIVED)

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
    changes: list[Change] = field(default_factory=list)
    #: Something an order's summary or a screen shows moved.
    visible: bool = False
    events_new: int = 0
    status_changed: bool = False
    raised: int = 0
    cleared: int = 0
    report: ShipmentReport | None = None


class LeaseLost(Exception):
    """Another worker claimed the shipment after our lease ran out; it owns it now."""


@dataclass(frozen=True)
class WriteContext:
    settings: SyncSettings
    now: datetime
    owner: str
    rng: random.Random
    want_report: bool = False


def apply(conn: Connection, outcome: Outcome, ctx: WriteContext) -> Applied:
    if outcome.kind == SKIPPED:
        _release(conn, outcome.shipment["id"], ctx.owner, outcome.provider)
        return Applied()
    if outcome.kind == RESULT:
        assert outcome.result is not None
        return _apply_result(conn, outcome, outcome.result, ctx)
    return _apply_without_news(conn, outcome, ctx)


def _apply_result(
    conn: Connection, outcome: Outcome, result: TrackResult, ctx: WriteContext
) -> Applied:
    s = outcome.shipment
    sid, oid, now = s["id"], s["order_id"], ctx.now
    had_events = s["last_scan_at"] is not None or _has_events(conn, sid)
    new_rows = _insert_events(conn, sid, result.events, now)
    events = result.events
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
        substatus = (
            result.substatus if result.status is not None else newest.substatus if newest else None
        )

    eta = result.estimated_delivery or old_eta
    eta_moved = result.estimated_delivery is not None and result.estimated_delivery != old_eta
    original = s["original_estimated_delivery"] or eta
    if eta_moved:
        conn.execute(
            sa.insert(_revisions).values(
                shipment_id=sid,
                estimated_delivery=result.estimated_delivery,
                recorded_at=now,
                source=outcome.provider,
            )
        )

    times = [e.occurred_at for e in events]
    scans = [e.occurred_at for e in events if e.status not in _UNSCANNED]
    last_scan = max([t for t in (s["last_scan_at"], *times) if t is not None], default=None)
    first_scan = s["first_scan_at"] or (min(scans) if scans else None)
    if s["first_scan_at"] and scans:
        first_scan = min(s["first_scan_at"], min(scans))
    shipped_at = s["shipped_at"] or (min(times) if times else None)
    delivered_at = s["delivered_at"]
    if status == S.DELIVERED and delivered_at is None:
        delivered = [e.occurred_at for e in events if e.status == S.DELIVERED]
        delivered_at = max(delivered) if delivered else now
    same_status = [e.occurred_at for e in events if e.status.value == status]
    status_since = max(same_status) if same_status else None

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
        status_since=status_since,
        substatus=substatus,
        returned=result.returned,
        returned_at=s["created_at"],
    )
    wanted = shipment_reasons(facts, ctx.settings, now)
    rec = reconcile(
        conn, order_id=oid, shipment_id=sid, wanted=wanted, managed=SHIPMENT_REASONS, now=now
    )
    next_at = schedule.next_poll(
        status,
        now=now,
        poll=ctx.settings.tracking.poll,
        estimated_delivery=eta,
        returned=result.returned,
        rng=ctx.rng,
    )
    carrier = outcome.carrier or s["carrier"] or result.carrier
    moved = status != old_status or substatus != s["substatus"] or eta_moved
    values: dict[str, Any] = {
        "carrier": carrier,
        "carrier_candidates": outcome.candidates
        if outcome.candidates is not None
        else s["carrier_candidates"],
        "provider": outcome.provider,
        "provider_ref": result.provider_ref or s["provider_ref"],
        "status": status,
        "substatus": substatus,
        "estimated_delivery": eta,
        "original_estimated_delivery": original,
        "shipped_at": shipped_at,
        "first_scan_at": first_scan,
        "last_scan_at": last_scan,
        "delivered_at": delivered_at,
        "last_polled_at": now,
        "next_poll_at": next_at,
        "poll_failures": 0,
        "not_found_since": None,
        "last_error": None,
        "attention": rec.top[0] if rec.top else None,
        "attention_since": rec.top[1] if rec.top else None,
    }
    if moved or new_rows or carrier != s["carrier"]:
        values["updated_at"] = now
    _update(conn, sid, ctx.owner, values)

    applied = Applied(
        events_new=len(new_rows),
        status_changed=status != old_status,
        raised=len(rec.raised),
        cleared=len(rec.cleared),
    )
    first_info = not had_events and bool(new_rows)
    if first_info or status != old_status or eta_moved:
        applied.changes.append(
            ShipmentChange(
                order_id=oid,
                shipment_id=sid,
                at=now,
                old_status=None if first_info else old_status,
                new_status=status,
                old_estimated_delivery=old_eta,
                new_estimated_delivery=eta,
                latest_event_id=_latest_event_id(conn, sid),
                delivered_when_first_seen=first_info and status == S.DELIVERED,
                origin="poll",
            )
        )
    applied.changes.extend(rec.raised)
    applied.visible = bool(
        new_rows or moved or rec.changed or carrier != s["carrier"] or _top_moved(s, rec.top)
    )
    if ctx.want_report:
        applied.report = _report(
            outcome, s, status, substatus, eta, next_at, rec.raised, rec.cleared, events, new_rows
        )
    return applied


def _apply_without_news(conn: Connection, outcome: Outcome, ctx: WriteContext) -> Applied:
    """Not found, failed, no provider or an invalid number: no events, maybe attention."""
    s = outcome.shipment
    sid, oid, now = s["id"], s["order_id"], ctx.now
    poll = ctx.settings.tracking.poll
    cfg = ctx.settings.attention
    status, substatus = s["status"], s["substatus"]
    values: dict[str, Any] = {"last_polled_at": now}
    facts_extra: dict[str, Any] = {}
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
            facts_extra = {
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
        facts_extra = {"no_provider": outcome.detail or "no tracking provider"}
        managed = (R.NO_PROVIDER,)
        values.update(
            provider=None,
            last_error=outcome.detail,
            next_poll_at=now + schedule.RECHECK,
        )
    elif kind == INVALID:
        facts_extra = {
            "invalid": outcome.detail or "not a tracking number",
            "invalid_since": s["created_at"],
        }
        managed = (R.INVALID_TRACKING,)
        values.update(provider=None, last_error=outcome.detail, next_poll_at=None)
    else:  # pragma: no cover - the kinds are closed
        raise ValueError(f"unknown outcome kind {kind!r}")
    if outcome.carrier is not None and outcome.carrier != s["carrier"]:
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
        **facts_extra,
    )
    wanted = shipment_reasons(facts, ctx.settings, now)
    rec = reconcile(conn, order_id=oid, shipment_id=sid, wanted=wanted, managed=managed, now=now)
    values.update(
        status=status,
        substatus=substatus,
        attention=rec.top[0] if rec.top else None,
        attention_since=rec.top[1] if rec.top else None,
    )
    expired = status != s["status"]
    if expired or rec.changed or "carrier" in values:
        values["updated_at"] = now
    _update(conn, sid, ctx.owner, values)
    applied = Applied(status_changed=expired, raised=len(rec.raised), cleared=len(rec.cleared))
    if expired:
        applied.changes.append(
            ShipmentChange(
                order_id=oid,
                shipment_id=sid,
                at=now,
                old_status=s["status"],
                new_status=status,
                old_estimated_delivery=s["estimated_delivery"],
                new_estimated_delivery=s["estimated_delivery"],
                latest_event_id=_latest_event_id(conn, sid),
                origin="poll",
            )
        )
    applied.changes.extend(rec.raised)
    applied.visible = expired or rec.changed or "carrier" in values or _top_moved(s, rec.top)
    if ctx.want_report:
        applied.report = _report(
            outcome,
            s,
            status,
            substatus,
            s["estimated_delivery"],
            values["next_poll_at"],
            rec.raised,
            rec.cleared,
            [],
            [],
        )
        applied.report.error = outcome.detail
    return applied


def _top_moved(s: dict[str, Any], top: tuple[str, datetime] | None) -> bool:
    return (top[0] if top else None) != s["attention"]


def _has_events(conn: Connection, shipment_id: int) -> bool:
    row = conn.execute(
        sa.select(_events.c.id).where(_events.c.shipment_id == shipment_id).limit(1)
    ).first()
    return row is not None


def _insert_events(
    conn: Connection, shipment_id: int, events: list[NormalizedEvent], now: datetime
) -> list[Any]:
    if not events:
        return []
    rows = [
        {
            "shipment_id": shipment_id,
            "occurred_at": e.occurred_at,
            "utc_offset_minutes": e.utc_offset_minutes,
            "status": e.status.value,
            "substatus": e.substatus,
            "description": e.description,
            "location": e.location,
            "raw": dict(e.raw) if e.raw is not None else None,
            "dedupe_hash": e.dedupe_hash(shipment_id),
            "created_at": now,
        }
        for e in events
    ]
    stmt = (
        upsert.insert(conn, _events)
        .values(rows)
        .on_conflict_do_nothing(index_elements=[_events.c.shipment_id, _events.c.dedupe_hash])
        .returning(_events.c.id, _events.c.dedupe_hash)
    )
    return list(conn.execute(stmt))


def _latest_event_id(conn: Connection, shipment_id: int) -> int | None:
    row = conn.execute(
        sa.select(_events.c.id)
        .where(_events.c.shipment_id == shipment_id)
        .order_by(_events.c.occurred_at.desc(), _events.c.id.desc())
        .limit(1)
    ).first()
    return int(row[0]) if row else None


def _update(conn: Connection, shipment_id: int, owner: str, values: dict[str, Any]) -> None:
    result = conn.execute(
        sa.update(_shipments)
        .where(_shipments.c.id == shipment_id, _shipments.c.lease_owner == owner)
        .values(**values, lease_owner=None, lease_until=None)
    )
    if result.rowcount != 1:
        raise LeaseLost(f"shipment {shipment_id} is no longer leased to {owner}")


def _release(conn: Connection, shipment_id: int, owner: str, provider: str | None) -> None:
    """Give the shipment back untouched (still due), noting who would track it."""
    values: dict[str, Any] = {"lease_owner": None, "lease_until": None}
    if provider is not None:
        values["provider"] = provider
    conn.execute(
        sa.update(_shipments)
        .where(_shipments.c.id == shipment_id, _shipments.c.lease_owner == owner)
        .values(**values)
    )


def _report(
    outcome: Outcome,
    s: dict[str, Any],
    status: str,
    substatus: str | None,
    eta: datetime | None,
    next_at: datetime | None,
    raised: list[AttentionRaised],
    cleared: list[str],
    events: list[NormalizedEvent],
    new_rows: list[Any],
) -> ShipmentReport:
    new_hashes = {row.dedupe_hash for row in new_rows}
    fresh = [e for e in events if e.dedupe_hash(s["id"]) in new_hashes]
    fresh.sort(key=lambda e: e.occurred_at)
    return ShipmentReport(
        shipment_id=s["id"],
        order_id=s["order_id"],
        tracking_number=s["tracking_number"],
        carrier=outcome.carrier or s["carrier"],
        provider=outcome.provider,
        outcome=outcome.kind,
        old_status=s["status"],
        new_status=status,
        substatus=substatus,
        old_estimated_delivery=s["estimated_delivery"],
        new_estimated_delivery=eta,
        new_events=[
            {
                "occurred_at": e.occurred_at.isoformat(),
                "status": e.status.value,
                "description": e.description,
                "location": e.location,
            }
            for e in fresh
        ],
        raised=[r.reason for r in raised],
        cleared=list(cleared),
        next_poll_at=next_at,
    )
