"""Notifications through the whole outbox vs a plain loop of Apprise calls.

orderdeck: N shipment changes -> ``notifiers.rules.apply`` (render + insert outbox
rows) -> ``Dispatcher.run_once()`` (claim with a lease, send with Apprise's async
API under bounded concurrency, record every attempt). The baseline: a plain loop
of ``apprise.Apprise(url).notify()`` to the same sink, in the same run.

The sink is a loopback JSON server in its own process that answers after
``--latency`` seconds, standing in for a provider's response time (real e-mail,
SMS and chat APIs answer in 100-500 ms; the default 20 ms is kind to the
baseline). It counts every delivery by our notification id: the run fails if the
count is not exactly N, or if any id arrived twice.

    python bench/notify.py            # 10,000 notifications
    python bench/notify.py --quick    # 1,000, under a minute

The last line is one JSON object; ``ratio`` = orderdeck sends/s / plain loop sends/s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sqlalchemy as sa

from notifiers import rules
from notifiers.changes import ShipmentChange
from notifiers.dispatch import Dispatcher
from notifiers.settings import Channel, NotifySettings
from store.migrate import open_store
from store.models import Notification, Order, Shipment
from store.settings import StoreSettings


def _sink(port_out: Any, latency: float) -> None:
    ids: Counter[str] = Counter()
    baseline = [0]
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if latency:
                time.sleep(latency)
            with lock:
                if self.path.startswith("/baseline"):
                    baseline[0] += 1
                else:
                    ids[self.headers.get("X-Orderdeck-Notification", "?")] += 1
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def do_GET(self) -> None:
            with lock:
                body = json.dumps(
                    {
                        "delivered": sum(ids.values()),
                        "unique": len(ids),
                        "duplicates": sum(c - 1 for c in ids.values() if c > 1),
                        "baseline": baseline[0],
                    }
                ).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server.request_queue_size = 256
    port_out.put(server.server_port)
    server.serve_forever()


def _stats(port: int) -> dict[str, int]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/stats", timeout=10) as r:
        return json.loads(r.read())  # type: ignore[no-any-return]


def _seed(store: Any, count: int) -> list[tuple[int, int]]:
    now = datetime.now(UTC)
    orders = Order.__table__  # type: ignore[attr-defined]
    shipments = Shipment.__table__  # type: ignore[attr-defined]
    with store.write_connection() as conn:
        conn.execute(
            sa.insert(orders),
            [
                {
                    "source": "bench",
                    "external_id": str(i),
                    "number": f"#{100000 + i}",
                    "customer_name": f"Customer {i}",
                    "email": f"customer{i}@example.com",
                    "email_normalized": f"customer{i}@example.com",
                    "imported_at": now,
                    "changed_at": now,
                }
                for i in range(count)
            ],
        )
        ids = [r[0] for r in conn.execute(sa.select(orders.c.id).order_by(orders.c.id))]
        conn.execute(
            sa.insert(shipments),
            [
                {
                    "order_id": oid,
                    "carrier": "ups",
                    "tracking_number": f"1ZBENCH{oid:08d}",
                    "status": "in_transit",
                    "created_at": now,
                    "updated_at": now,
                }
                for oid in ids
            ],
        )
        return [
            (r.order_id, r.id)
            for r in conn.execute(sa.select(shipments.c.order_id, shipments.c.id))
        ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="1,000 notifications")
    parser.add_argument("--count", type=int, help="notifications through the outbox")
    parser.add_argument(
        "--baseline-count", type=int, help="plain-loop sends measured (default: count/10)"
    )
    parser.add_argument("--latency", type=float, default=0.02, help="sink response time, s")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--db", help="store URL (default: a fresh SQLite file)")
    args = parser.parse_args()
    count = args.count or (1000 if args.quick else 10_000)
    baseline_count = args.baseline_count or max(100, count // 10)

    queue: Any = multiprocessing.get_context("spawn").Queue()
    sink = multiprocessing.get_context("spawn").Process(
        target=_sink, args=(queue, args.latency), daemon=True
    )
    sink.start()
    port = queue.get(timeout=30)

    with tempfile.TemporaryDirectory() as tmp:
        url = args.db or f"sqlite:///{tmp}/bench.db"
        store = open_store(StoreSettings(url=url))
        chat = Channel(
            "chat",
            f"json://127.0.0.1:{port}/hook?:to={{email}}",
            ("shipped",),
            "customer",
            "chat",
        )
        settings = NotifySettings(
            channels={"chat": chat},
            shop_name="Bench Shop",
            concurrency=args.concurrency,
            send_timeout_seconds=30,
            lease_seconds=120,
        )
        pairs = _seed(store, count)

        started = time.perf_counter()
        now = datetime.now(UTC)
        for start in range(0, len(pairs), 1000):
            with store.write_connection() as conn:
                rules.apply(
                    conn,
                    settings,
                    [
                        ShipmentChange(o, s, now, None, "in_transit")
                        for o, s in pairs[start : start + 1000]
                    ],
                    now=now,
                )
        applied = time.perf_counter()
        dispatcher = Dispatcher(store, settings)
        counters = asyncio.run(dispatcher.run_once())
        dispatcher.close()
        finished = time.perf_counter()
        with store.read_connection() as conn:
            states = dict(
                conn.execute(
                    sa.select(Notification.state, sa.func.count()).group_by(Notification.state)
                ).all()
            )
        store.dispose()

    import apprise

    base_url = f"json://127.0.0.1:{port}/baseline"
    body = "Order #100000 shipped with UPS"
    t0 = time.perf_counter()
    for _ in range(baseline_count):
        apprise.Apprise(base_url).notify(body=body, title="")
    plain_s = time.perf_counter() - t0

    stats = _stats(port)
    sink.terminate()
    ours_s = finished - started
    result = {
        "bench": "notify",
        "ratio": round((count / ours_s) / (baseline_count / plain_s), 2),
        "count": count,
        "orderdeck_per_s": round(count / ours_s, 1),
        "plain_per_s": round(baseline_count / plain_s, 1),
        "apply_s": round(applied - started, 2),
        "dispatch_s": round(finished - applied, 2),
        "plain_s": round(plain_s, 2),
        "baseline_count": baseline_count,
        "latency_ms": round(args.latency * 1000, 1),
        "concurrency": args.concurrency,
        "delivered": stats["delivered"],
        "unique": stats["unique"],
        "duplicates": stats["duplicates"],
        "baseline_delivered": stats["baseline"],
        "states": states,
        "counters": counters.as_dict(),
        "db": url.split(":", 1)[0],
    }
    print(
        f"orderdeck: {count} notifications in {ours_s:.1f}s ({result['orderdeck_per_s']}/s: "
        f"rules+render {result['apply_s']}s, dispatch {result['dispatch_s']}s); plain Apprise "
        f"loop: {baseline_count} in {plain_s:.1f}s ({result['plain_per_s']}/s); sink latency "
        f"{result['latency_ms']} ms"
    )
    ok = (
        stats["delivered"] == count
        and stats["unique"] == count
        and stats["duplicates"] == 0
        and states == {"sent": count}
        and stats["baseline"] == baseline_count
    )
    if not ok:
        print(
            "FAILED: the sink did not count exactly one delivery per notification", file=sys.stderr
        )
    print(json.dumps(result))
    if not ok:
        sys.exit(1)


if __name__ == "__main__":
    main()
