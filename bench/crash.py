"""Benchmark: crash safety of ``orderdeck sync`` killed with SIGKILL at random moments.

The workload: N orders (default 20,000) as drop files — Shopify order exports split
into many files (some orders exported again in a later file, some files dropped
twice under another name), and tracking files that attach shipments to them, each
written once the shop "has" its orders (its export filed away). Files are written
as ``NAME.part`` and renamed in, a few a second, while the service runs.

Around it, on loopback: the sandbox carrier (in-process, on a fast clock, with
errors, hangs, dropped connections and malformed bodies switched on), an SMTP server
(aiosmtpd) receiving the customers' e-mails and a chat webhook sink receiving the
team's attention messages. Both sinks count deliveries per notification id (the
``X-Orderdeck-Notification`` header orderdeck puts on every message).

The real service, ``python -m orderdeck sync``, runs as a child process against a
SQLite store (or PostgreSQL with ``--pg``) and is killed with SIGKILL ``--kills``
times at random moments, restarted at once each time. After the last kill it runs
until all work is done: every file filed away, every shipment polled at least once.
Then it is stopped (SIGTERM) and run once more without the poller until the outbox
holds nothing pending or sending, so that every notification reaches its end.

The last line printed is one JSON object: ``ratio`` = orders present / orders
expected (must be exactly 1.0), and every count of lost or doubled work (all must
be 0; a notification delivered twice is allowed only when orderdeck marked its
outcome ``unknown``: a send interrupted mid-flight, see notifiers/outbox.py).

    python bench/crash.py                # 20,000 orders, 20 kills
    python bench/crash.py --quick        # 500 orders, 5 kills, under a minute
    python bench/crash.py --orders N --kills K --seed S [--pg URL]
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import json
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.ingest import COL, FIRST, HEADER, LAST, PRODUCTS  # noqa: E402
from orderdeck.demo.sinks import ChatSink, Mailbox, NotificationIds  # noqa: E402

_COPY = re.compile(r" \(\d+\)(?=\.[^.]*$|$)")


# -- the workload -------------------------------------------------------------------


@dataclass
class DropFile:
    name: str
    text: str
    #: Names of orders files that must be filed away before this one is written
    #: (a tracking file names orders the store must already hold).
    after: tuple[str, ...] = ()


@dataclass
class Workload:
    files: list[DropFile]
    #: Order number -> e-mail address.
    orders: dict[str, str]
    #: (order number, tracking number) for every shipment the files attach.
    shipments: set[tuple[str, str]]


def _order_rows(rnd: random.Random, n: int, email: str, created: datetime) -> list[list[str]]:
    """The Shopify export rows (one per line item) of order ``#n``."""
    name = f"{rnd.choice(FIRST)} {rnd.choice(LAST)}"
    lines = [(*rnd.choice(PRODUCTS), rnd.randint(1, 3), rnd.randrange(100, 10000) / 100)]
    lines += [
        (*rnd.choice(PRODUCTS), rnd.randint(1, 3), rnd.randrange(100, 10000) / 100)
        for _ in range(rnd.choice((0, 0, 1, 1, 2, 3)))
    ]
    total = sum(qty * price for _sku, _title, qty, price in lines)
    stamp = created.strftime("%Y-%m-%d %H:%M:%S +0000")
    rows = []
    for i, (sku, title, qty, price) in enumerate(lines):
        row = [""] * len(HEADER)
        for key, value in (
            ("Name", f"#{n}"),
            ("Email", email),
            ("Lineitem quantity", str(qty)),
            ("Lineitem name", title),
            ("Lineitem price", f"{price:.2f}"),
            ("Lineitem sku", sku),
            ("Lineitem requires shipping", "true"),
            ("Lineitem fulfillment status", "pending"),
        ):
            row[COL[key]] = value
        if i == 0:
            for key, value in (
                ("Financial Status", "paid"),
                ("Fulfillment Status", "unfulfilled"),
                ("Currency", "EUR"),
                ("Total", f"{total + 4.95:.2f}"),
                ("Created at", stamp),
                ("Shipping Name", name),
                ("Shipping Address1", f"{n % 200} High Street"),
                ("Shipping City", "London"),
                ("Shipping Zip", "AB1 2CD"),
                ("Shipping Country", "GB"),
                ("Id", str(7_000_000 + n)),
            ):
                row[COL[key]] = value
        rows.append(row)
    return rows


def _csv(header: list[str], rows: list[list[str]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


def make_workload(orders: int, seed: int = 1, per_file: int = 100) -> Workload:
    """``orders`` orders as Shopify export files of about ``per_file`` orders each, and
    a tracking file per export; 3% of orders are exported again in a later file, and
    one file in 40 is dropped a second time under another name. Orders are placed
    in the last day, but one in 20 a few days earlier (an "unfulfilled" backlog).
    Names start with a sequence number, so a folder scan takes them in drop order."""
    rnd = random.Random(f"crash:{seed}")
    now = datetime.now(UTC).replace(microsecond=0)
    numbers = list(range(10_001, 10_001 + orders))
    emails = {n: f"customer{n}@example.com" for n in numbers}

    def placed() -> datetime:
        # Most orders from the last day; one in 20 a backlog, old enough to be
        # "unfulfilled" (attention, a team message) until its tracking number comes.
        days = rnd.uniform(4, 9) if rnd.random() < 0.05 else rnd.uniform(0, 1)
        return now - timedelta(days=days)

    rows = {n: _order_rows(rnd, n, emails[n], placed()) for n in numbers}
    files: list[DropFile] = []
    shipments: set[tuple[str, str]] = set()
    chunks: list[list[int]] = []
    at = 0
    while at < orders:
        size = max(1, min(orders - at, rnd.randint(per_file // 2, per_file * 3 // 2)))
        chunks.append(numbers[at : at + size])
        at += size
    for index, chunk in enumerate(chunks):
        earlier = numbers[: chunk[0] - numbers[0]]
        again = rnd.sample(earlier, min(len(earlier), max(1, len(chunk) * 3 // 100)))
        body = [row for n in chunk + again for row in rows[n]]
        name = f"{index + 1:05d}-orders_export.csv"
        text = _csv(HEADER, body)
        files.append(DropFile(name, text))
        if index % 40 == 39:
            files.append(DropFile(f"{index + 1:05d}-orders_export_resent.csv", text))
        tracking = []
        for n in chunk:
            for parcel in range(rnd.choices((0, 1, 2), weights=(2, 90, 8))[0]):
                number = f"SB{seed % 100:02d}{n:07d}{parcel}"
                tracking.append([f"#{n}", number, "sandbox"])
                shipments.add((f"#{n}", number))
        if tracking:
            files.append(
                DropFile(
                    f"{index + 1:05d}-tracking.csv",
                    _csv(["Order Number", "Tracking Number", "Carrier"], tracking),
                    after=(name,),
                )
            )
    return Workload(files, {f"#{n}": emails[n] for n in numbers}, shipments)


# -- the drop folder ----------------------------------------------------------------


def filed(folder: Path) -> dict[str, Counter[str]]:
    """Original file name -> how many times it sits in processed/ and in failed/."""
    found: dict[str, Counter[str]] = {}
    for where, paths in (
        ("processed", (folder / "processed").glob("*/*")),
        ("failed", (folder / "failed").glob("*")),
    ):
        for path in paths:
            if path.name.endswith(".error.txt") or path.name.startswith("."):
                continue
            found.setdefault(_COPY.sub("", path.name), Counter())[where] += 1
    return found


def unfiled(folder: Path) -> list[str]:
    """Files still waiting in the folder or in processing/."""
    names = [p.name for p in folder.glob("*") if p.is_file() and not p.name.startswith(".")]
    names += [p.name for p in (folder / "processing").glob("*") if p.is_file()]
    return names


class Dropper(threading.Thread):
    """Writes the workload's files into the folder, ``rate`` a second, each as
    ``NAME.part`` renamed in; a file waits until the files it needs are filed away."""

    def __init__(self, folder: Path, files: list[DropFile], rate: float) -> None:
        super().__init__(daemon=True, name="dropper")
        self.folder, self.files, self.rate = folder, files, rate
        self.written = 0
        self.stop = threading.Event()
        self.done = threading.Event()

    def run(self) -> None:
        waiting = list(self.files)
        while waiting and not self.stop.is_set():
            done = {name for name, where in filed(self.folder).items() if where}
            ready = [f for f in waiting if all(a in done for a in f.after)]
            # Keep the file order, but let a later export overtake a waiting tracking file.
            for item in ready[: max(1, int(self.rate))]:
                part = self.folder / f"{item.name}.part"
                part.write_text(item.text, encoding="utf-8")
                os.replace(part, self.folder / item.name)
                waiting.remove(item)
                self.written += 1
            self.stop.wait(1.0 if ready else 0.2)
        self.done.set()


# -- the sinks ----------------------------------------------------------------------


# The demo's sinks count what arrives by notification id (orderdeck.demo.sinks).


# -- the service ----------------------------------------------------------------------


def write_config(
    path: Path,
    *,
    url: str,
    folder: Path,
    sandbox_url: str,
    smtp_port: int,
    hook_port: int,
    send_timeout: float = 10.0,
) -> None:
    poll_every = 0.25  # minutes, whatever the status: stories move on the fast clock
    statuses: tuple[str, ...] = ("pending", "info_received", "in_transit", "out_for_delivery")
    statuses += ("available_for_pickup", "failed_attempt", "exception")
    path.write_text(
        f"""\
[shop]
name = "Crash Bench Shop"
timezone = "UTC"

[store]
url = "{url}"

[sync]
heartbeat_interval = 1
scan_interval = 1
min_file_age = 0.2

[[sync.drop_folders]]
path = "{folder}"
source = "shop"

[carriers.sandbox]
base_url = "{sandbox_url}"
rate_limit = 200
batch_size = 10

[tracking]
concurrency = 8
timeout = 1.5
lease_seconds = 10
backoff_base = 0.5
backoff_max = 4
circuit_cooldown = 2

[tracking.poll_interval]
{chr(10).join(f"{s} = {poll_every}" for s in statuses)}

[notify]
backoff_base = 0.5
backoff_max = 3
lease_seconds = {send_timeout + 10:g}
send_timeout = {send_timeout:g}
max_attempts = 8
concurrency = 32

[notify.channels.customers]
url = "mailto://127.0.0.1:{smtp_port}?from=shop@example.com&to={{email}}&mode=insecure"
kind = "email"
audience = "customer"
events = ["shipped", "delivered", "exception"]

[notify.channels.team]
url = "json://127.0.0.1:{hook_port}/hook"
kind = "chat"
audience = "team"
events = ["attention"]
""",
        encoding="utf-8",
    )


class Service:
    """``orderdeck sync`` as a child process, its output appended to a log file."""

    def __init__(self, config: Path, env: dict[str, str], log: Path) -> None:
        self.config, self.env, self.log = config, env, log
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self, *only: str) -> None:
        args = [sys.executable, "-m", "orderdeck", "--config", str(self.config), "sync"]
        args += [a for part in only for a in ("--only", part)]
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(
                [*args, "--log-level", "INFO"], env=self.env, stdout=out, stderr=out, cwd=ROOT
            )
        self.starts += 1

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def kill_if_alive(self) -> None:
        if self.alive():
            self.kill()

    def stop(self, timeout: float = 60) -> int:
        """SIGTERM (drain); the exit code."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return -9

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


def service_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORDERDECK_")}
    env.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_DATA_HOME=str(home / ".local/share"),
        XDG_STATE_HOME=str(home / ".local/state"),
        XDG_CACHE_HOME=str(home / ".cache"),
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    )
    return env


# -- looking at the store ---------------------------------------------------------------


class Inspector:
    """Read-only questions to the store, between and after the runs."""

    def __init__(self, url: str) -> None:
        import sqlalchemy as sa

        from store.engine import Store
        from store.settings import StoreSettings

        self.sa = sa
        self.store = Store(StoreSettings(url=url))

    def rows(self, sql: str) -> list[Any]:
        with self.store.read_connection() as conn:
            return list(conn.execute(self.sa.text(sql)).all())

    def value(self, sql: str) -> int:
        return int(self.rows(sql)[0][0] or 0)

    def progress(self) -> dict[str, int]:
        states = dict(self.rows("SELECT state, COUNT(*) FROM notifications GROUP BY state"))
        return {
            "orders": self.value("SELECT COUNT(*) FROM orders"),
            "shipments": self.value("SELECT COUNT(*) FROM shipments"),
            "polled": self.value("SELECT COUNT(*) FROM shipments WHERE last_polled_at IS NOT NULL"),
            "notifications": sum(states.values()),
            "outbox_open": int(states.get("pending", 0)) + int(states.get("sending", 0)),
            "sent": int(states.get("sent", 0)),
        }

    def close(self) -> None:
        self.store.dispose()


def log_figures(log: Path) -> dict[str, int]:
    """From the service's JSON log: files resumed after a kill, filing outcomes."""
    found: Counter[str] = Counter()
    outcome = re.compile(r"^\S+: (imported|partial|duplicate|rejected|refused)\b")
    for raw in log.read_text(encoding="utf-8", errors="replace").splitlines():
        if not raw.startswith("{"):
            continue
        with contextlib.suppress(ValueError):
            message = str(json.loads(raw).get("message", ""))
            if message.startswith("resuming "):
                found["files_resumed"] += 1
            elif match := outcome.match(message):
                found[f"files_{match.group(1)}"] += 1
    return dict(found)


def check(
    work: Workload, folder: Path, db: Inspector, deliveries: list[NotificationIds]
) -> dict[str, Any]:
    """Every figure of loss and doubling."""
    present = Counter(r[0] for r in db.rows("SELECT number FROM orders WHERE source = 'shop'"))
    expected = set(work.orders)
    orders_lost = sorted(expected - set(present))
    orders_doubled = sorted(n for n, c in present.items() if c > 1)
    stored = Counter(
        (r[0], r[1])
        for r in db.rows(
            "SELECT o.number, s.tracking_number FROM shipments s JOIN orders o ON o.id = s.order_id"
        )
    )
    shipments_lost = sorted(work.shipments - set(stored))
    shipments_doubled = sorted(k for k, c in stored.items() if c > 1)

    names = {f.name for f in work.files}
    places = filed(folder)
    files_misfiled = sorted(
        n for n in names if sum(places.get(n, Counter()).values()) != 1
    ) + sorted(set(places) - names)
    files_failed = sorted(n for n in names if places.get(n, Counter())["failed"])

    events_doubled = db.value(
        "SELECT COUNT(*) FROM (SELECT shipment_id FROM tracking_events "
        "GROUP BY shipment_id, occurred_at, status, description, location "
        "HAVING COUNT(*) > 1) AS d"
    )

    notes = {
        r[0]: (r[1], r[2], r[3])
        for r in db.rows("SELECT id, channel, state, event FROM notifications")
    }
    interrupted = {
        r[0]
        for r in db.rows(
            "SELECT notification_id FROM notification_attempts WHERE outcome = 'unknown'"
        )
    }
    received: Counter[int] = Counter()
    for ids in deliveries:
        received.update(ids.counts)
    sent_not_received = sorted(
        i for i, (_c, state, _e) in notes.items() if state == "sent" and not received[i]
    )
    # Every shipment a file attached is announced to its customer once ("shipped").
    shipped = {
        r[0]
        for r in db.rows(
            "SELECT s.tracking_number FROM notifications n JOIN shipments s ON s.id = n.shipment_id "
            "WHERE n.event = 'shipped' AND n.channel = 'customers'"
        )
    }
    never_queued = sorted(t for _n, t in work.shipments if t not in shipped)
    twice = {i: c for i, c in received.items() if c > 1}
    twice_unknown = sorted(
        i for i in twice if i in notes and (notes[i][1] == "unknown" or i in interrupted)
    )
    twice_bad = sorted(i for i in twice if i not in twice_unknown)
    states = Counter(state for _c, state, _e in notes.values())
    return {
        "orders_expected": len(expected),
        "orders_present": len(expected & set(present)),
        "orders_lost": len(orders_lost),
        "orders_duplicated": len(orders_doubled),
        "shipments_expected": len(work.shipments),
        "shipments_lost": len(shipments_lost),
        "shipments_duplicated": len(shipments_doubled),
        "files": len(names),
        "files_not_filed_once": len(files_misfiled),
        "files_failed": len(files_failed),
        "tracking_events": db.value("SELECT COUNT(*) FROM tracking_events"),
        "tracking_events_duplicated": events_doubled,
        "notifications": len(notes),
        "notifications_by_state": dict(sorted(states.items())),
        "notifications_lost": len(sent_not_received) + len(never_queued),
        "notifications_sent_not_received": len(sent_not_received),
        "notifications_never_queued": len(never_queued),
        "notifications_sent_twice": len(twice_bad),
        "notifications_sent_twice_unknown": len(twice_unknown),
        "notifications_sent_twice_unknown_by_channel": dict(
            Counter(notes[i][0] for i in twice_unknown)
        ),
        "notifications_interrupted": len(interrupted),
        "notifications_unknown": states.get("unknown", 0),
        "deliveries": sum(received.values()),
        "deliveries_without_id": sum(ids.without_id for ids in deliveries),
        "examples": {
            "orders_lost": orders_lost[:5],
            "orders_duplicated": orders_doubled[:5],
            "shipments_lost": [list(s) for s in shipments_lost[:5]],
            "files_not_filed_once": files_misfiled[:5],
            "notifications_sent_twice": twice_bad[:5],
            "notifications_never_queued": never_queued[:5],
            "notifications_sent_not_received": sent_not_received[:5],
        },
    }


# -- the run ----------------------------------------------------------------------------


@dataclass
class Options:
    orders: int = 20_000
    kills: int = 20
    seed: int = 1
    #: Seconds between a start's first heartbeat and its kill: uniform in this range
    #: (one kill in five comes instead within 1.5 s of the start, while it starts up).
    kill_after: tuple[float, float] = (0.5, 6.0)
    #: Files written per second.
    drop_rate: float = 4.0
    per_file: int = 100
    #: Give up on "all work done" after this many seconds past the last kill.
    settle_seconds: float = 1800.0
    pg: str | None = None
    #: [notify] send_timeout; the lease is 10 s longer (a row left ``sending`` by a
    #: killed worker is taken back that long after it was claimed).
    send_timeout: float = 10.0


def _wait(what: Callable[[], bool], seconds: float, step: float = 0.5) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if what():
            return True
        time.sleep(step)
    return what()


@contextlib.contextmanager
def _pg_database(admin_url: str) -> Iterator[str]:
    import psycopg
    from sqlalchemy.engine import make_url

    plain = admin_url.replace("postgresql+psycopg://", "postgresql://", 1)
    name = f"orderdeck_crash_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(plain, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def run(options: Options, workdir: Path, say: Callable[[str], None] = print) -> dict[str, Any]:
    """The whole benchmark in ``workdir``; returns the figures."""
    from store.migrate import open_store
    from store.settings import StoreSettings
    from sync.sandbox import SandboxClock, SandboxServer

    started = time.monotonic()
    rnd = random.Random(f"kills:{options.seed}")
    work = make_workload(options.orders, options.seed, options.per_file)
    say(
        f"workload: {len(work.orders):,} orders, {len(work.shipments):,} shipments, "
        f"{len(work.files):,} files"
    )
    folder = workdir / "drop"
    folder.mkdir(parents=True)
    with contextlib.ExitStack() as stack:
        url = (
            stack.enter_context(_pg_database(options.pg))
            if options.pg
            else f"sqlite:///{workdir / 'orderdeck.db'}"
        )
        open_store(StoreSettings(url=url)).dispose()
        # An hour of parcel life a second; all the sandbox's faults at once.
        sandbox = SandboxServer(
            seed=options.seed,
            clock=SandboxClock(datetime.now(UTC), speed=3600.0),
            spread_hours=12,
        ).start()
        stack.callback(sandbox.stop)
        sandbox.faults.update(
            error_rate=0.05, timeout_rate=0.02, hang_seconds=3, drop_rate=0.02, malformed_rate=0.03
        )
        mailbox, chat = Mailbox().start(), ChatSink().start()
        stack.callback(mailbox.stop)
        stack.callback(chat.stop)
        smtp_port, hook_port = mailbox.port, chat.port
        config = workdir / "config.toml"
        write_config(
            config,
            url=url,
            folder=folder,
            sandbox_url=sandbox.url,
            smtp_port=smtp_port,
            hook_port=hook_port,
            send_timeout=options.send_timeout,
        )
        service = Service(config, service_env(workdir / "home"), workdir / "service.log")
        db = Inspector(url)
        stack.callback(db.close)
        dropper = Dropper(folder, work.files, options.drop_rate)
        stack.callback(dropper.stop.set)

        def line(label: str) -> None:
            p = db.progress()
            say(
                f"{time.monotonic() - started:6.1f}s {label}: files {dropper.written}/"
                f"{len(work.files)} written, {len(unfiled(folder))} unfiled; orders "
                f"{p['orders']:,}; shipments {p['polled']:,}/{p['shipments']:,} polled; "
                f"notifications {p['notifications']:,} ({p['outbox_open']:,} open)"
            )

        def beating(pid: int) -> bool:
            sql = f"SELECT COUNT(*) FROM worker_heartbeats WHERE pid = {pid}"
            return not service.alive() or db.value(sql) > 0

        service.start()
        stack.callback(service.kill_if_alive)
        dropper.start()
        for kill in range(1, options.kills + 1):
            if rnd.random() < 0.2:
                time.sleep(rnd.uniform(0.0, 1.5))  # while it starts up
            else:
                # While it works: a random moment after its first heartbeat.
                assert service.proc is not None
                _wait(partial(beating, service.proc.pid), 60, 0.1)
                time.sleep(rnd.uniform(*options.kill_after))
            if not service.alive():
                raise SystemExit(f"orderdeck sync exited by itself; see {service.log}")
            service.kill()
            line(f"kill {kill}/{options.kills}")
            service.start()

        def all_done() -> bool:
            if not dropper.done.is_set() or unfiled(folder):
                return False
            p = db.progress()
            return p["shipments"] >= len(work.shipments) and p["polled"] == p["shipments"]

        settled = _wait(all_done, options.settle_seconds)
        line("all files filed, every shipment polled" if settled else "gave up waiting")
        code = service.stop()
        if code != 0:
            say(f"orderdeck sync exited {code} on SIGTERM; see {service.log}")
        # The outbox to its end, without new polls making new notifications.
        service.start("ingest", "dispatcher")
        drained = _wait(lambda: db.progress()["outbox_open"] == 0, options.settle_seconds)
        service.stop()
        line("outbox drained" if drained else "outbox not drained")
        figures = check(work, folder, db, [mailbox.ids, chat.ids])
        figures.update(log_figures(service.log))
        p = db.progress()
        figures.update(
            {
                "bench": "crash",
                "ratio": figures["orders_present"] / figures["orders_expected"],
                "kills": options.kills,
                "starts": service.starts,
                "seed": options.seed,
                "store": "postgresql" if options.pg else "sqlite",
                "settled": settled,
                "outbox_drained": drained,
                "shipments_polled": p["polled"],
                "shipments_final": db.value(
                    "SELECT COUNT(*) FROM shipments WHERE status IN ('delivered', 'expired')"
                ),
                "sandbox": sandbox.stats.as_dict()["answers"],
                "seconds": round(time.monotonic() - started, 1),
            }
        )
    return figures


def clean(figures: dict[str, Any]) -> bool:
    """Nothing lost, nothing doubled."""
    return figures["ratio"] == 1.0 and not any(
        figures[k]
        for k in (
            "orders_lost",
            "orders_duplicated",
            "shipments_lost",
            "shipments_duplicated",
            "files_not_filed_once",
            "tracking_events_duplicated",
            "notifications_lost",
            "notifications_sent_twice",
        )
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="500 orders, 5 kills")
    parser.add_argument("--orders", type=int, help="orders to drop (default 20,000)")
    parser.add_argument("--kills", type=int, help="SIGKILLs (default 20)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--pg", metavar="URL", help="run against PostgreSQL (a throwaway database)")
    parser.add_argument("--keep", action="store_true", help="keep the work folder and print it")
    args = parser.parse_args(argv)
    options = Options(seed=args.seed, pg=args.pg)
    if args.quick:
        options.orders, options.kills, options.kill_after = 500, 5, (0.5, 3.0)
        options.per_file, options.drop_rate = 25, 6.0
    options.orders = args.orders or options.orders
    options.kills = args.kills if args.kills is not None else options.kills
    workdir = Path(tempfile.mkdtemp(prefix="orderdeck-crash-"))
    try:
        figures = run(options, workdir, say=lambda text: print(text, flush=True))
    finally:
        if args.keep:
            print(f"work folder: {workdir}", flush=True)
        else:
            import shutil

            shutil.rmtree(workdir, ignore_errors=True)
    print(json.dumps(figures))
    return 0 if clean(figures) else 1


if __name__ == "__main__":
    sys.exit(main())
