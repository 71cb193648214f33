"""``orderdeck import PATH...``: ingest exports now, with progress and a summary."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import click

from orderdeck.cli.common import AppContext, json_option, pass_app, print_json
from orderdeck.cli.text import clean
from sync.ingest import FORMATS, REJECTED, FileResult, ingest_file
from sync.ingest.folder import FAILED, PARTIAL_SUFFIXES, PROCESSED, PROCESSING
from sync.settings import DropFolder

#: Row errors printed per file on a terminal; --json lists them all.
_SHOWN_ERRORS = 20
#: Files smaller than this finish too fast for a progress bar to help.
_PROGRESS_BYTES = 2_000_000


def _files_in(path: Path) -> list[Path]:
    """The files to import under ``path``: itself, or a folder's files (not its subfolders)."""
    if not path.is_dir():
        return [path]
    found = []
    for child in sorted(path.iterdir()):
        name = child.name
        if name.startswith((".", "~$")) or name.lower().endswith(PARTIAL_SUFFIXES):
            continue
        if name.endswith(".error.txt") or child.is_dir() or not child.is_file():
            continue
        found.append(child)
    return found


def _drop_folder_of(path: Path, folders: tuple[DropFolder, ...]) -> DropFolder | None:
    resolved = path.resolve()
    for folder in folders:
        root = folder.path.resolve()
        if resolved.parent == root or (
            resolved.parent.parent == root
            and resolved.parent.name
            in (
                PROCESSING,
                PROCESSED,
                FAILED,
            )
        ):
            return folder
    return None


class _Bar:
    """A rich progress bar on stderr, for files big enough to need one."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            Progress,
            TaskProgressColumn,
            TextColumn,
            TimeRemainingColumn,
        )

        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TaskProgressColumn(),
            TextColumn("{task.fields[rows]:>12,} rows  {task.fields[rate]:>9,.0f} rows/s"),
            TimeRemainingColumn(),
            console=Console(stderr=True, highlight=False),
            transient=True,
        )
        self.task: Any = None
        self.started = 0.0

    def __enter__(self) -> _Bar:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def begin(self, name: str, size: int) -> None:
        from rich.text import Text

        if self.task is not None:
            self.progress.remove_task(self.task)
        self.started = time.monotonic()
        label = Text(clean(name)[-40:])
        self.task = self.progress.add_task(label.plain, total=max(size, 1), rows=0, rate=0.0)

    def update(self, done: int, total: int, rows: int) -> None:
        elapsed = max(time.monotonic() - self.started, 1e-6)
        self.progress.update(
            self.task, completed=done, total=max(total, 1), rows=rows, rate=rows / elapsed
        )


def _summary_line(result: FileResult) -> str:
    name = clean(result.path)
    if result.outcome == REJECTED:
        return f"✗ {name}: rejected: {clean(result.error)}"
    if result.outcome == "duplicate":
        return f"= {name}: skipped, {clean(result.error)}"
    mark = "✓" if result.outcome == "imported" else "!"
    rejected = f", {result.rows_rejected:,} rows rejected" if result.rows_rejected else ""
    return (
        f"{mark} {name} ({result.format} -> {clean(result.source)}): "
        f"{result.orders_created:,} orders created, {result.orders_updated:,} updated, "
        f"{result.line_items:,} line items, {result.shipments_created:,} shipments"
        f"{rejected}  [{result.rows_total:,} rows in {result.seconds:.1f}s]"
    )


@click.command("import")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option(
    "--format",
    "fmt",
    default=None,
    metavar="FORMAT",
    help="One of " + ", ".join(FORMATS) + ", or a [sync.formats.NAME]  [default: auto, or the "
    "drop folder's format].",
)
@click.option(
    "--source",
    metavar="NAME",
    help="Where these orders come from; orders are matched by source and order id "
    "[default: the drop folder's source, else the format name].",
)
@click.option(
    "--encoding",
    default=None,
    metavar="CODEC",
    help="Text encoding of files that are not UTF-8, e.g. cp1252 [default: utf-8].",
)
@json_option
@pass_app
def import_cmd(
    app: AppContext,
    paths: tuple[Path, ...],
    fmt: str | None,
    source: str | None,
    encoding: str | None,
    as_json: bool,
) -> None:
    """Import shop exports (files, or every file in a folder) into the store.

    Formats are detected from each file's header or shape: Shopify and WooCommerce
    order exports, tracking files (order number + tracking number), JSON and NDJSON
    in orderdeck's schema, and your own [sync.formats.NAME] column maps. Importing
    the same file twice changes nothing; a newer export updates the orders it holds.
    Files are left where they are. Exits 1 when any file was rejected whole.
    """
    settings = app.config.sync
    if fmt is not None and fmt not in FORMATS and fmt not in settings.ingest.formats:
        known = ", ".join([*FORMATS, *settings.ingest.formats])
        raise click.BadParameter(f"{fmt!r} is not one of {known}", param_hint="--format")
    if encoding is not None:
        try:
            "".encode(encoding)
        except LookupError:
            raise click.BadParameter(
                f"unknown encoding {encoding!r}", param_hint="--encoding"
            ) from None
    files = [f for p in paths for f in _files_in(p)]
    if not files:
        raise click.UsageError("no files to import in " + ", ".join(str(p) for p in paths))
    store = app.store()
    # As in a drop folder: new shipments queue "shipped" messages in the same
    # transaction (sent by the engine; nothing is queued without channels).
    from sync.assembly import notification_hook

    hook = notification_hook(app.config.notify)
    show_progress = not as_json and sys.stderr.isatty()
    results: list[FileResult] = []
    bar = _Bar() if show_progress else None
    try:
        if bar is not None:
            bar.__enter__()
        for path in files:
            folder = _drop_folder_of(path, settings.ingest.drop_folders)
            progress = None
            if bar is not None and path.stat().st_size >= _PROGRESS_BYTES:
                bar.begin(path.name, path.stat().st_size)
                progress = bar.update
            result = ingest_file(
                store,
                path,
                settings=settings,
                source=source or (folder.source if folder else None),
                format=fmt or (folder.format if folder else "auto"),
                encoding=encoding or (folder.encoding if folder else "utf-8"),
                progress=progress,
                on_changes=hook,
            )
            results.append(result)
            if not as_json:
                if bar is not None:
                    bar.progress.console.print(_summary_line(result), markup=False, highlight=False)
                else:
                    click.echo(_summary_line(result))
                _print_errors(result, bar)
    finally:
        if bar is not None:
            bar.__exit__(None, None, None)
    rejected = sum(1 for r in results if r.outcome == REJECTED)
    totals = {
        "files": [r.as_dict() for r in results],
        "files_imported": sum(1 for r in results if r.outcome in ("imported", "partial")),
        "files_skipped": sum(1 for r in results if r.outcome == "duplicate"),
        "files_rejected": rejected,
        "orders_created": sum(r.orders_created for r in results),
        "orders_updated": sum(r.orders_updated for r in results),
        "line_items": sum(r.line_items for r in results),
        "shipments_created": sum(r.shipments_created for r in results),
        "rows": sum(r.rows_total for r in results),
        "rows_rejected": sum(r.rows_rejected for r in results),
        "errors": [e.as_dict() for r in results for e in r.errors]
        + [
            {"file": r.path, "row": None, "column": None, "reason": r.error}
            for r in results
            if r.outcome == REJECTED
        ],
    }
    if as_json:
        print_json(totals)
    else:
        if len(results) > 1:
            click.echo(
                f"{len(results)} files: {totals['files_imported']} imported, "
                f"{totals['files_skipped']} already imported, {rejected} rejected; "
                f"{totals['orders_created']:,} orders created, {totals['orders_updated']:,} updated, "
                f"{totals['line_items']:,} line items, {totals['shipments_created']:,} shipments, "
                f"{totals['rows_rejected']:,} rows rejected"
            )
    if rejected:
        sys.exit(1)


def _print_errors(result: FileResult, bar: _Bar | None) -> None:
    def say(text: str) -> None:
        if bar is not None:
            bar.progress.console.print(text, markup=False, highlight=False)
        else:
            click.echo(text)

    for error in result.errors[:_SHOWN_ERRORS]:
        say(f"    {clean(error)}")
    hidden = len(result.errors) - _SHOWN_ERRORS + result.errors_dropped
    if hidden > 0:
        say(f"    ... and {hidden:,} more rejected rows (--json lists them)")


def register(cli: click.Group) -> None:
    cli.add_command(import_cmd)
