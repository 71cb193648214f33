"""Crash safety: ``orderdeck sync`` killed with SIGKILL mid-work loses and doubles nothing.

The small version of ``bench/crash.py`` (same workload generator, same sinks, same
checks): 200 orders as Shopify export and tracking files dropped while the
real service runs in a subprocess against a SQLite store, the sandbox carrier failing
now and then, the service killed three times at random (seeded) moments and restarted.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from bench.crash import Options, filed, make_workload, run

pytestmark = pytest.mark.slow


def test_workload_files_cover_every_order_and_shipment() -> None:
    work = make_workload(120, seed=5, per_file=20)
    orders_files = [f for f in work.files if "-orders_export" in f.name]
    tracking_files = [f for f in work.files if f.name.endswith("-tracking.csv")]
    assert len(orders_files) + len(tracking_files) == len(work.files)
    numbers = {line.split(",")[0] for f in orders_files for line in f.text.splitlines()[1:]}
    assert numbers == set(work.orders)
    attached = {
        tuple(line.split(",")[:2]) for f in tracking_files for line in f.text.splitlines()[1:]
    }
    assert attached == work.shipments
    # Every tracking file waits for the export holding its orders.
    assert all(f.after and f.after[0] in {o.name for o in orders_files} for f in tracking_files)
    assert len({f.name for f in work.files}) == len(work.files)


def test_filed_counts_copies_under_their_original_name(tmp_path: Path) -> None:
    day = tmp_path / "processed" / "2026-11-28"
    day.mkdir(parents=True)
    (tmp_path / "failed").mkdir()
    for name in ("a.csv", "a (2).csv", "a.csv.error.txt", "b.csv"):
        (day / name).write_text("x")
    (tmp_path / "failed" / "b.csv").write_text("x")
    assert filed(tmp_path) == {
        "a.csv": Counter(processed=2),
        "b.csv": Counter(processed=1, failed=1),
    }


def test_sigkill_three_times_loses_and_doubles_nothing(tmp_path: Path) -> None:
    options = Options(
        orders=200,
        kills=3,
        seed=11,
        kill_after=(0.5, 3.0),
        drop_rate=6.0,
        per_file=20,
        settle_seconds=150,
        send_timeout=4.0,
    )
    figures = run(options, tmp_path / "work", say=lambda _line: None)
    assert figures["settled"] and figures["outbox_drained"], figures
    assert figures["ratio"] == 1.0
    assert figures["orders_lost"] == 0 and figures["orders_duplicated"] == 0, figures["examples"]
    assert figures["shipments_lost"] == 0 and figures["shipments_duplicated"] == 0
    assert figures["files_not_filed_once"] == 0, figures["examples"]
    assert figures["files_failed"] == 0
    assert figures["tracking_events_duplicated"] == 0
    assert figures["notifications_lost"] == 0, figures["examples"]
    # Twice only where orderdeck itself says a send was interrupted mid-flight.
    assert figures["notifications_sent_twice"] == 0, figures["examples"]
    assert figures["deliveries_without_id"] == 0
    assert figures["starts"] == options.kills + 2  # and the final run without the poller
