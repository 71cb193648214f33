"""One demo: a throwaway store, made-up orders, the sandbox carrier and local sinks.

Everything lives in a temporary folder and on loopback ports of this process. The
demo writes its own configuration file into the folder and loads it without the
environment, so the user's ``ORDERDECK_CONFIG`` / ``ORDERDECK_DB``, configuration,
store and data folders are never read or written.

The engine runs on the sandbox's accelerated clock (the same object), so the
poller's schedule, lateness and the sandbox's scans agree.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from orderdeck import config as config_mod
from orderdeck import tomlout
from orderdeck.demo.sinks import ChatSink, Mailbox
from store.engine import Store
from store.types import utcnow
from sync.sandbox import SandboxClock, SandboxServer, demo_data

DEFAULT_ORDERS = 300
#: Simulated seconds per real second: twenty simulated minutes a second (a day in 72
#: seconds), so a parcel in transit is polled every few seconds and moves within a minute.
DEFAULT_SPEED = 1200.0
#: Labels were created up to this long before the demo's world starts: parcels at every stage.
SPREAD_HOURS = 72.0
#: The world starts at this hour (UTC) of a weekday morning: vans go out within the
#: first simulated hours, and no Sunday stops the parcels (docs/sandbox.md).
START_HOUR = 6
#: The drop files arrive over this many seconds, in this many steps.
DRIP_SECONDS = 8.0
DRIP_STEPS = 8
SOURCE = "demo-shop"


@dataclass(frozen=True)
class DemoOptions:
    orders: int = DEFAULT_ORDERS
    speed: float = DEFAULT_SPEED
    seed: int = 0
    drip_seconds: float = DRIP_SECONDS
    #: Leave the temporary folder in place at the end.
    keep: bool = False
    #: Where the temporary folder is made (default: the system's temporary folder).
    parent: Path | None = None


class DemoSession:
    """Start with :meth:`start` (or ``with``); :meth:`close` stops and removes it all.

    The engine is not run here: ``orderdeck demo`` runs it in the console, or
    headless, with :meth:`part_options` (the sandbox's clock).
    """

    def __init__(self, options: DemoOptions | None = None) -> None:
        self.options = options or DemoOptions()
        self.root: Path | None = None
        self.mailbox: Mailbox | None = None
        self.chat: ChatSink | None = None
        self.sandbox: SandboxServer | None = None
        self.clock: SandboxClock | None = None
        self.config: config_mod.Config | None = None
        self.store: Store | None = None
        self.orders: list[demo_data.DemoOrder] = []
        self.files_written = 0
        self._stop_drip = threading.Event()
        self._drip: threading.Thread | None = None

    # -- life ------------------------------------------------------------------------

    def __enter__(self) -> DemoSession:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def start(self) -> DemoSession:
        from store.migrate import open_store

        opts = self.options
        try:
            self.root = Path(tempfile.mkdtemp(prefix="orderdeck-demo-", dir=opts.parent))
            self.drop.mkdir()
            self.mailbox = Mailbox().start()
            self.chat = ChatSink().start()
            self.clock = SandboxClock(world_start(utcnow()), speed=opts.speed)
            self.sandbox = SandboxServer(
                seed=opts.seed, clock=self.clock, spread_hours=SPREAD_HOURS
            ).start()
            self.config_path.write_text(self.config_text(), encoding="utf-8")
            # environ={}: the user's ORDERDECK_CONFIG / ORDERDECK_DB never leak in.
            self.config = config_mod.load(self.config_path, environ={})
            self.store = open_store(self.config.store, create=True)
            sandbox = self.sandbox
            self.orders = demo_data.generate_orders(
                opts.orders,
                now=self.clock.epoch,
                seed=opts.seed,
                parcel=lambda number: _parcel(sandbox, number),
            )
        except BaseException:
            self.close()
            raise
        return self

    def close(self) -> None:
        """Stop the drip, the sandbox and the sinks; remove the folder unless ``keep``.

        The engine must be stopped first (it uses the store and the sinks)."""
        self._stop_drip.set()
        if self._drip is not None:
            self._drip.join(10)
        for stop in (
            self.sandbox.stop if self.sandbox else None,
            self.mailbox.stop if self.mailbox else None,
            self.chat.stop if self.chat else None,
            self.store.dispose if self.store else None,
        ):
            if stop is not None:
                with contextlib.suppress(Exception):  # stop the rest whatever happens
                    stop()
        self.sandbox, self.mailbox, self.chat, self.store = None, None, None, None
        if self.root is not None and not self.options.keep:
            shutil.rmtree(self.root, ignore_errors=True)

    # -- where things are ----------------------------------------------------------------

    @property
    def folder(self) -> Path:
        if self.root is None:
            raise RuntimeError("the demo is not started")
        return self.root

    @property
    def drop(self) -> Path:
        return self.folder / "drop"

    @property
    def config_path(self) -> Path:
        return self.folder / "config.toml"

    @property
    def db_path(self) -> Path:
        return self.folder / "orderdeck.db"

    @property
    def log_path(self) -> Path:
        return self.folder / "orderdeck.log"

    def config_text(self) -> str:
        """The demo's configuration: a real file, loaded like the user's would be."""
        assert self.sandbox is not None and self.mailbox is not None and self.chat is not None
        customer_events = list(("shipped", "out_for_delivery", "delivered", "available_for_pickup"))
        customer_events += ["failed_attempt", "exception", "delayed"]
        data: dict[str, Any] = {
            "shop": {"name": "Demo Goods Co.", "timezone": "UTC"},
            "store": {"url": f"sqlite:///{self.db_path}"},
            "sync": {
                "scan_interval": 5,
                "min_file_age": 0.5,
                "heartbeat_interval": 2,
                "drop_folders": [{"path": str(self.drop), "format": "auto", "source": SOURCE}],
            },
            "tracking": {
                # The sandbox stands in for every carrier the orders use (covers, below).
                "aggregators": ["sandbox"],
                "poll_interval": {"in_transit": 60, "info_received": 90, "pending": 90},
            },
            "carriers": {
                "sandbox": {
                    "base_url": self.sandbox.url,
                    "covers": list(demo_data.CARRIER_CODES),
                    "rate_limit": 50,
                }
            },
            "notify": {
                "backoff_base": 5,
                "backoff_max": 60,
                "send_timeout": 20,
                "lease_seconds": 60,
                "channels": {
                    "email": {
                        "url": f"mailto://127.0.0.1:{self.mailbox.port}"
                        "?from=orders@demo-goods.example&to={email}&mode=insecure",
                        "events": customer_events,
                        "audience": "customer",
                    },
                    "chat": {
                        "url": self.chat.url("customers/{phone}"),
                        "events": ["out_for_delivery", "failed_attempt", "available_for_pickup"],
                        "audience": "customer",
                        "kind": "chat",
                    },
                    "team": {
                        "url": self.chat.url("team"),
                        "events": ["attention"],
                        "audience": "team",
                        "kind": "chat",
                    },
                },
            },
            "logging": {"level": "INFO", "file": str(self.log_path)},
        }
        header = (
            "# orderdeck demo: written by `orderdeck demo` for this run only.\n"
            "# The sandbox carrier, the SMTP server and the chat webhook receiver run on\n"
            "# loopback inside the demo's process; the store is the file beside this one.\n\n"
        )
        return header + tomlout.dumps(data)

    def part_options(self) -> dict[str, Any]:
        """What :func:`sync.assembly.make_parts` needs to run on the sandbox's clock."""
        assert self.clock is not None
        return {
            "poller_options": {"clock": self.clock},
            "dispatcher_options": {"clock": self.clock.now},
        }

    def make_parts(self) -> list[Any]:
        from sync.assembly import make_parts

        assert self.store is not None and self.config is not None
        return make_parts(self.store, self.config.sync, self.config.notify, **self.part_options())

    # -- the orders arrive --------------------------------------------------------------

    def start_drip(self) -> None:
        """Drop the orders and their tracking files into the drop folder, a batch at a
        time over ``drip_seconds``, so the board visibly fills."""
        if self._drip is None:
            self._drip = threading.Thread(target=self._run_drip, name="demo-drip", daemon=True)
            self._drip.start()

    def _run_drip(self) -> None:
        orders = self.orders
        steps = max(1, min(DRIP_STEPS, len(orders)))
        pause = self.options.drip_seconds / steps
        for step in range(steps):
            if self._stop_drip.is_set():
                return
            batch = orders[step * len(orders) // steps : (step + 1) * len(orders) // steps]
            # Shopify names its exports orders_export_N.csv; the folder takes files in
            # name order, so each batch's orders land before their tracking numbers.
            demo_data.write_shopify_export(self.drop / f"orders_export_{step + 1:02d}.csv", batch)
            demo_data.write_tracking_file(self.drop / f"tracking_{step + 1:02d}.csv", batch)
            self.files_written += 2
            if step + 1 < steps and self._stop_drip.wait(pause):
                return

    @property
    def drip_done(self) -> bool:
        return self._drip is not None and not self._drip.is_alive()

    # -- what happened -------------------------------------------------------------------

    def summary(self) -> dict[str, Any]:
        """Counts from the store and the sinks, for the headless report and tests."""
        from store.models import (
            AttentionItem,
            IngestedFile,
            Notification,
            Order,
            Shipment,
            TrackingEvent,
        )

        assert self.store is not None
        orders, files, ships, events, notes, items = (
            m.__table__  # type: ignore[union-attr]
            for m in (Order, IngestedFile, Shipment, TrackingEvent, Notification, AttentionItem)
        )
        with self.store.read_connection() as conn:

            def count(table: sa.Table, *where: Any) -> int:
                query = sa.select(sa.func.count()).select_from(table).where(*where)
                return int(conn.execute(query).scalar_one())

            def grouped(column: sa.Column[Any], *where: Any) -> dict[str, int]:
                query = sa.select(column, sa.func.count()).where(*where).group_by(column)
                return {str(k): int(v) for k, v in conn.execute(query)}

            summary: dict[str, Any] = {
                "orders": count(orders),
                "files": grouped(files.c.outcome),
                "shipments": count(ships),
                "shipments_polled": count(ships, ships.c.last_polled_at.is_not(None)),
                "shipment_statuses": grouped(ships.c.status),
                "tracking_events": count(events),
                "notifications": grouped(notes.c.state),
                "attention": grouped(items.c.reason, items.c.resolved_at.is_(None)),
            }
        summary["notifications_sent"] = summary["notifications"].get("sent", 0)
        summary["attention_open"] = sum(summary["attention"].values())
        summary["emails_received"] = self.mailbox.count if self.mailbox else 0
        summary["chat_posts_received"] = self.chat.count if self.chat else 0
        summary["sandbox_requests"] = (
            self.sandbox.stats.as_dict()["requests"] if self.sandbox else 0
        )
        summary["orders_generated"] = len(self.orders)
        summary["simulated_time"] = self.clock.now().isoformat() if self.clock else None
        return summary


def _parcel(sandbox: SandboxServer, number: str) -> demo_data.Parcel:
    story = sandbox.story(number)
    to = story.destination
    return demo_data.Parcel(story.created, to.city, to.region, to.country)


def world_start(now: datetime) -> datetime:
    """The first START_HOUR:00 UTC at or after ``now`` on a Monday to Thursday."""
    day = now.astimezone(UTC).replace(hour=START_HOUR, minute=0, second=0, microsecond=0)
    if day < now:
        day += timedelta(days=1)
    while day.weekday() > 3:
        day += timedelta(days=1)
    return day


def describe(summary: Mapping[str, Any]) -> list[str]:
    """The summary as a few lines for people."""
    statuses = ", ".join(
        f"{n} {s.replace('_', ' ')}"
        for s, n in sorted(summary["shipment_statuses"].items(), key=lambda kv: -kv[1])
    )
    attention = ", ".join(
        f"{n} {r.replace('_', ' ')}"
        for r, n in sorted(summary["attention"].items(), key=lambda kv: -kv[1])
    )
    notes = summary["notifications"]
    others = ", ".join(f"{n} {s}" for s, n in sorted(notes.items()) if s != "sent")
    return [
        f"orders: {summary['orders']} of {summary['orders_generated']} ingested "
        f"({sum(summary['files'].values())} files)",
        f"shipments: {summary['shipments']}, {summary['shipments_polled']} polled "
        f"({summary['sandbox_requests']} sandbox requests, "
        f"{summary['tracking_events']} tracking events)" + (f": {statuses}" if statuses else ""),
        f"notifications sent: {summary['notifications_sent']}"
        + (f" ({others})" if others else "")
        + f"; received: {summary['emails_received']} e-mails, "
        f"{summary['chat_posts_received']} chat posts",
        f"attention: {summary['attention_open']} open" + (f": {attention}" if attention else ""),
    ]
