"""``orderdeck demo``: the whole product on made-up data, then everything cleaned up."""

from __future__ import annotations

import asyncio
import signal
import sys
import time
from pathlib import Path
from typing import Any

import click

from orderdeck import __version__, logs
from orderdeck.cli.common import print_json
from orderdeck.demo.session import DEFAULT_ORDERS, DEFAULT_SPEED, DemoOptions, DemoSession

#: Seconds between the progress lines of ``--headless``.
PROGRESS_SECONDS = 5.0


@click.command("demo")
@click.option(
    "--orders",
    type=click.IntRange(1, 20_000),
    default=DEFAULT_ORDERS,
    show_default=True,
    help="How many made-up orders arrive in the demo's drop folder.",
)
@click.option(
    "--speed",
    type=click.FloatRange(min=1.0),
    default=DEFAULT_SPEED,
    show_default=True,
    help="The sandbox carrier's clock: simulated seconds per real second "
    "(1200: a day in 72 s; 1: real time).",
)
@click.option(
    "--seed",
    type=int,
    default=0,
    show_default=True,
    help="Same seed, same orders, customers and parcel lives.",
)
@click.option(
    "--headless",
    is_flag=True,
    help="No console: run the engine, print a progress line every few seconds on "
    "stderr and a summary at the end (for scripts, tests and dumb terminals).",
)
@click.option(
    "--seconds",
    type=click.FloatRange(min=0.0, min_open=True),
    help="With --headless: stop after this many seconds [default: at Ctrl-C or SIGTERM].",
)
@click.option(
    "--keep",
    is_flag=True,
    help="Keep the temporary folder (store, config.toml, drop files, log) and print "
    "where it is; open it later with `orderdeck --config FOLDER/config.toml`.",
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="With --headless: print the summary as one JSON object.",
)
def demo(
    orders: int,
    speed: float,
    seed: int,
    headless: bool,
    seconds: float | None,
    keep: bool,
    as_json: bool,
) -> None:
    """See orderdeck at work on made-up data, with nothing to set up.

    Makes a throwaway store in a temporary folder, starts the sandbox carrier on
    a fast clock, a local SMTP server and a chat webhook receiver on loopback,
    drops a Shopify order export and a tracking file into a demo drop folder a
    batch at a time, and opens the console with the sync engine running: orders
    arrive, parcels move, exceptions reach the attention queue, notifications
    go out. Quitting (q or ctrl+c) stops it all and removes the folder.

    Your own configuration, store and data folders are never touched; --config,
    --db, ORDERDECK_CONFIG and ORDERDECK_DB are ignored. See docs/demo.md.
    """
    if not headless:
        if seconds is not None or as_json:
            raise click.UsageError("--seconds and --json go with --headless")
        if not sys.stdin.isatty() or not sys.stdout.isatty():
            raise click.UsageError(
                "the console needs a terminal (stdin and stdout must be a TTY); "
                "use --headless to run the demo without it"
            )
    options = DemoOptions(orders=orders, speed=speed, seed=seed, keep=keep)
    session = DemoSession(options)
    # SIGTERM while setting up: stop there and clean up, as Ctrl-C does. While it runs,
    # the console or the headless loop handles SIGINT and SIGTERM themselves.
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    signal.signal(signal.SIGTERM, _raise_interrupt)
    summary = None
    try:
        session.start()
        if headless:
            summary = _run_headless(session, seconds)
        else:
            _run_console(session)
    finally:
        # Cleaning up is short (the engine has drained): let no signal cut it off.
        for sig in previous:
            signal.signal(sig, signal.SIG_IGN)
        folder = session.root
        _close_log()
        session.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler if handler is not None else signal.SIG_DFL)
    if summary is not None:
        if as_json:
            print_json({**summary, "folder": str(folder) if keep else None})
        else:
            from orderdeck.demo import describe

            for line in describe(summary):
                click.echo(line)
    if keep and folder is not None:
        click.echo(
            f"demo kept in {folder}; look again with: "
            f"orderdeck --config {folder / 'config.toml'} console --no-engine",
            err=bool(as_json),
        )


def _raise_interrupt(signum: int, _frame: Any) -> None:
    raise KeyboardInterrupt


def _run_console(session: DemoSession) -> None:
    from orderdeck.demo.app import demo_app

    _log_to(session.log_path, session, stream=False)
    demo_app(session).run()


def _run_headless(session: DemoSession, seconds: float | None) -> dict[str, Any]:
    from store.heartbeat import new_worker_id
    from sync.service import Engine

    _log_to(session.log_path, session, stream=None)
    assert session.store is not None and session.config is not None
    engine = Engine(
        session.store,
        session.make_parts,
        role="sync",
        worker_id=new_worker_id("demo"),
        version=__version__,
        heartbeat_seconds=session.config.sync.heartbeat_seconds,
        drain_seconds=10.0,
    )
    started = time.monotonic()

    async def main() -> None:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        runner = asyncio.create_task(engine.run(stop))
        session.start_drip()
        try:
            while not stop.is_set() and not runner.done():
                elapsed = time.monotonic() - started
                wait = PROGRESS_SECONDS
                if seconds is not None:
                    wait = min(wait, max(0.0, seconds - elapsed))
                    if wait <= 0:
                        break
                try:
                    await asyncio.wait_for(stop.wait(), timeout=wait)
                except TimeoutError:
                    _progress(session, time.monotonic() - started)
        finally:
            stop.set()
            await runner
            for signum in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(signum)
                signal.signal(signum, signal.SIG_IGN)  # stopped already; now clean up

    click.echo(f"orderdeck demo in {session.folder} (Ctrl-C stops it)", err=True)
    asyncio.run(main())
    failed = {n: s.last_error for n, s in engine.states.items() if s.last_error}
    summary = session.summary()
    summary["seconds"] = round(time.monotonic() - started, 1)
    summary["engine_errors"] = failed
    return summary


def _progress(session: DemoSession, elapsed: float) -> None:
    s = session.summary()
    click.echo(
        f"[{elapsed:4.0f}s] orders {s['orders']}, shipments polled {s['shipments_polled']}, "
        f"notifications sent {s['notifications_sent']}, attention {s['attention_open']}",
        err=True,
    )


def _log_to(path: Path, session: DemoSession, *, stream: Any) -> None:
    """The engine's log goes to the demo folder's file; warnings also to stderr when
    headless (``stream=None``), never to the console's screen (``stream=False``)."""
    assert session.config is not None
    logs.setup(
        level="INFO",
        fmt="text",
        file=path,
        secrets=session.config.secrets(),
        stream=stream,
    )
    if stream is None:
        import logging

        for handler in logging.getLogger().handlers:
            if not isinstance(handler, logging.FileHandler):
                handler.setLevel(logging.WARNING)


def _close_log() -> None:
    import logging

    root = logging.getLogger()
    for handler in list(root.handlers):
        if isinstance(handler, logging.FileHandler):
            root.removeHandler(handler)
            handler.close()


def register(cli: click.Group) -> None:
    cli.add_command(demo)
