"""The store's tables.

Times are aware UTC datetimes (:class:`store.types.UTCDateTime`). Money is kept as
decimal text so nothing is rounded on its way through SQLite. Vocabularies
(statuses, reasons, states) are the strings of :mod:`store.statuses`.

The ``orders`` table also carries a *summary* of its shipments (status, carrier,
estimated delivery, attention...) maintained by :mod:`store.summary`, so the board
can page through orders by any sort key without joining.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from store.statuses import NotificationState, ShipmentStatus
from store.types import JSONType, UTCDateTime, utcnow


def _ts(*, index: bool = False, nullable: bool = True) -> Any:
    return Field(default=None, sa_type=UTCDateTime, index=index, nullable=nullable)


def _now() -> Any:
    return Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class Order(SQLModel, table=True):
    __tablename__ = "orders"
    __table_args__ = (
        sa.UniqueConstraint("source", "external_id", name="uq_orders_source_external_id"),
        sa.Index("ix_orders_board_changed", "changed_at", "id"),
        sa.Index("ix_orders_board_created", "created_at", "id"),
        sa.Index("ix_orders_board_eta", "estimated_delivery", "id"),
        sa.Index("ix_orders_board_status", "status_rank", "id"),
        sa.Index("ix_orders_attention", "attention", "attention_since"),
        sa.Index("ix_orders_carrier", "carrier", "id"),
        sa.Index("ix_orders_number", "number"),
        # Search (revision 0002): a pg_trgm index on PostgreSQL; SQLite has the
        # FTS5 table ``orders_fts`` instead, which is not a model (see store.search).
        sa.Index(
            "ix_orders_search_trgm",
            "search_text",
            postgresql_using="gin",
            postgresql_ops={"search_text": "gin_trgm_ops"},
        ).ddl_if(dialect="postgresql"),
    )

    id: int | None = Field(default=None, primary_key=True)
    source: str = Field(nullable=False)
    external_id: str = Field(nullable=False)
    number: str = Field(nullable=False)
    created_at: datetime | None = _ts()
    updated_at: datetime | None = _ts()
    imported_at: datetime = _now()
    changed_at: datetime = _now()

    customer_name: str | None = None
    email: str | None = None
    email_normalized: str | None = None
    email_valid: bool | None = None
    phone: str | None = None
    phone_e164: str | None = None
    phone_valid: bool | None = None
    contact_problems: str | None = None

    ship_name: str | None = None
    ship_company: str | None = None
    ship_address1: str | None = None
    ship_address2: str | None = None
    ship_city: str | None = None
    ship_province: str | None = None
    ship_zip: str | None = None
    ship_country: str | None = None
    ship_phone: str | None = None

    currency: str | None = None
    total: str | None = None
    financial_status: str | None = None
    fulfillment_status: str | None = None
    cancelled_at: datetime | None = _ts()
    tags: str | None = None
    note: str | None = None

    # Summary of the order's shipments, kept by store.summary.refresh_orders().
    status: str = Field(default="unfulfilled", nullable=False)
    status_rank: int = Field(default=0, nullable=False)
    carrier: str | None = None
    tracking_number: str | None = None
    shipment_count: int = Field(default=0, nullable=False)
    estimated_delivery: datetime | None = _ts()
    last_scan_at: datetime | None = _ts()
    attention: str | None = None
    attention_since: datetime | None = _ts()
    # Lower-cased, accent-folded text the search looks through.
    search_text: str = Field(default="", nullable=False)


class LineItem(SQLModel, table=True):
    __tablename__ = "line_items"

    id: int | None = Field(default=None, primary_key=True)
    order_id: int = Field(
        sa_column=sa.Column(
            sa.Integer, sa.ForeignKey("orders.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    position: int = Field(default=0, nullable=False)
    sku: str | None = None
    name: str = Field(default="", nullable=False)
    quantity: int = Field(default=1, nullable=False)
    unit_price: str | None = None


class Shipment(SQLModel, table=True):
    __tablename__ = "shipments"
    __table_args__ = (
        sa.UniqueConstraint("order_id", "tracking_number", name="uq_shipments_order_tracking"),
        sa.Index("ix_shipments_due", "next_poll_at", "id"),
        sa.Index("ix_shipments_attention", "attention", "attention_since"),
    )

    id: int | None = Field(default=None, primary_key=True)
    order_id: int = Field(
        sa_column=sa.Column(
            sa.Integer, sa.ForeignKey("orders.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    # Who moves the parcel; None until carrier detection has named one.
    carrier: str | None = Field(default=None, index=True)
    carrier_candidates: list[str] | None = Field(default=None, sa_type=JSONType)
    # Upper-case, no spaces or dashes.
    tracking_number: str = Field(nullable=False, index=True)
    # Who tracks it (a direct adapter or an aggregator), and its id for the parcel.
    provider: str | None = None
    provider_ref: str | None = None

    status: str = Field(default=ShipmentStatus.PENDING.value, nullable=False)
    substatus: str | None = None
    estimated_delivery: datetime | None = _ts()
    original_estimated_delivery: datetime | None = _ts()
    shipped_at: datetime | None = _ts()
    first_scan_at: datetime | None = _ts()
    last_scan_at: datetime | None = _ts()
    delivered_at: datetime | None = _ts()
    created_at: datetime = _now()
    updated_at: datetime = _now()

    last_polled_at: datetime | None = _ts()
    next_poll_at: datetime | None = _ts()
    poll_failures: int = Field(default=0, nullable=False)
    not_found_since: datetime | None = _ts()
    last_error: str | None = None

    attention: str | None = None
    attention_since: datetime | None = _ts()

    # Scale-out: a worker that claimed this shipment for polling, until when.
    lease_owner: str | None = None
    lease_until: datetime | None = _ts()


class EtaRevision(SQLModel, table=True):
    """Every estimate a carrier gave, so the original is never lost."""

    __tablename__ = "eta_revisions"

    id: int | None = Field(default=None, primary_key=True)
    shipment_id: int = Field(
        sa_column=sa.Column(
            sa.Integer,
            sa.ForeignKey("shipments.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        )
    )
    estimated_delivery: datetime | None = _ts()
    recorded_at: datetime = _now()
    source: str | None = None


class TrackingEvent(SQLModel, table=True):
    __tablename__ = "tracking_events"
    __table_args__ = (
        sa.UniqueConstraint("shipment_id", "dedupe_hash", name="uq_tracking_events_dedupe"),
        sa.Index("ix_tracking_events_shipment_time", "shipment_id", "occurred_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    shipment_id: int = Field(
        sa_column=sa.Column(
            sa.Integer, sa.ForeignKey("shipments.id", ondelete="CASCADE"), nullable=False
        )
    )
    occurred_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    # The carrier's own offset, in minutes east of UTC, when it gave one.
    utc_offset_minutes: int | None = None
    status: str = Field(nullable=False)
    substatus: str | None = None
    description: str = Field(default="", nullable=False)
    location: str | None = None
    raw: dict[str, Any] | None = Field(default=None, sa_type=JSONType)
    dedupe_hash: str = Field(nullable=False)
    created_at: datetime = _now()


class AttentionItem(SQLModel, table=True):
    """One reason one order needs a person; open while ``resolved_at`` is null.

    ``key`` names what it is about (``s:<shipment>``, ``o:<order>``,
    ``n:<notification>``); at most one open item per (reason, key).
    """

    __tablename__ = "attention_items"
    __table_args__ = (
        sa.Index(
            "uq_attention_open",
            "reason",
            "key",
            unique=True,
            sqlite_where=sa.text("resolved_at IS NULL"),
            postgresql_where=sa.text("resolved_at IS NULL"),
        ),
        sa.Index("ix_attention_queue", "resolved_at", "reason", "raised_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    order_id: int = Field(
        sa_column=sa.Column(
            sa.Integer, sa.ForeignKey("orders.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    shipment_id: int | None = Field(
        default=None,
        sa_column=sa.Column(
            sa.Integer, sa.ForeignKey("shipments.id", ondelete="CASCADE"), nullable=True
        ),
    )
    notification_id: int | None = Field(
        default=None,
        sa_column=sa.Column(
            sa.Integer, sa.ForeignKey("notifications.id", ondelete="SET NULL"), nullable=True
        ),
    )
    reason: str = Field(nullable=False)
    key: str = Field(nullable=False)
    detail: str | None = None
    raised_at: datetime = _now()
    snoozed_until: datetime | None = _ts()
    resolved_at: datetime | None = _ts()
    resolved_by: str | None = None
    resolution: str | None = None


class Notification(SQLModel, table=True):
    """The outbox and the log: a row per message to one recipient on one channel."""

    __tablename__ = "notifications"
    __table_args__ = (
        sa.Index("ix_notifications_due", "state", "next_attempt_at"),
        sa.Index("ix_notifications_created", "created_at", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    order_id: int | None = Field(
        default=None,
        sa_column=sa.Column(
            sa.Integer, sa.ForeignKey("orders.id", ondelete="CASCADE"), nullable=True, index=True
        ),
    )
    shipment_id: int | None = Field(
        default=None,
        sa_column=sa.Column(
            sa.Integer, sa.ForeignKey("shipments.id", ondelete="SET NULL"), nullable=True
        ),
    )
    event: str = Field(nullable=False)
    channel: str = Field(nullable=False, index=True)
    audience: str = Field(default="customer", nullable=False)
    recipient: str | None = Field(default=None, index=True)
    dedupe_key: str = Field(nullable=False, unique=True)
    subject: str | None = None
    body: str | None = None
    body_html: str | None = None
    context: dict[str, Any] | None = Field(default=None, sa_type=JSONType)
    state: str = Field(default=NotificationState.PENDING.value, nullable=False)
    state_reason: str | None = None
    attempts: int = Field(default=0, nullable=False)
    next_attempt_at: datetime | None = _ts()
    lease_owner: str | None = None
    lease_until: datetime | None = _ts()
    last_error: str | None = None
    result: dict[str, Any] | None = Field(default=None, sa_type=JSONType)
    created_at: datetime = _now()
    updated_at: datetime = _now()
    sent_at: datetime | None = _ts()
    resend_of: int | None = Field(
        default=None,
        sa_column=sa.Column(
            sa.Integer, sa.ForeignKey("notifications.id", ondelete="SET NULL"), nullable=True
        ),
    )
    requested_by: str | None = None


class NotificationAttempt(SQLModel, table=True):
    """What the provider said on each try, service by service."""

    __tablename__ = "notification_attempts"

    id: int | None = Field(default=None, primary_key=True)
    notification_id: int = Field(
        sa_column=sa.Column(
            sa.Integer,
            sa.ForeignKey("notifications.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        )
    )
    attempt: int = Field(nullable=False)
    worker: str | None = None
    started_at: datetime = _now()
    finished_at: datetime | None = _ts()
    outcome: str | None = None
    error: str | None = None
    result: dict[str, Any] | None = Field(default=None, sa_type=JSONType)


class Suppression(SQLModel, table=True):
    """An address or phone number that must not be messaged."""

    __tablename__ = "suppressions"

    id: int | None = Field(default=None, primary_key=True)
    address: str = Field(nullable=False, unique=True)
    kind: str = Field(default="any", nullable=False)
    reason: str | None = None
    source: str = Field(default="manual", nullable=False)
    created_at: datetime = _now()
    created_by: str | None = None


class IngestedFile(SQLModel, table=True):
    __tablename__ = "ingested_files"

    id: int | None = Field(default=None, primary_key=True)
    path: str = Field(nullable=False)
    sha256: str = Field(nullable=False, unique=True)
    size: int = Field(default=0, nullable=False)
    format: str | None = None
    source: str | None = None
    outcome: str = Field(nullable=False)
    rows_total: int = Field(default=0, nullable=False)
    rows_accepted: int = Field(default=0, nullable=False)
    rows_rejected: int = Field(default=0, nullable=False)
    orders_created: int = Field(default=0, nullable=False)
    orders_updated: int = Field(default=0, nullable=False)
    shipments_created: int = Field(default=0, nullable=False)
    error: str | None = None
    errors: list[dict[str, Any]] | None = Field(default=None, sa_type=JSONType)
    started_at: datetime = _now()
    finished_at: datetime | None = _ts()


class AuditEntry(SQLModel, table=True):
    """Every human action: who did what, when, to which order."""

    __tablename__ = "audit_log"
    __table_args__ = (sa.Index("ix_audit_order", "order_id", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = _now()
    actor: str = Field(nullable=False)
    action: str = Field(nullable=False)
    order_id: int | None = Field(
        default=None,
        sa_column=sa.Column(
            sa.Integer, sa.ForeignKey("orders.id", ondelete="SET NULL"), nullable=True
        ),
    )
    shipment_id: int | None = None
    notification_id: int | None = None
    detail: dict[str, Any] | None = Field(default=None, sa_type=JSONType)


class OrderNote(SQLModel, table=True):
    """A note an operator wrote on an order (the shop's own note is Order.note)."""

    __tablename__ = "order_notes"

    id: int | None = Field(default=None, primary_key=True)
    order_id: int = Field(
        sa_column=sa.Column(
            sa.Integer, sa.ForeignKey("orders.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    author: str = Field(nullable=False)
    body: str = Field(nullable=False)
    created_at: datetime = _now()


class WorkerHeartbeat(SQLModel, table=True):
    __tablename__ = "worker_heartbeats"

    worker_id: str = Field(primary_key=True)
    role: str = Field(nullable=False)
    host: str = Field(nullable=False)
    pid: int = Field(nullable=False)
    version: str | None = None
    started_at: datetime = _now()
    last_seen: datetime = _now()
    state: str = Field(default="running", nullable=False)
    counters: dict[str, Any] | None = Field(default=None, sa_type=JSONType)
    errors: dict[str, Any] | None = Field(default=None, sa_type=JSONType)


class CarrierState(SQLModel, table=True):
    """Per-provider health and the shared rate-limit bucket (scale-out)."""

    __tablename__ = "carrier_state"

    carrier: str = Field(primary_key=True)
    #: The shared rate limit (sync.sharedlimit): the first free request slot
    #: (GCRA's theoretical arrival time) and a Retry-After every worker honours.
    next_slot_at: datetime | None = _ts()
    paused_until: datetime | None = _ts()
    circuit: str = Field(default="closed", nullable=False)
    consecutive_failures: int = Field(default=0, nullable=False)
    opened_at: datetime | None = _ts()
    auth_error: str | None = None
    last_error: str | None = None
    last_error_at: datetime | None = _ts()
    last_success_at: datetime | None = _ts()
    requests: int = Field(default=0, nullable=False)


class ChangeLog(SQLModel, table=True):
    """The change feed: every writer appends what it touched; ``seq`` only grows."""

    __tablename__ = "change_log"
    __table_args__ = {"sqlite_autoincrement": True}

    seq: int | None = Field(
        default=None,
        primary_key=True,
        sa_type=sa.BigInteger().with_variant(sa.Integer(), "sqlite"),  # type: ignore[call-overload]
    )
    at: datetime = _now()
    kind: str = Field(nullable=False)
    # None means "many orders" (a bulk import): readers re-read what they show.
    order_id: int | None = None


class StoreMeta(SQLModel, table=True):
    __tablename__ = "store_meta"

    key: str = Field(primary_key=True)
    value: str = Field(nullable=False)


metadata = SQLModel.metadata


def _add_server_defaults() -> None:
    """Mirror scalar Python defaults as server defaults, so bulk Core inserts that
    leave a column out get the same value an ORM insert would."""
    for table in metadata.tables.values():
        for column in table.columns:
            default = column.default
            if column.server_default is not None or default is None or not default.is_scalar:
                continue
            value = default.arg  # type: ignore[attr-defined]
            if value is None:
                continue
            if isinstance(value, bool):
                column.server_default = sa.DefaultClause("1" if value else "0")
            else:
                column.server_default = sa.DefaultClause(str(value))


_add_server_defaults()
