"""The order board's queries: one row per order from the ``orders`` summary columns.

Every sort walks an index of ``orders`` (``ix_orders_board_*``) and every quick
filter narrows by an indexed summary column, so a window of the board costs the
same at a hundred orders and at a million. The console pages through
:func:`listing` with :mod:`store.keyset`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, RowMapping

from store import search
from store.keyset import Key, Listing
from store.models import Order
from store.summary import ORDER_STATUS_RANK

_orders = Order.__table__  # type: ignore[attr-defined]


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


def conditions(query: BoardQuery, dialect: str) -> list[Any]:
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
    found = search.condition(dialect, query.search)
    if found is not None:
        where.append(found)
    return where


def listing(query: BoardQuery, dialect: str) -> Listing:
    sort = SORTS.get(query.sort)
    if sort is None:
        raise ValueError(f"unknown board sort {query.sort!r}; one of {', '.join(SORTS)}")
    lead = _orders.c[sort.column]
    return Listing(
        source=_orders,
        columns=_COLUMNS,
        order=(lead, _orders.c.id),
        descending=sort.descending,
        where=conditions(query, dialect),
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


def status_counts(conn: Connection) -> dict[str, int]:
    """Orders per summary status (walks the status index, not the table)."""
    rows = conn.execute(
        sa.select(_orders.c.status_rank, _orders.c.status, sa.func.count()).group_by(
            _orders.c.status_rank, _orders.c.status
        )
    )
    counts: dict[str, int] = {}
    for _rank, status, n in rows:
        counts[status] = counts.get(status, 0) + int(n)
    return counts


def carriers(conn: Connection) -> list[str]:
    """Carrier codes on the board, for the carrier quick filter."""
    rows = conn.execute(
        sa.select(_orders.c.carrier).where(_orders.c.carrier.is_not(None)).distinct()
    )
    return sorted(r[0] for r in rows)
