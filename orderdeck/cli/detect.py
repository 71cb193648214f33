"""``orderdeck detect``: name the carrier of tracking numbers, offline."""

from __future__ import annotations

import sys
from collections.abc import Iterable

import click

from orderdeck.cli.common import json_option, print_json
from orderdeck.cli.text import clean
from sync.carriers.detect import Detection, detect
from sync.carriers.names import carrier_name

_MAX_PAD = 40  # a longer cell still prints whole; it just pushes the rest of its line


def _numbers(args: Iterable[str]) -> list[str]:
    """The arguments in order, with ``-`` replaced by stdin's non-blank lines."""
    numbers: list[str] = []
    for arg in args:
        if arg == "-":
            numbers.extend(line.rstrip("\r\n") for line in sys.stdin if line.strip())
        else:
            numbers.append(arg)
    return numbers


def _row(d: Detection) -> list[str]:
    """number, carrier, valid/invalid, candidates, service or reason, URL."""
    number = clean(d.tracking_number) or repr(clean(d.input))
    if not d.valid:
        return [number, "-", "invalid", "-", clean(d.reason)]
    row = [
        number,
        carrier_name(d.carrier) if d.carrier else "-",
        "valid",
        ",".join(d.candidates) or "-",
        d.service or "",
    ]
    return [*row, d.tracking_url] if d.tracking_url else row


def _print_lines(results: list[Detection]) -> None:
    rows = [_row(d) for d in results]
    # A column is as wide as its widest cell that has more cells after it: the last
    # cell of a line (an invalid number's reason, a URL) pushes nothing and is not padded.
    widths = [
        min(max((len(r[i]) for r in rows if len(r) > i + 1), default=0), _MAX_PAD)
        for i in range(max(len(r) for r in rows) - 1)
    ]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row[:-1], widths, strict=False)]
        click.echo("  ".join([*cells, row[-1]]).rstrip())


@click.command("detect")
@click.argument("tracking", nargs=-1, required=True)
@json_option
@click.pass_context
def detect_cmd(ctx: click.Context, tracking: tuple[str, ...], as_json: bool) -> None:
    """Name the carrier of each TRACKING number, from the number alone.

    Spaces, dashes and lower case are fine (quote a number that contains spaces).
    Check digits are validated: a number that fits no known format, or whose check
    digit fails, is reported invalid with the reason, never guessed. When a number
    fits several carriers, all are listed, most likely first.

    One line per number, in the order given: number, carrier, valid or invalid,
    candidate carrier codes, service or reason, public tracking page. With --json,
    an array of objects with tracking_number, carrier, valid, candidates,
    tracking_url, service, reason and input.

    Give - to read numbers from standard input, one per line.

    \b
    Exit status: 0 when every number is valid,
                 1 when any number is invalid,
                 2 on a usage error (no numbers given).
    """
    numbers = _numbers(tracking)
    if not numbers:
        raise click.UsageError("no tracking numbers given (standard input was empty)")
    results = [detect(n) for n in numbers]
    if as_json:
        print_json([d.as_dict() for d in results])
    else:
        _print_lines(results)
    if not all(d.valid for d in results):
        ctx.exit(1)


def register(cli: click.Group) -> None:
    cli.add_command(detect_cmd)
