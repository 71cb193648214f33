"""The writer's shortcut for a new order without shipments equals store.summary.summarize."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from store import summary
from sync.ingest.writer import SUMMARY_COLUMNS, _new_summary


@pytest.mark.parametrize(
    "fields",
    [
        {"number": "#1"},
        {
            "number": "#1001",
            "customer_name": "José Müller [bold]x[/bold]",
            "email": "Jose@Example.COM",
            "phone": "+44 20 7946 0958",
            "phone_e164": "+442079460958",
            "ship_name": "Zoë Ørsted",
        },
        {
            "number": "#9",
            "customer_name": "山田 太郎",
            "cancelled_at": datetime(2026, 1, 1, tzinfo=UTC),
        },
        {"number": "#10", "cancelled_at": None, "email": None},
    ],
)
def test_fast_path_matches_summarize(fields: dict[str, object]) -> None:
    expected = summary.summarize(fields, [], [])
    assert _new_summary(fields, [], []) == tuple(expected[c] for c in SUMMARY_COLUMNS)
