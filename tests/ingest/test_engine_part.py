"""The engine's ingest part: a dropped file becomes orders, and "shipped" outbox rows
in the same transaction."""

from __future__ import annotations

import shutil
from pathlib import Path

from sqlmodel import select

from store.engine import Store
from store.models import Notification
from sync.assembly import make_parts
from tests.ingest.conftest import count
from tests.ingest.test_folder import folder_settings
from tests.notify.conftest import channel, settings


async def test_ingest_part_queues_shipped_messages(
    store: Store, files: Path, tmp_path: Path
) -> None:
    drop = tmp_path / "drop"
    drop.mkdir()
    shutil.copy(files / "woocommerce_orders.csv", drop / "woo.csv")
    email = channel(
        "email",
        "mailto://127.0.0.1:9?from=shop@example.com&to={email}&mode=insecure",
        ("shipped",),
        kind="email",
    )
    (part,) = make_parts(store, folder_settings(drop), settings(email), only=("ingest",))
    assert part.name == "ingest"
    done = await part.run_once()
    assert done["imported"] == 1 and done["shipments_created"] == 3
    assert count(store, "orders") == 4
    with store.read() as s:
        queued = list(s.exec(select(Notification)))
    assert sorted((n.event, n.recipient) for n in queued) == [
        ("shipped", "amelie@example.fr"),
        ("shipped", "dana@example.com"),
        ("shipped", "juergen@example.de"),  # the recipient is the normalized address
    ]
