"""Large files are parsed by a child process: same results, same errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from store.engine import Store
from sync.ingest import PARTIAL, REJECTED, ingest_file, parallel
from sync.settings import SyncSettings
from tests.ingest.conftest import count, items, make_settings, order


@pytest.fixture
def child_parses(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parallel, "PARALLEL_BYTES", 0)


@pytest.mark.usefixtures("child_parses")
def test_child_gives_the_same_result(store: Store, files: Path, settings: SyncSettings) -> None:
    progress: list[tuple[int, int, int]] = []
    result = ingest_file(
        store,
        files / "shopify_bad_rows.csv",
        settings=settings,
        source="shop",
        progress=lambda *p: progress.append(p),
    )
    assert result.outcome == PARTIAL
    assert (result.rows_total, result.rows_rejected, result.orders_created) == (8, 6, 2)
    assert result.errors[1].reason == "quantity -2 is negative"
    assert progress[-1] == (result.size, result.size, 8)
    ingest_file(store, files / "shopify_orders.csv", settings=settings, source="shop")
    assert order(store, "#1002")["customer_name"] == "[bold]x[/bold] Smith"
    assert len(items(store, "#1004")) == 3


@pytest.mark.usefixtures("child_parses")
def test_child_rejections_roll_back(store: Store, tmp_path: Path, files: Path) -> None:
    settings = make_settings(batch_size=5)
    broken = ingest_file(store, files / "broken_quoting.csv", settings=settings, source="s")
    assert (broken.outcome, broken.error) == (
        REJECTED,
        "broken CSV quoting near line 3: unexpected end of data",
    )
    body = "".join(f"#{i},Item {i}\n" for i in range(3000))
    late = tmp_path / "late.csv"
    late.write_bytes(b"Name,Lineitem name\n" + body.encode() + "#z,Caf\xe9\n".encode("latin-1"))
    result = ingest_file(store, late, settings=settings, source="s")
    assert result.outcome == REJECTED
    assert result.error is not None and result.error.startswith("not valid utf-8: byte 0xE9")
    assert count(store, "orders") == 0
