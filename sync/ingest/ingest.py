"""Ingesting one file: the entry point the CLI, the drop-folder watcher and the sync
service share.

Order of work, and why:

1. The file's SHA-256 is computed first (one streaming read). A file whose digest
   is recorded as imported is a no-op: that is what makes a redo after a crash safe.
2. One write transaction holds everything the file changes: the
   :class:`~store.models.IngestedFile` row (claimed first, so two workers racing
   on one file cannot both apply it), orders, line items, shipments, the board
   summaries, the change feed, and whatever ``on_changes`` writes (outbox rows).
   A crash before the commit leaves nothing; after it, the file is recorded.
3. A file that cannot be read is rolled back whole, then recorded as rejected in a
   transaction of its own, so fixing the configuration and dropping it again works.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from store import changes as change_feed
from store.engine import Store
from store.models import IngestedFile
from store.types import utcnow
from sync.carriers.names import carrier_code
from sync.ingest import parallel, sniff
from sync.ingest.errors import FileRejected, IngestError
from sync.ingest.reading import build_records
from sync.ingest.records import OrderRecord, RowError, TrackingRecord
from sync.ingest.textio import open_text
from sync.ingest.writer import OnChanges, Writer
from sync.settings import SyncSettings

log = logging.getLogger(__name__)

_files: sa.Table = IngestedFile.__table__  # type: ignore[attr-defined]

#: Outcomes of one file.
IMPORTED = "imported"  # every row landed
PARTIAL = "partial"  # some rows were rejected, the others landed
REJECTED = "rejected"  # nothing landed: the file cannot be used
DUPLICATE = "duplicate"  # the same bytes were imported before: nothing to do
IMPORTING = "importing"  # only ever seen inside the file's transaction

#: Row errors kept per file (the count is always exact).
MAX_ERRORS = 10_000
#: Row errors stored in the IngestedFile row.
MAX_STORED_ERRORS = 1_000
_PROGRESS_EVERY = 2_000

Progress = Callable[[int, int, int], None]
"""``progress(bytes_done, bytes_total, rows_done)``, called every few thousand rows."""


@dataclass
class FileResult:
    path: str
    source: str
    outcome: str
    sha256: str | None = None
    format: str | None = None
    size: int = 0
    rows_total: int = 0
    rows_rejected: int = 0
    orders_created: int = 0
    orders_updated: int = 0
    line_items: int = 0
    shipments_created: int = 0
    #: Why the whole file was rejected (outcome "rejected"), or what it duplicates.
    error: str | None = None
    errors: list[RowError] = field(default_factory=list)
    #: Row errors beyond MAX_ERRORS, counted but not kept.
    errors_dropped: int = 0
    seconds: float = 0.0

    @property
    def rows_accepted(self) -> int:
        return max(0, self.rows_total - self.rows_rejected)

    @property
    def rejected_whole(self) -> bool:
        return self.outcome == REJECTED

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": self.path,
            "outcome": self.outcome,
            "format": self.format,
            "source": self.source,
            "sha256": self.sha256,
            "rows": self.rows_total,
            "rows_accepted": self.rows_accepted,
            "rows_rejected": self.rows_rejected,
            "orders_created": self.orders_created,
            "orders_updated": self.orders_updated,
            "line_items": self.line_items,
            "shipments_created": self.shipments_created,
            "error": self.error,
            "errors": [e.as_dict() for e in self.errors],
            "errors_not_listed": self.errors_dropped,
            "seconds": round(self.seconds, 3),
        }


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def resolve_carrier(name: str | None, number: str) -> tuple[str | None, list[str] | None]:
    """(carrier code, candidates): the file's carrier name when orderdeck knows it, else
    what the number says about itself when detection is sure; otherwise no carrier
    yet (the poller re-detects) and the candidates detection saw."""
    from sync.carriers.detect import detect

    code = carrier_code(name)
    if code is not None:
        return code, None
    found = detect(number)
    if found.valid and found.carrier and len(found.candidates) <= 1:
        return found.carrier, None
    return None, list(found.candidates) or None


def previous_import(store: Store, sha256: str) -> dict[str, Any] | None:
    """The record of an earlier successful import of the same bytes, if any."""
    with store.read_connection() as conn:
        row = (
            conn.execute(
                sa.select(
                    _files.c.path,
                    _files.c.outcome,
                    _files.c.finished_at,
                    _files.c.format,
                    _files.c.source,
                ).where(_files.c.sha256 == sha256, _files.c.outcome.in_((IMPORTED, PARTIAL)))
            )
            .mappings()
            .first()
        )
    return dict(row) if row else None


class _Errors:
    def __init__(self, result: FileResult) -> None:
        self.result = result
        self.rows: set[int | None] = set()

    def add(self, error: RowError) -> None:
        result = self.result
        if error.row not in self.rows or error.row is None:
            self.rows.add(error.row)
            result.rows_rejected += 1
        if len(result.errors) < MAX_ERRORS:
            result.errors.append(error)
        else:
            result.errors_dropped += 1


def ingest_file(
    store: Store,
    path: Path | str,
    *,
    settings: SyncSettings,
    source: str | None = None,
    format: str = "auto",
    encoding: str = "utf-8",
    on_changes: OnChanges | None = None,
    progress: Progress | None = None,
    display_path: str | None = None,
) -> FileResult:
    """Import one file in one transaction; see the module docstring.

    ``source`` names where the orders come from (default: the format's name);
    ``format`` is ``auto``, a built-in format, or a ``[sync.formats.NAME]``.
    Whole-file problems come back as outcome ``rejected``; only problems with the
    call itself (no such file, unknown format) raise :class:`IngestError`.
    """
    started = time.monotonic()
    path = Path(path)
    shown = display_path or str(path)
    ingest = settings.ingest
    if format not in sniff.FORMATS and format not in ingest.formats:
        known = ", ".join([*sniff.FORMATS, *ingest.formats])
        raise IngestError(f"unknown format {format!r}; use one of {known}")
    try:
        stat = path.stat()
    except OSError as exc:
        raise IngestError(f"{shown}: {exc.strerror or exc}") from None
    if not path.is_file():
        raise IngestError(f"{shown}: not a regular file")
    result = FileResult(path=shown, source=source or "", outcome=REJECTED, size=stat.st_size)

    def done(outcome: str, error: str | None = None) -> FileResult:
        result.outcome = outcome
        result.error = error
        result.seconds = time.monotonic() - started
        return result

    if stat.st_size > ingest.max_file_bytes:
        return done(
            REJECTED,
            f"the file is {stat.st_size:,} bytes, over the limit of "
            f"{ingest.max_file_bytes:,} ([sync] max_file_size)",
        )
    try:
        result.sha256 = sha256_of(path)
    except OSError as exc:
        return done(REJECTED, f"cannot read the file: {exc.strerror or exc}")
    earlier = previous_import(store, result.sha256)
    if earlier is not None:
        when = earlier["finished_at"]
        stamp = f" on {when:%Y-%m-%d %H:%M} UTC" if isinstance(when, datetime) else ""
        result.format = earlier["format"]
        result.source = source or earlier["source"] or ""
        return done(DUPLICATE, f"already imported{stamp} as {earlier['path']}")

    now = utcnow()
    errors = _Errors(result)
    try:
        with open_text(path, encoding) as opened:
            fmt = sniff.detect(path, opened.head, ingest.formats, format)
            result.format = fmt
            result.source = source or fmt
            with store.write_connection() as conn:
                if not _claim(conn, result, now):
                    return done(DUPLICATE, "already imported (by another worker just now)")
                _bulk_cache(conn)
                writer = Writer(
                    conn,
                    source=result.source,
                    now=now,
                    batch_size=ingest.batch_size,
                    resolve_carrier=resolve_carrier,
                    reject=errors.add,
                    on_changes=on_changes,
                    file=shown,
                )
                position = [0]
                if result.size >= parallel.PARALLEL_BYTES:

                    def tell(rows: int, done: int) -> None:
                        result.rows_total = rows
                        position[0] = done

                    records = parallel.records_from_child(
                        path,
                        encoding=encoding,
                        fmt=fmt,
                        settings=settings,
                        shown=shown,
                        now=now,
                        on_progress=tell,
                    )
                    bytes_done: Callable[[], int] = lambda: position[0]  # noqa: E731
                else:
                    records = build_records(opened, fmt, settings, shown, now, result)
                    bytes_done = opened.bytes_read
                _pump(records, writer, errors, bytes_done, progress, result)
                writer.flush()
                if result.rows_total and result.rows_rejected >= result.rows_total:
                    first = result.errors[0] if result.errors else None
                    raise FileRejected(
                        f"every row was rejected ({result.rows_total:,})"
                        + (f"; the first: {first}" if first else "")
                    )
                outcome = PARTIAL if result.rows_rejected else IMPORTED
                tally = writer.tally
                result.orders_created = tally.orders_created
                result.orders_updated = tally.orders_updated
                result.line_items = tally.line_items
                result.shipments_created = tally.shipments_created
                _record(conn, result, outcome, None)
                if tally.orders_created or tally.orders_updated or tally.shipments_created:
                    change_feed.record(conn, "ingest", writer.touched)
    except FileRejected as exc:
        result.orders_created = result.orders_updated = 0
        result.line_items = result.shipments_created = 0
        _record_rejection(store, result, exc.reason, now)
        return done(REJECTED, exc.reason)
    if progress is not None:
        progress(result.size, result.size, result.rows_total)
    return done(PARTIAL if result.rows_rejected else IMPORTED)


def _pump(
    records: Iterator[OrderRecord | TrackingRecord | RowError],
    writer: Writer,
    errors: _Errors,
    bytes_done: Callable[[], int],
    progress: Progress | None,
    result: FileResult,
) -> None:
    # A parsing thread beside this one was measured slower: sqlite3 takes the GIL
    # back for every row it binds, so the two threads convoy.
    next_report = _PROGRESS_EVERY
    add = writer.add
    for record in records:
        if isinstance(record, RowError):
            errors.add(record)
        else:
            add(record)
        if progress is not None and result.rows_total >= next_report:
            next_report = result.rows_total + _PROGRESS_EVERY
            progress(bytes_done(), result.size, result.rows_total)


#: SQLite page cache for the file's transaction. The default 2 MiB thrashes once the
#: orders' indexes and the line items outgrow it: 400,000 rows took 20% longer.
BULK_CACHE_KIB = 64 * 1024


def _bulk_cache(conn: Connection) -> None:
    """A bigger SQLite page cache while this transaction runs; the connection's own
    size comes back at commit or rollback, before it returns to the pool."""
    if conn.dialect.name != "sqlite":
        return
    previous = conn.exec_driver_sql("PRAGMA cache_size").scalar()
    conn.exec_driver_sql(f"PRAGMA cache_size = -{BULK_CACHE_KIB}")

    def restore(connection: Connection) -> None:
        raw = connection.connection.dbapi_connection
        if raw is not None:  # the driver's own cursor: no transaction bookkeeping
            cursor = raw.cursor()
            try:
                cursor.execute(f"PRAGMA cache_size = {int(previous)}")
            finally:
                cursor.close()

    sa.event.listen(conn, "commit", restore, once=True)
    sa.event.listen(conn, "rollback", restore, once=True)


def _claim(conn: Connection, result: FileResult, now: datetime) -> bool:
    """Insert (or take over a rejected) IngestedFile row for this digest. False when
    another transaction imported the same bytes first."""
    from store.upsert import insert

    values = {
        "path": result.path,
        "sha256": result.sha256,
        "size": result.size,
        "format": result.format,
        "source": result.source,
        "outcome": IMPORTING,
        "started_at": now,
    }
    stmt = insert(conn, _files).values(values)
    stmt = stmt.on_conflict_do_update(
        index_elements=["sha256"],
        set_={k: stmt.excluded[k] for k in values if k != "sha256"},
        where=_files.c.outcome.notin_((IMPORTED, PARTIAL)),
    )
    return bool(conn.execute(stmt).rowcount)


def _record(conn: Connection, result: FileResult, outcome: str, error: str | None) -> None:
    conn.execute(
        sa.update(_files)
        .where(_files.c.sha256 == result.sha256)
        .values(
            path=result.path,
            format=result.format,
            source=result.source,
            outcome=outcome,
            rows_total=result.rows_total,
            rows_accepted=result.rows_accepted,
            rows_rejected=result.rows_rejected,
            orders_created=result.orders_created,
            orders_updated=result.orders_updated,
            shipments_created=result.shipments_created,
            error=error,
            errors=[e.as_dict() for e in result.errors[:MAX_STORED_ERRORS]] or None,
            finished_at=utcnow(),
        )
    )


def _record_rejection(store: Store, result: FileResult, reason: str, now: datetime) -> None:
    """Remember the rejection (a later, fixed drop of the same bytes may still import)."""
    if result.sha256 is None:
        return
    try:
        with store.write_connection() as conn:
            result.format = result.format or None
            if _claim(conn, result, now):
                _record(conn, result, REJECTED, reason)
    except Exception:  # the rejection stands even if it cannot be written down
        log.exception("could not record the rejection of %s", result.path)
