"""Four ``orderdeck sync`` workers against one PostgreSQL store (issue 8, scale-out).

10,000 shipments fall due at once; four real worker processes poll them against
the sandbox carrier (rate-limited, counting the lookups of every number) and
e-mail the customers through a loopback SMTP server. Midway one worker is
SIGKILLed. Then:

- the combined request rate never went over the carrier's limit (no 429, no
  one-second window at the sandbox above it): the limit is shared in the store;
- no shipment was polled twice in the cycle, except those the killed worker held
  at the moment it died (it may have asked already; nobody stored the answer);
- the killed worker's leases were taken over: every shipment got polled, and
  those it held were polled again after it died by the others;
- no notification reached the mailbox twice (per id and per dedupe key).

The sandbox runs as its own process (``orderdeck sandbox``), as a carrier would.
The workers poll on the wall clock, so the sandbox's clock runs at real speed
(its parcels are spread over the day before the start, so they are at
every stage); intervals between polls are hours, so the run is exactly one
poll cycle.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from store.engine import Store
from store.migrate import open_store
from store.models import Notification, Order, Shipment
from store.settings import StoreSettings
from tests.notify.conftest import Mailbox

pytestmark = pytest.mark.postgres

SHIPMENTS = 10_000
WORKERS = 4
#: The sandbox's limit, requests per second; 25 numbers a request: 400 requests, 31 s or more.
LIMIT = 20
BATCH = 25
#: Six Python processes (four workers, the sandbox, this one serving the mailbox)
#: share a busy CI machine: when one is not scheduled for a moment, requests
#: bunch on their way or are read (and timed) by the sandbox all at once. On two
#: CPUs at a load of 20 the sandbox saw bursts of 4-6 requests within 30 ms,
#: which no one worker sends (its slots are four intervals apart on average, and
#: late ones are dropped), and up to 19 requests in a second at 14 a second:
#: some 350 ms of jitter. A 35 % margin absorbs 540 ms (sync.sharedlimit:
#: g <= h / (1 - h)). A carrier's network adds far less; the default is 5 %.
HEADROOM = 0.35
#: Short leases, so the killed worker's shipments come back within the test.
LEASE_SECONDS = 15
#: The killed worker dies once this share of the shipments has been asked about.
KILL_AT = 0.3
DEADLINE_SECONDS = 240

_orders = Order.__table__  # type: ignore[attr-defined]
_shipments = Shipment.__table__  # type: ignore[attr-defined]
_notifications = Notification.__table__  # type: ignore[attr-defined]


def _number(i: int) -> str:
    return f"SX{i:07d}"


def _seed(store: Store, now: datetime) -> None:
    """Orders and their shipments, all due now, in two bulk statements."""
    orders = [
        {
            "source": "scaleout",
            "external_id": str(i),
            "number": f"#{i}",
            "email": f"customer{i}@example.com",
            "email_normalized": f"customer{i}@example.com",
            "email_valid": True,
            "customer_name": f"Customer {i}",
            "created_at": now,
            "imported_at": now,
            "changed_at": now,
        }
        for i in range(SHIPMENTS)
    ]
    with store.write_connection() as conn:
        ids = conn.execute(
            sa.insert(_orders).returning(
                _orders.c.id, _orders.c.external_id, sort_by_parameter_order=True
            ),
            orders,
        ).all()
        conn.execute(
            sa.insert(_shipments),
            [
                {
                    "order_id": order_id,
                    "carrier": "sandbox",
                    "tracking_number": _number(int(external_id)),
                    "created_at": now,
                    "updated_at": now,
                    "next_poll_at": now,
                }
                for order_id, external_id in ids
            ],
        )


def _config(tmp_path: Path, url: str, sandbox_url: str, smtp: Mailbox) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(
        f"""
[store]
url = "{url}"

[sync]
heartbeat_interval = 1

[tracking]
lease_seconds = {LEASE_SECONDS}
shared_rate_limits = "auto"
rate_headroom = {HEADROOM}

[carriers.sandbox]
base_url = "{sandbox_url}"
rate_limit = {LIMIT}
batch_size = {BATCH}

[notify]
lease_seconds = 16
send_timeout = 10

[notify.channels.email]
url = "mailto://127.0.0.1:{smtp.port}?from=shop@example.com&to={{email}}&mode=insecure"
events = ["out_for_delivery", "delivered", "failed_attempt", "exception"]
audience = "customer"
""",
        encoding="utf-8",
    )
    return path


def _start_sandbox(env: dict[str, str]) -> tuple[subprocess.Popen[str], str]:
    """The carrier in a process of its own, as a real one would be: ``orderdeck sandbox``."""
    proc = subprocess.Popen(
        [
            *(sys.executable, "-m", "orderdeck", "sandbox", "--port", "0", "--json"),
            *("--seed", "8", "--spread-hours", "24", "--rate-limit", str(LIMIT)),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    # A carrier runs on machines of its own; here it shares a busy CPU with the
    # workers, and when it is not scheduled for a moment the requests queued
    # meanwhile are read (and timed) all at once. Ahead in the queue, it reads
    # them as they come. (Needs the privilege to raise a priority; else as is.)
    with contextlib.suppress(OSError):
        os.setpriority(os.PRIO_PROCESS, proc.pid, -10)
    assert proc.stdout is not None
    text = ""
    for line in proc.stdout:
        text += line
        with contextlib.suppress(json.JSONDecodeError):
            return proc, str(json.loads(text)["url"])
    proc.kill()
    raise AssertionError(f"the sandbox did not start: {text!r}")


def _start(config: Path, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "orderdeck", "--config", str(config), "sync"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def _held_by(store: Store, pid: int) -> tuple[dict[int, str], list[int]]:
    """Shipments (id -> number) and notifications leased by the process ``pid``."""
    owner = f"%{socket.gethostname()}:{pid}:%"
    with store.read_connection() as conn:
        shipments: dict[int, str] = dict(
            conn.execute(
                sa.select(_shipments.c.id, _shipments.c.tracking_number).where(
                    _shipments.c.lease_owner.like(owner)
                )
            ).all()
        )
        notifications = list(
            conn.execute(
                sa.select(_notifications.c.id).where(_notifications.c.lease_owner.like(owner))
            ).scalars()
        )
    return shipments, notifications


def _settled(store: Store) -> bool:
    """Every shipment polled and free, and no notification waiting or in flight."""
    with store.read_connection() as conn:
        unpolled = conn.execute(
            sa.select(sa.func.count()).where(
                sa.or_(_shipments.c.last_polled_at.is_(None), _shipments.c.lease_owner.is_not(None))
            )
        ).scalar_one()
        open_rows = conn.execute(
            sa.select(sa.func.count()).where(_notifications.c.state.in_(["pending", "sending"]))
        ).scalar_one()
    return unpolled == 0 and open_rows == 0


def _busiest_second(arrivals: list[list[Any]]) -> list[tuple[float, str]]:
    """The arrivals of the busiest one-second window, for the failure message."""
    times = [(float(t), str(outcome)) for t, outcome in arrivals]
    best: list[tuple[float, str]] = []
    for i, (start, _) in enumerate(times):
        window = [(round(t - start, 3), o) for t, o in times[i:] if t < start + 1.0]
        if len(window) > len(best):
            best = window
    return best


def _stop(procs: list[subprocess.Popen[bytes]]) -> list[int | None]:
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    codes: list[int | None] = []
    for proc in procs:
        try:
            codes.append(proc.wait(timeout=60))
        except subprocess.TimeoutExpired:
            proc.kill()
            codes.append(None)
    return codes


def test_four_workers_share_limits_and_leases(
    pg_url: str, tmp_path: Path, smtp: Mailbox, cli_env: dict[str, str]
) -> None:
    started = time.monotonic()
    now = datetime.now(UTC)
    store = open_store(StoreSettings(url=pg_url))
    _seed(store, now)
    figures: dict[str, Any] = {"seed_seconds": round(time.monotonic() - started, 1)}
    sandbox, sandbox_url = _start_sandbox(cli_env)
    carrier = httpx.Client(base_url=sandbox_url, timeout=30)
    config = _config(tmp_path, pg_url, sandbox_url, smtp)
    procs = [_start(config, cli_env, tmp_path / f"worker{n}.log") for n in range(WORKERS)]
    victim = procs[1]
    try:
        deadline = time.monotonic() + DEADLINE_SECONDS
        while carrier.get("/_sandbox/stats").json()["numbers_answered"] < SHIPMENTS * KILL_AT:
            assert time.monotonic() < deadline, "the workers did not get going"
            assert all(p.poll() is None for p in procs), "a worker exited early"
            time.sleep(0.2)
        figures["kill_after"] = round(time.monotonic() - started, 1)
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=10)
        killed_at = datetime.now(UTC)
        held, held_notifications = _held_by(store, victim.pid)
        while not _settled(store):
            assert time.monotonic() < deadline, "the work was not finished in time"
            time.sleep(0.5)
        figures["seconds_to_done"] = round(time.monotonic() - started, 1)
    finally:
        codes = _stop([p for p in procs if p is not victim])
        stats = carrier.get("/_sandbox/stats", params={"numbers": 1, "arrivals": 1}).json()
        carrier.close()
        sandbox.terminate()
        sandbox.communicate(timeout=30)
    logs = {p.name: p.read_text(errors="replace")[-2000:] for p in tmp_path.glob("worker*.log")}
    assert codes == [0] * (WORKERS - 1), logs

    # The combined rate: never over the limit at the carrier.
    figures.update(
        requests=stats["requests"],
        max_per_second=stats["max_requests_in_any_second"],
        limit=LIMIT,
        answers=stats["answers"],
    )
    print(f"\nscale-out figures: {figures}")
    busiest = _busiest_second(stats["arrivals"])
    assert "429" not in stats["answers"], (figures, busiest)
    assert stats["max_requests_in_any_second"] <= LIMIT, (figures, busiest)

    # One poll each in the cycle; a second only for what the killed worker held.
    numbers = {_number(i) for i in range(SHIPMENTS)}
    lookups = stats["lookups_per_number"]
    assert set(lookups) == numbers
    twice = {n for n, count in lookups.items() if count > 1}
    assert twice <= set(held.values()), sorted(twice - set(held.values()))[:10]
    assert max(lookups.values()) <= 2
    assert held, "the killed worker held no lease: it was not killed mid-way"

    # Its leases were taken over: polled after it died, by the others.
    with store.read_connection() as conn:
        rows = conn.execute(
            sa.select(_shipments.c.last_polled_at, _shipments.c.lease_owner).where(
                _shipments.c.id.in_(list(held))
            )
        ).all()
    assert all(r.lease_owner is None and r.last_polled_at > killed_at for r in rows)

    # No notification twice: per id, and per dedupe key.
    sent = Counter(int(m[2]["X-Orderdeck-Notification"]) for m in smtp.messages)
    assert sent and max(sent.values()) == 1
    with store.read_connection() as conn:
        keys: dict[int, str] = dict(
            conn.execute(sa.select(_notifications.c.id, _notifications.c.dedupe_key)).all()
        )
        states = Counter(conn.execute(sa.select(_notifications.c.state)).scalars())
    assert max(Counter(keys[i] for i in sent).values()) == 1
    # Everything marked sent arrived; what the killed worker had in flight is "unknown".
    assert states["sent"] <= len(sent) <= states["sent"] + len(held_notifications)
    assert set(states) <= {"sent", "unknown"}, states
    store.dispose()
