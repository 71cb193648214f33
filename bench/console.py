"""Benchmark: the console board at a million orders against an empty Textual app.

    python bench/console.py            # 1,000,000 orders (the store is built once, then cached)
    python bench/console.py --quick    # 100,000 orders, well under a minute once cached

Everything runs headless at 160x50. The figures, each measured in one process
that runs the empty app and the board one after the other (median of --runs):

- ``ratio``: board first paint / empty-app first paint (from ``run_test`` to the
  first frame with rows on it); the target is at most 1.3.
- ``peak_rss_mb``: the measuring process's peak RSS (target at most 150 MB).
- key to repaint for pagedown, end and a search keystroke, board vs the empty
  app (an App whose only widget is an Input, so a keystroke has somewhere to go).
- search: keystroke-to-results for typed needles, and the SQL alone (first
  window of results), p50 and p95 over a set of realistic needles.
- change-to-screen: another process commits a change every few hundred
  milliseconds; the time until the board has painted it (p50, p95).

The last line printed is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SIZE = (160, 50)
CACHE = ROOT / "bench" / ".cache"


def build_store(orders: int) -> str:
    """A cached SQLite store of ``orders`` generated orders; returns its URL."""
    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / f"console-{orders}.db"
    done = path.with_suffix(".ok")
    url = f"sqlite:///{path}"
    if done.exists() and path.exists():
        return url
    for stale in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        stale.unlink(missing_ok=True)
    from store.migrate import open_store
    from store.settings import StoreSettings
    from tests.console.data import generate

    started = time.perf_counter()
    store = open_store(StoreSettings(url=url))

    def progress(n: int) -> None:
        if n % 100_000 == 0 or n == orders:
            print(f"  generated {n:,} orders ({time.perf_counter() - started:.0f}s)", flush=True)

    generate(store, orders, story_orders=min(orders, 2000), batch=20_000, progress=progress)
    with store.write_connection() as conn:
        conn.exec_driver_sql("ANALYZE")
    store.dispose()
    done.write_text("ok")
    return url


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[index]


def ms(seconds: float) -> float:
    return round(seconds * 1000, 2)


# -- the measuring process ---------------------------------------------------------


async def _after_refresh(app: Any) -> None:
    loop = asyncio.get_running_loop()
    done = loop.create_future()
    app.call_after_refresh(lambda: done.done() or done.set_result(None))
    await done


async def _until(pilot: Any, condition: Any, timeout: float = 60.0) -> None:
    end = time.perf_counter() + timeout
    while not condition():
        if time.perf_counter() > end:
            raise TimeoutError(f"gave up waiting for {condition}")
        await asyncio.sleep(0.001)


def _empty_app() -> Any:
    """An empty Textual app: no widgets at all (the first-paint baseline)."""
    from textual.app import App

    return App()


def _repaint_app() -> Any:
    """The key baseline: an empty app plus one full-screen Static that shows a new
    page of text on every key, the least any console must do to answer a key."""
    from textual.app import App, ComposeResult
    from textual.widgets import Static

    pages = ["\n".join(f"{p:>3} {i:>4} " + "x" * 140 for i in range(SIZE[1])) for p in range(50)]

    class Repaint(App[None]):
        page = 0

        def compose(self) -> ComposeResult:
            yield Static(pages[0], id="page")

        def on_key(self, event: Any) -> None:
            self.page = (self.page + 1) % len(pages)
            self.query_one("#page", Static).update(pages[self.page])

    return Repaint()


def _board_app(url: str) -> Any:
    from console.app import OrderdeckApp
    from console.context import ConsoleContext
    from store.migrate import open_store
    from store.settings import StoreSettings
    from tests.console.data import NOW

    store = open_store(StoreSettings(url=url))
    return OrderdeckApp(ConsoleContext(store=store, clock=lambda: NOW, feed_interval=0.1))


class _MemorySource:
    """The board's first rows held in memory: the board without reading the store."""

    def __init__(self, rows: list[Any]) -> None:
        self.rows = rows

    def count(self) -> int:
        return len(self.rows)

    def first(self, limit: int) -> list[Any]:
        return self.rows[:limit]

    def last(self, limit: int) -> list[Any]:
        return self.rows[-limit:]

    def after(self, key: Any, limit: int) -> list[Any]:
        at = next((i for i, r in enumerate(self.rows) if r.key == key), len(self.rows))
        return self.rows[at + 1 : at + 1 + limit]

    def before(self, key: Any, limit: int) -> list[Any]:
        at = next((i for i, r in enumerate(self.rows) if r.key == key), 0)
        return self.rows[max(0, at - limit) : at]

    def at(self, offset: int, limit: int) -> list[Any]:
        return self.rows[offset : offset + limit]

    def rank(self, key: Any) -> int:
        return next((i for i, r in enumerate(self.rows) if r.key == key), 0)

    def find(self, row_id: Any) -> Any:
        return next((r for r in self.rows if r.id == row_id), None)

    def key(self, row: Any) -> Any:
        return row.key

    def row_id(self, row: Any) -> Any:
        return row.id


_MEMORY_ROWS: list[Any] = []


def _memory_board_app(url: str) -> Any:
    """The same console with the same first rows, served from memory: the board's
    first paint less its store read (what Textual's widgets and rendering cost)."""
    from console.app import OrderdeckApp
    from console.screens.board import BoardScreen
    from console.widgets.virtual_list import PAGE
    from store import board

    app = _board_app(url)
    if not _MEMORY_ROWS:
        store = app.context.store
        with store.read_connection() as conn:
            listing = board.listing(board.BoardQuery(), store.dialect, conn)
            _MEMORY_ROWS.extend(board.to_row(listing, r) for r in listing.first(conn, PAGE))

    class MemoryBoard(BoardScreen):
        def source_for(self, query: Any) -> Any:
            return _MemorySource(list(_MEMORY_ROWS))

    class MemoryApp(OrderdeckApp):
        def get_default_screen(self) -> Any:
            return MemoryBoard()

    return MemoryApp(app.context)


def _rows_painted(app: Any) -> bool:
    try:
        board = app.screen.query_one("#board")
    except Exception:
        return False
    height = board.size.height
    top = board.scroll_offset.y
    wanted = range(top, min(board.total, top + height))
    return bool(board.total) and all(i in board._rows for i in wanted)


class Probe:
    """Times paints: wraps ``App._display``, which Textual calls with every frame
    it composed (headless apps compose the frame, then skip the terminal write)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self._want: tuple[Any, asyncio.Future[float]] | None = None
        original = app._display

        def display(screen: Any, renderable: Any) -> None:
            original(screen, renderable)
            if renderable is not None and self._want is not None:
                condition, future = self._want
                if condition() and not future.done():
                    future.set_result(time.perf_counter())
                    self._want = None

        app._display = display

    def arm(self, condition: Any) -> asyncio.Future[float]:
        future: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self._want = (condition, future)
        return future


async def first_paint(kind: str, url: str) -> float:
    """From ``run_test`` to the first frame: any frame for the empty app, the first
    with every visible row of the board for the board (header, filter line,
    column titles and key bar are on that frame too)."""
    makers = {"empty": _empty_app, "board": _board_app, "memory": _memory_board_app}
    app = makers[kind](url) if kind != "empty" else _empty_app()
    # Each app starts from the same clean heap: garbage left by the run before (of
    # either app) is not collected inside the next one's measurement.
    gc.collect()
    probe = Probe(app)
    painted = probe.arm((lambda: True) if kind == "empty" else (lambda: _rows_painted(app)))
    started = time.perf_counter()
    async with app.run_test(size=SIZE):
        at = await asyncio.wait_for(painted, 60)
    if kind != "empty":
        app.context.store.dispose()
    return at - started


async def settle(pilot: Any, app: Any, board: Any) -> None:
    """Back to the whole board, focused, with no fetch or count still running."""
    found = app.screen.query("#search")
    if found and found.first().value:
        found.first().value = ""
    board.focus()
    await _until(
        pilot,
        lambda: (
            board.has_focus
            and board.known
            and not board._busy
            and not board._counting
            and _rows_painted(app)
        ),
    )


async def key_times(kind: str, url: str, keys: list[str], repeat: int) -> dict[str, list[float]]:
    """Seconds from a key press to the first frame that shows its effect."""
    from textual import events

    app = _repaint_app() if kind == "empty" else _board_app(url)
    probe = Probe(app)
    out: dict[str, list[float]] = {k: [] for k in keys}
    async with app.run_test(size=SIZE) as pilot:
        if kind != "empty":
            await _until(pilot, lambda: _rows_painted(app))
            board = app.screen.query_one("#board")
            await _until(pilot, lambda: board.known)
        for _ in range(repeat):
            for key in keys:
                if kind == "empty":
                    before = app.page
                    condition = lambda b=before: app.page != b  # noqa: E731
                else:
                    if key == "char":
                        found = app.screen.query("#search")
                        if not found or not found.first().has_focus:
                            await pilot.press("slash")
                        await pilot.press("ctrl+u")  # empty the search box
                        await _until(pilot, lambda: board.known and _rows_painted(app))
                        search = app.screen.query_one("#search")
                        condition = lambda s=search: s.value == "m"  # noqa: E731
                    elif key == "end":
                        await settle(pilot, app, board)
                        await pilot.press("home")
                        await _until(pilot, lambda: _rows_painted(app))
                        condition = lambda: (  # noqa: E731
                            board.cursor == board.total - 1 and _rows_painted(app)
                        )
                    else:
                        await settle(pilot, app, board)
                        was = board.cursor
                        condition = lambda w=was: board.cursor > w and _rows_painted(app)  # noqa: E731
                    await asyncio.sleep(0.05)  # let prefetches settle, as between keystrokes
                name, char = ("m", "m") if key == "char" else (key, None)
                painted = probe.arm(condition)
                started = time.perf_counter()
                app.post_message(events.Key(name, char))
                out[key].append(await asyncio.wait_for(painted, 60) - started)
    if kind != "empty":
        app.context.store.dispose()
    return out


NEEDLES_FIXED = ["müller", "jose", "example", "+44 7700", "gb", "rossi", "1z", "rm00"]


def needles(count: int, orders: int, seed: int = 11) -> list[str]:
    from tests.console.data import FIRST, LAST

    rng = random.Random(seed)
    out = list(NEEDLES_FIXED)
    while len(out) < count:
        oid = rng.randrange(1, orders + 1)
        pick = rng.randrange(5)
        if pick == 0:
            out.append(f"#{100_000 + oid}")
        elif pick == 1:
            out.append(f"{rng.choice(FIRST)} {rng.choice(LAST)}".lower()[:9])
        elif pick == 2:
            out.append(f"{oid}@example")
        elif pick == 3:
            out.append(f"7700 {oid % 1_000_000:06d}"[:9])
        else:
            out.append(f"{oid:07d}")
    return out


def search_sql(url: str, texts: list[str]) -> list[float]:
    """The SQL behind one search keystroke: the first window of results, board order."""
    from console.widgets.virtual_list import PAGE
    from store import board
    from store.migrate import open_store
    from store.settings import StoreSettings

    store = open_store(StoreSettings(url=url))
    times = []
    with store.read_connection() as conn:
        for text in texts:
            started = time.perf_counter()
            # As the board does it: the search plans itself on the connection, then
            # reads its first window.
            listing = board.listing(board.BoardQuery(search=text), store.dialect, conn)
            listing.first(conn, PAGE)
            times.append(time.perf_counter() - started)
    store.dispose()
    return times


async def search_ui(url: str, texts: list[str]) -> list[float]:
    """Typing a needle's last character to the frame that shows its results."""
    from textual import events

    app = _board_app(url)
    probe = Probe(app)
    times = []
    async with app.run_test(size=SIZE) as pilot:
        await _until(pilot, lambda: _rows_painted(app))
        board = app.screen.query_one("#board")
        await pilot.press("slash")
        search = app.screen.query_one("#search")
        for text in texts:
            search.value = text[:-1]
            await _until(pilot, lambda: not board._busy)
            await asyncio.sleep(0.05)
            generation = board._generation
            painted = probe.arm(
                lambda g=generation: (
                    board._generation > g
                    and ((board.known and board.total == 0) or _rows_painted(app))
                )
            )
            started = time.perf_counter()
            app.post_message(events.Key(text[-1], text[-1]))
            times.append(await asyncio.wait_for(painted, 60) - started)
    app.context.store.dispose()
    return times


WRITER = """
import sys, time
import sqlalchemy as sa
from store import changes
from store.migrate import open_store
from store.models import Order
from store.settings import StoreSettings
from store.summary import refresh_orders
from store.types import utcnow
t = Order.__table__
store = open_store(StoreSettings(url=sys.argv[1]))
for i in range(int(sys.argv[2])):
    time.sleep(float(sys.argv[3]))
    oid = 1 + (i * 7919) % int(sys.argv[4])
    with store.write_connection() as conn:
        conn.execute(sa.update(t).where(t.c.id == oid).values(customer_name=f"Bench {time.time():.6f}"))
        refresh_orders(conn, [oid], now=utcnow())
        changes.record(conn, "bench", [oid])
"""


async def change_latency(url: str, samples: int, orders: int) -> list[float]:
    app = _board_app(url)
    # The real clock: the writer's changes are "now", so they sort to the top.
    from store.types import utcnow

    app.context.clock = utcnow
    seen: dict[str, float] = {}
    async with app.run_test(size=SIZE) as pilot:
        await _until(pilot, lambda: _rows_painted(app))
        board = app.screen.query_one("#board")
        await _until(pilot, lambda: board.known)
        launched = time.time()
        writer = subprocess.Popen(
            [sys.executable, "-c", WRITER, url, str(samples), "0.4", str(orders)],
            cwd=str(ROOT),
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        try:
            end = time.perf_counter() + samples * 0.4 + 30
            while len(seen) < samples and time.perf_counter() < end:
                await asyncio.sleep(0.005)
                for row in board.visible_rows():
                    name = row.customer_name or ""
                    if (
                        name.startswith("Bench ")
                        and name not in seen
                        and float(name.split()[1]) >= launched
                    ):
                        await _after_refresh(app)
                        seen[name] = time.time() - float(name.split()[1])
                if writer.poll() is not None and len(seen) >= samples:
                    break
        finally:
            while writer.poll() is None:
                await asyncio.sleep(0.05)
    app.context.store.dispose()
    return list(seen.values())


async def session_rss(url: str, orders: int) -> float:
    """Peak RSS of a process that only runs the console: open, page, jump, search, live."""
    from textual import events

    app = _board_app(url)
    async with app.run_test(size=SIZE) as pilot:
        await _until(pilot, lambda: _rows_painted(app))
        board = app.screen.query_one("#board")
        await _until(pilot, lambda: board.known)
        for key in ["pagedown"] * 10 + ["end", "pageup", "pageup", "home"]:
            await pilot.press(key)
            await _until(pilot, lambda: _rows_painted(app))
        await pilot.press("slash")
        for text in needles(12, orders):
            app.screen.query_one("#search").value = text
            await _until(pilot, lambda: not board._busy)
            app.post_message(events.Key("end", None))
        await pilot.press("escape", "escape")
        await _until(pilot, lambda: board.known and _rows_painted(app))
        await pilot.press("2")
        await asyncio.sleep(0.5)
        await pilot.press("3")
        await asyncio.sleep(0.5)
        await pilot.press("1")
        await asyncio.sleep(1.5)
    app.context.store.dispose()
    return peak_rss_mb()


def peak_rss_mb() -> float:
    """This process's peak resident memory since it started.

    ``VmHWM`` belongs to the process image, so it starts afresh at exec; ``ru_maxrss``
    survives ``fork`` + ``exec`` and so reports the parent's size when the parent was
    larger (right after building the store, 210 MB instead of the console's 98)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def measure(url: str, orders: int, runs: int) -> dict[str, Any]:
    empty_paint, board_paint, memory_paint = [], [], []
    for _ in range(runs * 3):  # a few milliseconds each: more runs, a steadier median
        empty_paint.append(await first_paint("empty", url))
        board_paint.append(await first_paint("board", url))
        memory_paint.append(await first_paint("memory", url))
    keys = ["pagedown", "end", "char"]
    empty_keys = await key_times("empty", url, keys, runs * 2)
    board_keys = await key_times("board", url, keys, runs * 2)
    texts = needles(60, orders)
    sql = search_sql(url, texts)
    ui = await search_ui(url, texts[:20])
    changes = await change_latency(url, 12, orders)
    med = statistics.median
    result: dict[str, Any] = {
        "bench": "console",
        "ratio": round(med(board_paint) / med(empty_paint), 3),
        "orders": orders,
        "first_paint_ms": {
            "board": ms(med(board_paint)),
            "empty": ms(med(empty_paint)),
            # The same board with its rows from memory: the part that is Textual's.
            "board_rows_from_memory": ms(med(memory_paint)),
        },
    }
    for key, label in (("pagedown", "pagedown"), ("end", "end"), ("char", "search_key")):
        b, e = med(board_keys[key]), med(empty_keys[key])
        result[f"{label}_ms"] = {"board": ms(b), "empty": ms(e), "ratio": round(b / e, 3)}
    result["search_sql_ms"] = {"p50": ms(pct(sql, 50)), "p95": ms(pct(sql, 95)), "n": len(sql)}
    result["search_results_ms"] = {"p50": ms(pct(ui, 50)), "p95": ms(pct(ui, 95)), "n": len(ui)}
    result["change_to_screen_ms"] = {
        "p50": ms(pct(changes, 50)),
        "p95": ms(pct(changes, 95)),
        "n": len(changes),
    }
    return result


async def anatomy(url: str, runs: int) -> None:
    """Where a first paint's time goes: each message Textual dispatched before the
    frame, with its duration (nested ones indented), for the fastest of ``runs``
    paints of each app. Timing every dispatch costs a little: totals run high."""
    import textual.message_pump as pump

    log: list[tuple[float, float, int, str, str]] = []
    live = [False, 0.0, 0]
    dispatch = pump.MessagePump._dispatch_message

    async def timed(self: Any, message: Any) -> Any:
        if not live[0]:
            return await dispatch(self, message)
        live[2] += 1
        begun = time.perf_counter()
        try:
            return await dispatch(self, message)
        finally:
            live[2] -= 1
            log.append(
                (
                    begun - live[1],
                    time.perf_counter() - begun,
                    live[2],
                    type(self).__name__,
                    type(message).__name__,
                )
            )

    pump.MessagePump._dispatch_message = timed  # type: ignore[method-assign]
    for kind in ("empty", "board"):
        await first_paint(kind, url)
        best: tuple[float, list[Any]] | None = None
        for _ in range(runs):
            log.clear()
            app = _empty_app() if kind == "empty" else _board_app(url)
            gc.collect()
            probe = Probe(app)
            painted = probe.arm(
                (lambda: True) if kind == "empty" else (lambda a=app: _rows_painted(a))
            )
            painted.add_done_callback(lambda _f: live.__setitem__(0, False))
            live[0], live[1] = True, time.perf_counter()
            async with app.run_test(size=SIZE):
                at = await asyncio.wait_for(painted, 60) - live[1]
            if kind != "empty":
                app.context.store.dispose()
            if best is None or at < best[0]:
                best = (at, [entry for entry in log if entry[0] < at])
        assert best is not None
        print(f"{kind}: first frame at {best[0] * 1000:.2f} ms")
        for start, took, depth, node, name in sorted(best[1]):
            if took >= 0.0002:
                print(
                    f"  {start * 1000:7.2f} ms  +{took * 1000:5.2f} ms  {'  ' * depth}{node}.{name}"
                )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100,000 orders instead of 1,000,000")
    parser.add_argument("--orders", type=int, help="any other number of orders")
    parser.add_argument("--runs", type=int, default=7, help="repetitions per figure (median)")
    parser.add_argument("--measure", metavar="URL", help=argparse.SUPPRESS)
    parser.add_argument("--rss", metavar="URL", help=argparse.SUPPRESS)
    parser.add_argument(
        "--anatomy",
        action="store_true",
        help="print where each app's first paint spends its time, then exit",
    )
    args = parser.parse_args()
    orders = args.orders or (100_000 if args.quick else 1_000_000)
    if args.measure:
        result = asyncio.run(measure(args.measure, orders, args.runs))
        print(json.dumps(result))
        return
    if args.rss:
        print(json.dumps({"peak_rss_mb": round(asyncio.run(session_rss(args.rss, orders)), 1)}))
        return
    print(f"store: {orders:,} orders", flush=True)
    url = build_store(orders)
    if args.anatomy:
        asyncio.run(anatomy(url, args.runs))
        return
    # Measure in a fresh process, so its peak RSS is the console's, not the generator's.
    proc = subprocess.run(
        [
            sys.executable,
            __file__,
            "--measure",
            url,
            "--orders",
            str(orders),
            "--runs",
            str(args.runs),
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr[-4000:])
        raise SystemExit(proc.returncode)
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    rss = subprocess.run(
        [sys.executable, __file__, "--rss", url, "--orders", str(orders)],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    if rss.returncode != 0:
        sys.stderr.write(rss.stderr[-4000:])
        raise SystemExit(rss.returncode)
    result.update(json.loads(rss.stdout.strip().splitlines()[-1]))
    for key, value in result.items():
        if key != "bench":
            print(f"  {key}: {value}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
