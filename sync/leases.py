"""Claiming due shipments with a lease, and giving them back.

A worker marks the shipments it polls with its name (``lease_owner``) until a
deadline (``lease_until``); another worker skips them until the deadline
passes, so a crashed worker's shipments are polled again once its leases run
out. A live worker renews the leases of what it still has to poll
(:func:`renew`): with a rate limit shared by several workers, a claim may take
longer to work through than one lease. On PostgreSQL the claim locks with ``FOR UPDATE SKIP LOCKED`` so that
workers claiming at the same moment each get different rows without waiting
for each other; on SQLite the write transaction (``BEGIN IMMEDIATE``) does it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from store.models import AttentionItem, Shipment
from store.statuses import FINAL_STATUSES, AttentionReason
from sync.tracking_writer import SNAPSHOT

_shipments = Shipment.__table__  # type: ignore[attr-defined]
_items = AttentionItem.__table__  # type: ignore[attr-defined]

Row = dict[str, Any]


def _free(now: datetime) -> Any:
    return sa.or_(_shipments.c.lease_until.is_(None), _shipments.c.lease_until < now)


def claim_due(
    conn: Connection,
    *,
    owner: str,
    now: datetime,
    lease: timedelta,
    limit: int,
    due_before: datetime,
    excluded_providers: Sequence[str] = (),
) -> list[Row]:
    """Lease up to ``limit`` shipments due by ``due_before``, earliest first."""
    conditions = [
        _shipments.c.next_poll_at.is_not(None),
        _shipments.c.next_poll_at <= due_before,
        _free(now),
    ]
    if excluded_providers:
        conditions.append(
            sa.or_(
                _shipments.c.provider.is_(None),
                _shipments.c.provider.not_in(list(excluded_providers)),
            )
        )
    pick = (
        sa.select(_shipments.c.id)
        .where(*conditions)
        .order_by(_shipments.c.next_poll_at, _shipments.c.id)
        .limit(limit)
    )
    return _lease(conn, pick, owner, now + lease)


def claim_ids(
    conn: Connection, ids: Sequence[int], *, owner: str, now: datetime, lease: timedelta
) -> tuple[list[Row], list[int]]:
    """Lease these shipments, due or not; returns them and the ids someone else holds."""
    pick = sa.select(_shipments.c.id).where(
        _shipments.c.id.in_(list(ids)),
        sa.or_(_free(now), _shipments.c.lease_owner == owner),
    )
    rows = _lease(conn, pick, owner, now + lease)
    got = {r["id"] for r in rows}
    return rows, [i for i in ids if i not in got]


def _lease(conn: Connection, pick: Any, owner: str, until: datetime) -> list[Row]:
    if conn.dialect.name == "postgresql":
        pick = pick.with_for_update(skip_locked=True)
    stmt = (
        sa.update(_shipments)
        .where(_shipments.c.id.in_(pick.scalar_subquery()))
        .values(lease_owner=owner, lease_until=until)
        .returning(*[_shipments.c[name] for name in SNAPSHOT])
    )
    return [dict(row) for row in conn.execute(stmt).mappings()]


def renew(conn: Connection, ids: Sequence[int], *, owner: str, until: datetime) -> set[int]:
    """Extend this worker's leases on ``ids``; returns the ids it still held."""
    if not ids:
        return set()
    return set(
        conn.execute(
            sa.update(_shipments)
            .where(_shipments.c.id.in_(list(ids)), _shipments.c.lease_owner == owner)
            .values(lease_until=until)
            .returning(_shipments.c.id)
        ).scalars()
    )


def release(conn: Connection, ids: Sequence[int], *, owner: str) -> None:
    """Give shipments back untouched (still due)."""
    conn.execute(
        sa.update(_shipments)
        .where(_shipments.c.id.in_(list(ids)), _shipments.c.lease_owner == owner)
        .values(lease_owner=None, lease_until=None)
    )


def adopt_unscheduled(conn: Connection, now: datetime) -> None:
    """A live shipment nobody scheduled (never polled, no next poll) is due now."""
    conn.execute(
        sa.update(_shipments)
        .where(
            _shipments.c.next_poll_at.is_(None),
            _shipments.c.last_polled_at.is_(None),
            _shipments.c.status.not_in([s.value for s in FINAL_STATUSES]),
        )
        .values(next_poll_at=now)
    )


def recheck_no_provider(conn: Connection, now: datetime) -> None:
    """Shipments that had no provider are due now: the configuration may have changed."""
    waiting = sa.select(_items.c.shipment_id).where(
        _items.c.reason == AttentionReason.NO_PROVIDER,
        _items.c.resolved_at.is_(None),
        _items.c.shipment_id.is_not(None),
    )
    conn.execute(
        sa.update(_shipments)
        .where(_shipments.c.id.in_(waiting), _shipments.c.next_poll_at > now)
        .values(next_poll_at=now)
    )


def next_due(conn: Connection, now: datetime) -> datetime | None:
    """When the earliest shipment nobody holds falls (or fell) due."""
    value: datetime | None = conn.execute(
        sa.select(sa.func.min(_shipments.c.next_poll_at)).where(
            _shipments.c.next_poll_at.is_not(None), _free(now)
        )
    ).scalar()
    return value
