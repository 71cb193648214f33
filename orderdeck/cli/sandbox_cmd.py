"""``orderdeck sandbox``: run the sandbox carrier service (docs/sandbox.md)."""

from __future__ import annotations

import logging
import signal
import sys
import threading
from datetime import datetime
from typing import Any

import click

from orderdeck.cli.common import print_json
from store.errors import OrderdeckError

_SHARE = click.FloatRange(0.0, 1.0)


def _when(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not an ISO date and time such as 2026-11-09T12:00:00+00:00",
            param_hint="--start",
        ) from None
    if parsed.tzinfo is None:
        raise click.BadParameter(
            f"{value!r} needs a UTC offset, e.g. 2026-11-09T12:00:00+00:00", param_hint="--start"
        )
    return parsed


@click.command("sandbox")
@click.option(
    "--host", default="127.0.0.1", show_default=True, help="Loopback address to listen on."
)
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8765,
    show_default=True,
    help="0 picks a free port.",
)
@click.option(
    "--speed",
    type=click.FloatRange(min=0.0),
    default=1.0,
    show_default=True,
    help="Simulated seconds per real second (60: an hour a minute; 0: frozen).",
)
@click.option(
    "--seed", type=int, default=0, show_default=True, help="Same seed, same parcel lives."
)
@click.option("--start", "start", metavar="ISO", help="The simulated time at start [default: now].")
@click.option(
    "--spread-hours",
    type=click.FloatRange(min=0.0),
    default=72.0,
    show_default=True,
    help="Labels were created up to this long before the start.",
)
@click.option(
    "--latency-ms",
    type=click.FloatRange(min=0.0),
    default=0.0,
    show_default=True,
    help="Added to every answer.",
)
@click.option(
    "--latency-jitter-ms",
    type=click.FloatRange(min=0.0),
    default=0.0,
    show_default=True,
    help="Up to this much more, at random.",
)
@click.option(
    "--error-rate",
    type=_SHARE,
    default=0.0,
    show_default=True,
    help="Share of requests answered 500/502/503.",
)
@click.option(
    "--rate-limit",
    type=click.FloatRange(min=0.0),
    default=0.0,
    show_default=True,
    help="Requests per second; above it 429 with Retry-After (0: no limit).",
)
@click.option(
    "--timeout-rate",
    type=_SHARE,
    default=0.0,
    show_default=True,
    help="Share of requests that hang, then close unanswered.",
)
@click.option(
    "--hang-seconds",
    type=click.FloatRange(min=0.0),
    default=30.0,
    show_default=True,
    help="How long a hanging request hangs.",
)
@click.option(
    "--drop-rate",
    type=_SHARE,
    default=0.0,
    show_default=True,
    help="Share of requests whose connection is dropped.",
)
@click.option(
    "--malformed-rate",
    type=_SHARE,
    default=0.0,
    show_default=True,
    help="Share of requests answered with a broken body.",
)
@click.option(
    "--api-key",
    metavar="KEY",
    envvar="ORDERDECK_SANDBOX_API_KEY",
    help="Require this key (Authorization: Bearer KEY) [env: ORDERDECK_SANDBOX_API_KEY].",
)
@click.option(
    "--max-batch",
    type=click.IntRange(1, 1000),
    default=50,
    show_default=True,
    help="Most numbers per POST /v1/track.",
)
@click.option("-v", "--verbose", is_flag=True, help="Log every request.")
@click.option("--json", "as_json", is_flag=True, help="Print the settings as JSON when listening.")
def sandbox(
    host: str,
    port: int,
    speed: float,
    seed: int,
    start: str | None,
    spread_hours: float,
    latency_ms: float,
    latency_jitter_ms: float,
    error_rate: float,
    rate_limit: float,
    timeout_rate: float,
    hang_seconds: float,
    drop_rate: float,
    malformed_rate: float,
    api_key: str | None,
    max_batch: int,
    verbose: bool,
    as_json: bool,
) -> None:
    """Run the sandbox carrier: made-up parcels on an accelerated clock, with faults on demand.

    Point [carriers.sandbox] base_url at it and give shipments carrier "sandbox".
    A number like SBSTALLED1 or SB-RETURNED-7 asks for that life; any other number
    draws one from its digits and the seed.
    """
    from sync.sandbox import Faults, SandboxClock, SandboxError, SandboxServer
    from sync.sandbox.faults import FaultError

    try:
        faults = Faults(
            latency_ms=latency_ms,
            latency_jitter_ms=latency_jitter_ms,
            error_rate=error_rate,
            timeout_rate=timeout_rate,
            hang_seconds=hang_seconds,
            drop_rate=drop_rate,
            malformed_rate=malformed_rate,
            rate_limit=rate_limit,
            api_key=api_key or None,
        )
        faults.validate()
    except FaultError as exc:
        raise click.UsageError(str(exc)) from None
    try:
        server = SandboxServer(
            host=host,
            port=port,
            seed=seed,
            clock=SandboxClock(_when(start), speed=speed),
            spread_hours=spread_hours,
            faults=faults,
            max_batch=max_batch,
            verbose=verbose,
        )
        server.bind()
    except SandboxError as exc:
        raise OrderdeckError(str(exc)) from None
    if verbose:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    described = server.describe()
    if as_json:
        print_json(described)
    else:
        _banner(described)
    sys.stdout.flush()

    def _stop(*_args: Any) -> None:
        # shutdown() waits for serve_forever, so it must run off the serving thread.
        threading.Thread(target=server.stop, daemon=True).start()

    signal.signal(signal.SIGTERM, _stop)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    if not as_json:
        click.echo("sandbox stopped", err=True)


def _banner(d: dict[str, Any]) -> None:
    clock = d["clock"]
    faults = d["faults"]
    click.echo(f"sandbox carrier listening on {d['url']}")
    click.echo(
        f"  seed {d['seed']}, clock {clock['now']} at {clock['speed']:g}x, "
        f"labels up to {d['spread_hours']:g} h old"
    )
    active = {
        k: v
        for k, v in faults.items()
        if v and k not in ("hang_seconds",) and not (k == "api_key" and v is None)
    }
    if active:
        click.echo("  faults: " + ", ".join(f"{k}={v}" for k, v in active.items()))
    click.echo(f'  config: [carriers.sandbox] base_url = "{d["url"]}"')
    click.echo("  Ctrl-C stops it")


def register(cli: click.Group) -> None:
    cli.add_command(sandbox)
