"""The order board's queries: one row per order from the ``orders`` summary columns.

Every sort walks an index of ``orders`` (``ix_orders_board_*``) and every quick
filter narrows by an indexed summary column, so a window of the board costs the
same at a hundred orders and at a million. The console pages through
:func:`listing` with :mod:`store.keyset`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, RowMapping

from store import search
from store.keyset import Key, Listing
from store.models import AttentionItem, CarrierState, Notification, Order, WorkerHeartbeat
from store.statuses import NotificationState
from store.summary import ORDER_STATUS_RANK

_orders = Order.__table__  # type: ignore[attr-defined]
_attention = AttentionItem.__table__  # type: ignore[attr-defined]
_notifications = Notification.__table__  # type: ignore[attr-defined]
_heartbeats = WorkerHeartbeat.__table__  # type: ignore[attr-defined]
_carrier_state = CarrierState.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Sort:
    name: str
    label: str
    column: str
    descending: bool
    nullable: bool


SORTS: dict[str, Sort] = {
    s.name: s
    for s in (
        Sort("changed", "last update", "changed_at", descending=True, nullable=False),
        Sort("eta", "estimated delivery", "estimated_delivery", descending=False, nullable=True),
        Sort("created", "order date", "created_at", descending=True, nullable=True),
        Sort("status", "status", "status_rank", descending=False, nullable=False),
    )
}

#: Summary statuses in board order: what needs a person first.
STATUSES: tuple[str, ...] = tuple(sorted(ORDER_STATUS_RANK, key=ORDER_STATUS_RANK.__getitem__))


@dataclass(frozen=True)
class BoardQuery:
    """What the board shows: a sort, quick filters and a search."""

    sort: str = "changed"
    status: str | None = None
    carrier: str | None = None
    #: A reason, or "any" for every order with an open attention item.
    attention: str | None = None
    search: str | None = None

    @property
    def filtered(self) -> bool:
        return bool(self.status or self.carrier or self.attention or search.needle(self.search))


@dataclass(frozen=True)
class BoardRow:
    id: int
    number: str
    customer_name: str | None
    email: str | None
    status: str
    carrier: str | None
    tracking_number: str | None
    shipment_count: int
    estimated_delivery: datetime | None
    last_scan_at: datetime | None
    attention: str | None
    attention_since: datetime | None
    changed_at: datetime
    created_at: datetime | None
    key: Key


_COLUMNS = (
    _orders.c.id,
    _orders.c.number,
    _orders.c.customer_name,
    _orders.c.email,
    _orders.c.status,
    _orders.c.carrier,
    _orders.c.tracking_number,
    _orders.c.shipment_count,
    _orders.c.estimated_delivery,
    _orders.c.last_scan_at,
    _orders.c.attention,
    _orders.c.attention_since,
    _orders.c.changed_at,
    _orders.c.created_at,
)


def conditions(query: BoardQuery, dialect: str, conn: Connection | None = None) -> list[Any]:
    where: list[Any] = []
    if query.status:
        rank = ORDER_STATUS_RANK.get(query.status)
        if rank is not None:  # lets the status index narrow the scan
            where.append(_orders.c.status_rank == rank)
        where.append(_orders.c.status == query.status)
    if query.carrier:
        where.append(_orders.c.carrier == query.carrier)
    if query.attention == "any":
        where.append(_orders.c.attention.is_not(None))
    elif query.attention:
        where.append(_orders.c.attention == query.attention)
    found = search.condition(dialect, query.search, conn)
    if found is not None:
        where.append(found)
    return where


def listing(query: BoardQuery, dialect: str, conn: Connection | None = None) -> Listing:
    """The board for ``query``; with ``conn``, a search picks its plan by how common
    the needle is (see :func:`store.search.condition`)."""
    sort = SORTS.get(query.sort)
    if sort is None:
        raise ValueError(f"unknown board sort {query.sort!r}; one of {', '.join(SORTS)}")
    lead = _orders.c[sort.column]
    return Listing(
        source=_orders,
        columns=_COLUMNS,
        order=(lead, _orders.c.id),
        descending=sort.descending,
        where=conditions(query, dialect, conn),
        nullable_lead=sort.nullable,
    )


def to_row(listing_: Listing, row: RowMapping) -> BoardRow:
    return BoardRow(
        id=row["id"],
        number=row["number"],
        customer_name=row["customer_name"],
        email=row["email"],
        status=row["status"],
        carrier=row["carrier"],
        tracking_number=row["tracking_number"],
        shipment_count=row["shipment_count"],
        estimated_delivery=row["estimated_delivery"],
        last_scan_at=row["last_scan_at"],
        attention=row["attention"],
        attention_since=row["attention_since"],
        changed_at=row["changed_at"],
        created_at=row["created_at"],
        key=listing_.key_of(row),
    )


_BY_RANK = {rank: status for status, rank in ORDER_STATUS_RANK.items()}


def status_counts(conn: Connection) -> dict[str, int]:
    """Orders per summary status, counted on the status index (not the table)."""
    counts: dict[str, int] = {}
    rows = conn.execute(
        sa.select(_orders.c.status_rank, sa.func.count()).group_by(_orders.c.status_rank)
    )
    for rank, n in rows:
        status = _BY_RANK.get(rank)
        if status is not None:
            counts[status] = int(n)
            continue
        # Statuses this version does not know share one rank: name them from the rows.
        for name, m in conn.execute(
            sa.select(_orders.c.status, sa.func.count())
            .where(_orders.c.status_rank == rank)
            .group_by(_orders.c.status)
        ):
            counts[name] = counts.get(name, 0) + int(m)
    return counts


def carriers(conn: Connection) -> list[str]:
    """Carrier codes on the board, for the carrier quick filter."""
    rows = conn.execute(
        sa.select(_orders.c.carrier).where(_orders.c.carrier.is_not(None)).distinct()
    )
    return sorted(r[0] for r in rows)


def health(conn: Connection, *, heartbeat_fresh: timedelta, now: datetime) -> dict[str, Any]:
    """What the console header shows about sync health, from indexes and small tables
    only (``status_summary`` also counts every shipment, too slow to repeat at scale).

    Keys as in :func:`store.queries.status_summary`: ``attention``, ``workers``,
    ``workers_alive``, ``last_poll_at`` (the newest carrier answer), ``pending_notifications``
    and ``carriers``.
    """
    a, n, hb, cs = _attention, _notifications, _heartbeats, _carrier_state
    attention = {
        reason: int(count)
        for reason, count in conn.execute(
            sa.select(a.c.reason, sa.func.count())
            .where(
                a.c.resolved_at.is_(None),
                sa.or_(a.c.snoozed_until.is_(None), a.c.snoozed_until <= now),
            )
            .group_by(a.c.reason)
        )
    }
    workers = []
    for row in conn.execute(sa.select(hb)).mappings():
        alive = row["state"] != "stopped" and now - row["last_seen"] <= heartbeat_fresh
        workers.append({"worker_id": row["worker_id"], "role": row["role"], "alive": alive})
    pending = conn.execute(
        sa.select(sa.func.count()).select_from(n).where(n.c.state == NotificationState.PENDING)
    ).scalar_one()
    carriers = [dict(r) for r in conn.execute(sa.select(cs)).mappings()]
    answered = [
        t for c in carriers for t in (c["last_success_at"], c["last_error_at"]) if t is not None
    ]
    return {
        "attention": attention,
        "workers": workers,
        "workers_alive": sum(1 for w in workers if w["alive"]),
        "last_poll_at": max(answered).isoformat() if answered else None,
        "pending_notifications": int(pending),
        "carriers": carriers,
    }
