"""Fixtures for the tracking tests: a real sandbox carrier on loopback, on a frozen
clock the test moves, and helpers to put orders and shipments in a store."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import SQLModel

from store.engine import Store
from store.migrate import open_store
from store.models import AttentionItem, Order, Shipment, TrackingEvent
from store.settings import StoreSettings
from sync.sandbox import SandboxClock, SandboxServer
from sync.settings import (
    AttentionSettings,
    CarrierSettings,
    PollSettings,
    SyncSettings,
    TrackingSettings,
)

#: A Monday, midday UTC: every story starts here (spread 0).
T0 = datetime(2026, 11, 9, 12, 0, tzinfo=UTC)

FAST_POLL = PollSettings(
    concurrency=4,
    max_retries=2,
    backoff_base_seconds=0.01,
    backoff_max_seconds=0.05,
    circuit_failures=3,
    circuit_cooldown_seconds=0.3,
    lease_seconds=120.0,
    timeout_seconds=2.0,
)


@pytest.fixture(scope="session")
def _tracking_pg_url(pg_server: str) -> Iterator[str]:
    """One PostgreSQL database for the tracking tests, migrated once; each test
    empties it (creating a database per test costs seconds on a busy machine)."""
    import uuid

    import psycopg
    from sqlalchemy.engine import make_url

    name = f"orderdeck_tracking_{uuid.uuid4().hex[:10]}"
    admin = make_url(pg_server).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = make_url(pg_server).set(database=name).render_as_string(hide_password=False)
    open_store(StoreSettings(url=url)).dispose()
    try:
        yield url
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


_KEEP = {"alembic_version", "store_meta"}


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """The test on a fresh SQLite file, and on an emptied PostgreSQL database."""
    if request.param == "sqlite":
        s = open_store(StoreSettings(url=f"sqlite:///{tmp_path / 'orderdeck.db'}"))
    else:
        s = open_store(StoreSettings(url=request.getfixturevalue("_tracking_pg_url")))
        # DELETE, children first: on tables this small it beats TRUNCATE, which
        # needs an exclusive lock and new files per table on a busy server.
        with s.engine.begin() as conn:
            for table in reversed(SQLModel.metadata.sorted_tables):
                if table.name not in _KEEP:
                    conn.execute(table.delete())
    try:
        yield s
    finally:
        s.dispose()


@pytest.fixture
def clock() -> SandboxClock:
    return SandboxClock(T0, speed=0)


@pytest.fixture
def sandbox(clock: SandboxClock) -> Iterator[SandboxServer]:
    server = SandboxServer(seed=11, clock=clock, spread_hours=0).start()
    try:
        yield server
    finally:
        server.stop()


def sync_settings(
    sandbox: SandboxServer | None,
    *,
    poll: PollSettings = FAST_POLL,
    attention: AttentionSettings | None = None,
    aggregators: tuple[str, ...] = (),
    **sandbox_options: Any,
) -> SyncSettings:
    carriers = {}
    if sandbox is not None:
        options = {"base_url": sandbox.url, "rate_limit": 1000.0, "batch_size": 5}
        options.update(sandbox_options)
        carriers["sandbox"] = CarrierSettings("sandbox", options)
    return SyncSettings(
        tracking=TrackingSettings(aggregators=aggregators, carriers=carriers, poll=poll),
        attention=attention or AttentionSettings(),
    )


def with_poll(settings: SyncSettings, **changes: Any) -> SyncSettings:
    poll = dataclasses.replace(settings.tracking.poll, **changes)
    return dataclasses.replace(settings, tracking=dataclasses.replace(settings.tracking, poll=poll))


def add_order(store: Store, number: str, *, created_at: datetime = T0, **fields: Any) -> int:
    with store.write() as s:
        order = Order(
            source="test", external_id=number, number=number, created_at=created_at, **fields
        )
        s.add(order)
        s.flush()
        assert order.id is not None
        return order.id


def add_shipments(
    store: Store,
    numbers: list[str],
    *,
    carrier: str | None = "sandbox",
    created_at: datetime = T0,
    due: datetime | None = T0,
) -> list[int]:
    """One order per number, each with one shipment due at ``due``."""
    ids = []
    for number in numbers:
        order_id = add_order(store, f"#{number}", created_at=created_at)
        with store.write() as s:
            shipment = Shipment(
                order_id=order_id,
                carrier=carrier,
                tracking_number=number,
                created_at=created_at,
                next_poll_at=due,
            )
            s.add(shipment)
            s.flush()
            assert shipment.id is not None
            ids.append(shipment.id)
    return ids


def shipment(store: Store, shipment_id: int) -> Shipment:
    with store.read() as s:
        found = s.get(Shipment, shipment_id)
        assert found is not None
        s.expunge(found)
        return found


def events(store: Store, shipment_id: int) -> list[TrackingEvent]:
    with store.read() as s:
        rows = list(
            s.execute(
                sa.select(TrackingEvent)
                .where(TrackingEvent.shipment_id == shipment_id)  # type: ignore[arg-type]
                .order_by(TrackingEvent.occurred_at)  # type: ignore[arg-type]
            ).scalars()
        )
        for row in rows:
            s.expunge(row)
        return rows


def open_reasons(
    store: Store, shipment_id: int | None = None, order_id: int | None = None
) -> set[str]:
    key = f"s:{shipment_id}" if shipment_id is not None else f"o:{order_id}"
    with store.read() as s:
        return set(
            s.execute(
                sa.select(AttentionItem.reason).where(
                    AttentionItem.key == key,  # type: ignore[arg-type]
                    AttentionItem.resolved_at.is_(None),  # type: ignore[union-attr]
                )
            ).scalars()
        )


def at(moment: datetime, minutes: float = 1) -> datetime:
    """Just after ``moment``."""
    return moment + timedelta(minutes=minutes)
