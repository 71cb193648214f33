"""Drop folders: files put in a folder are imported, then filed away. Nothing is deleted.

For each ``[[sync.drop_folders]]``::

    FOLDER/                 files land here (written in place, or renamed in when done)
    FOLDER/processing/      a file being imported (resumed at start after a crash)
    FOLDER/processed/YYYY-MM-DD/   imported (with NAME.error.txt when rows were rejected)
    FOLDER/failed/          rejected whole, with NAME.error.txt saying why

A file is taken once it is complete: no ``.part``/``.tmp``/``.crdownload`` suffix,
the same size and mtime on two checks, and at least ``min_file_age`` old. File
system events (watchfiles) only trigger scans early: a full scan runs at start and
every ``scan_interval``, so a missed event delays a file, never loses it.

Crash safety comes from the order of steps: move into ``processing/``, import and
commit (the file's SHA-256 is recorded in the same transaction), then move out. A
crash before the commit leaves the file in ``processing/``, imported again from
scratch at the next start; a crash after it leaves a recorded file whose redo is a
no-op, filed as a duplicate. Either way nothing is lost or doubled.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy.exc import DBAPIError

from store.engine import Store
from store.errors import StoreError
from sync.ingest.errors import IngestError
from sync.ingest.ingest import DUPLICATE, IMPORTED, PARTIAL, REJECTED, FileResult, ingest_file
from sync.ingest.writer import OnChanges
from sync.settings import DropFolder, SyncSettings

log = logging.getLogger(__name__)

PROCESSING = "processing"
PROCESSED = "processed"
FAILED = "failed"
#: A file with one of these suffixes is still being written.
PARTIAL_SUFFIXES = (".part", ".tmp", ".crdownload", ".partial", ".download", ".filepart", ".swp")
REFUSED = "refused"


@dataclass(frozen=True)
class FolderEvent:
    """What happened to one file in a drop folder."""

    folder: Path
    name: str
    #: imported | partial | rejected | duplicate | refused
    outcome: str
    moved_to: Path | None
    reason: str | None = None
    result: FileResult | None = None


def _unique(target: Path) -> Path:
    """``target``, or ``NAME (2).ext`` etc. when it exists: nothing is overwritten."""
    if not target.exists() and not target.is_symlink():
        return target
    for n in range(2, 100_000):
        candidate = target.with_name(f"{target.stem} ({n}){target.suffix}")
        if not candidate.exists() and not candidate.is_symlink():
            return candidate
    raise OSError(f"too many files named like {target.name}")


def _write_text(path: Path, text: str) -> None:
    """Write ``path`` whole or not at all."""
    temp = path.with_name(f".{path.name}.tmp")
    temp.write_text(text, encoding="utf-8")
    os.replace(temp, path)


def error_report(name: str, result: FileResult | None, reason: str | None) -> str:
    lines = [f"orderdeck: {name}"]
    if result is not None:
        lines.append(f"outcome: {result.outcome}")
        if result.format:
            lines.append(f"format: {result.format}  source: {result.source}")
        if result.sha256:
            lines.append(f"sha256: {result.sha256}")
    lines.append(f"when: {datetime.now().astimezone():%Y-%m-%d %H:%M:%S %z}")
    if reason:
        lines += ["", f"The file was not imported: {reason}"]
    if result is not None and result.rows_total:
        lines += [
            "",
            f"rows: {result.rows_total:,}  accepted: {result.rows_accepted:,}  "
            f"rejected: {result.rows_rejected:,}",
        ]
    if result is not None and result.errors:
        lines += ["", "Rejected rows:"]
        lines += [f"  {error}" for error in result.errors]
        if result.errors_dropped:
            lines.append(f"  ... and {result.errors_dropped:,} more not listed")
    return "\n".join(lines) + "\n"


def tally(events: list[FolderEvent]) -> dict[str, int]:
    """Counters for a heartbeat: files by outcome, and what the imports created."""
    counts: dict[str, int] = {"files": len(events)}
    for event in events:
        counts[event.outcome] = counts.get(event.outcome, 0) + 1
        if event.result is not None and event.outcome in (IMPORTED, PARTIAL):
            for key in ("orders_created", "orders_updated", "shipments_created", "rows_rejected"):
                counts[key] = counts.get(key, 0) + getattr(event.result, key)
    return counts


class DropFolderWatcher:
    """Imports what lands in the configured drop folders.

    It is the engine's ``ingest`` part (:class:`sync.service.Part`): ``run_once``
    is one full pass, ``run`` watches until stopped.
    """

    name = "ingest"

    def __init__(
        self,
        store: Store,
        settings: SyncSettings,
        *,
        on_changes: OnChanges | None = None,
        on_event: Callable[[FolderEvent], None] | None = None,
        folders: tuple[DropFolder, ...] | None = None,
    ) -> None:
        self.store = store
        self.settings = settings
        self.folders = settings.ingest.drop_folders if folders is None else folders
        self.on_changes = on_changes
        self.on_event = on_event
        self._observed: dict[str, tuple[int, int]] = {}
        self._started = False
        #: True while some file is waiting to look complete: scan again soon.
        self.pending = False

    # -- scanning -----------------------------------------------------------------

    def scan_once(self) -> list[FolderEvent]:
        """One full pass over every folder; returns what happened to each file taken."""
        events: list[FolderEvent] = []
        pending = False
        for folder in self.folders:
            try:
                found, waiting = self._scan(folder)
            except OSError as exc:
                log.error("drop folder %s cannot be scanned: %s", folder.path, exc)
                continue
            events.extend(found)
            pending = pending or waiting
        self._started = True
        self.pending = pending
        return events

    def _dirs(self, folder: DropFolder) -> None:
        folder.path.mkdir(parents=True, exist_ok=True)
        for sub in (PROCESSING, PROCESSED, FAILED):
            (folder.path / sub).mkdir(exist_ok=True)

    def _scan(self, folder: DropFolder) -> tuple[list[FolderEvent], bool]:
        self._dirs(folder)
        root = folder.path
        events: list[FolderEvent] = []
        if not self._started:
            for leftover in sorted((root / PROCESSING).iterdir()):
                if leftover.is_file() and not leftover.is_symlink():
                    log.info("resuming %s, left in processing/ by an interrupted run", leftover)
                    events.append(self._import(folder, leftover))
        waiting = False
        now = time.time()
        real_root = root.resolve()
        seen_now: set[str] = set()
        with os.scandir(root) as entries:
            listing = sorted(entries, key=lambda e: e.name)
        for entry in listing:
            name = entry.name
            if name.startswith((".", "~$")) or name.lower().endswith(PARTIAL_SUFFIXES):
                continue
            if entry.is_dir(follow_symlinks=False):
                continue
            path = Path(entry.path)
            if entry.is_symlink():
                events.append(
                    self._refuse(folder, path, "a symbolic link; put the file itself in the folder")
                )
                continue
            if not entry.is_file(follow_symlinks=False):
                events.append(self._refuse(folder, path, "not a regular file"))
                continue
            if path.resolve().parent != real_root:
                events.append(self._refuse(folder, path, "it resolves outside the drop folder"))
                continue
            stat = entry.stat(follow_symlinks=False)
            limit = self.settings.ingest.max_file_bytes
            if stat.st_size > limit:
                events.append(
                    self._refuse(
                        folder,
                        path,
                        f"{stat.st_size:,} bytes is over the limit of {limit:,} "
                        "([sync] max_file_size)",
                    )
                )
                continue
            key = str(path)
            seen_now.add(key)
            observed = (stat.st_size, stat.st_mtime_ns)
            before = self._observed.get(key)
            self._observed[key] = observed
            old_enough = now - stat.st_mtime >= self.settings.ingest.min_age_seconds
            if before != observed or not old_enough:
                waiting = True
                continue
            del self._observed[key]
            seen_now.discard(key)
            target = _unique(root / PROCESSING / name)
            try:
                os.rename(path, target)
            except FileNotFoundError:
                continue  # another worker took it
            events.append(self._import(folder, target, original=name))
        for key in [k for k in self._observed if k.startswith(str(root) + os.sep)]:
            if key not in seen_now:
                del self._observed[key]
        return events, waiting

    # -- filing -------------------------------------------------------------------

    def _today(self) -> str:
        return datetime.now(ZoneInfo(self.settings.timezone)).strftime("%Y-%m-%d")

    def _import(self, folder: DropFolder, path: Path, original: str | None = None) -> FolderEvent:
        name = original or path.name
        try:
            result = ingest_file(
                self.store,
                path,
                settings=self.settings,
                source=folder.source,
                format=folder.format,
                encoding=folder.encoding,
                on_changes=self.on_changes,
                display_path=str(folder.path / name),
            )
        except IngestError as exc:
            return self._emit(FolderEvent(folder.path, name, REJECTED, None, str(exc)))
        except (StoreError, DBAPIError, OSError):
            # The store is away, the disk is full...: put the file back to try later.
            log.exception("importing %s failed; it will be tried again", path)
            with contextlib.suppress(OSError):
                os.rename(path, _unique(folder.path / name))
            raise
        except Exception as exc:
            # A fault of ours with this file: trying again would fail again. File it,
            # with the reason, rather than retry it forever.
            log.exception("importing %s failed", path)
            reason = f"internal error: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
            target = _unique(folder.path / FAILED / name)
            _write_text(
                target.with_name(target.name + ".error.txt"), error_report(name, None, reason)
            )
            os.rename(path, target)
            return self._emit(FolderEvent(folder.path, name, REJECTED, target, reason))
        if result.outcome in (IMPORTED, PARTIAL, DUPLICATE):
            day = folder.path / PROCESSED / self._today()
            day.mkdir(parents=True, exist_ok=True)
            target = _unique(day / name)
            if result.outcome == PARTIAL:
                _write_text(
                    target.with_name(target.name + ".error.txt"),
                    error_report(name, result, None),
                )
        else:
            target = _unique(folder.path / FAILED / name)
            _write_text(
                target.with_name(target.name + ".error.txt"),
                error_report(name, result, result.error),
            )
        os.rename(path, target)
        reason = result.error if result.outcome in (REJECTED, DUPLICATE) else None
        return self._emit(FolderEvent(folder.path, name, result.outcome, target, reason, result))

    def _refuse(self, folder: DropFolder, path: Path, reason: str) -> FolderEvent:
        target = _unique(folder.path / FAILED / path.name)
        _write_text(
            target.with_name(target.name + ".error.txt"),
            error_report(path.name, None, f"refused: {reason}"),
        )
        os.rename(path, target)  # a symlink moves as a link; its target is untouched
        return self._emit(FolderEvent(folder.path, path.name, REFUSED, target, reason))

    def _emit(self, event: FolderEvent) -> FolderEvent:
        if event.outcome in (IMPORTED, PARTIAL, DUPLICATE):
            log.info("%s: %s -> %s", event.name, event.outcome, event.moved_to)
        else:
            log.warning("%s: %s (%s)", event.name, event.outcome, event.reason)
        if self.on_event is not None:
            self.on_event(event)
        return event

    # -- running ------------------------------------------------------------------

    async def run_once(self) -> dict[str, int]:
        """A full pass: scan, and while files are waiting to look complete, look again
        (a file is taken only once seen unchanged twice), for a bounded time; counts of
        what it did. This is what ``orderdeck sync --once`` runs."""
        events = await asyncio.to_thread(self.scan_once)
        min_age = self.settings.ingest.min_age_seconds
        recheck = max(0.25, min_age / 2)
        deadline = time.monotonic() + max(5.0, 3 * min_age)
        while self.pending and time.monotonic() < deadline:
            await asyncio.sleep(recheck)
            events.extend(await asyncio.to_thread(self.scan_once))
        counters = tally(events)
        if self.pending:
            counters["waiting"] = counters.get("waiting", 0) + 1
        return counters

    async def run(self, stop_event: asyncio.Event) -> None:
        """Scan at start, on file events, and every ``scan_interval``, until stopped."""
        interval = self.settings.ingest.scan_interval_seconds
        recheck = min(interval, max(0.25, self.settings.ingest.min_age_seconds / 2))
        wake = asyncio.Event()
        watching = asyncio.create_task(self._watch(wake, stop_event))
        try:
            while not stop_event.is_set():
                try:
                    await asyncio.to_thread(self.scan_once)
                except Exception:
                    # The store is away, a disk is full...: the file went back to the
                    # folder (or stays in processing/); the next scan tries again.
                    log.exception("drop folder scan failed; trying again in %ss", interval)
                    self.pending = False
                timeout = recheck if self.pending else interval
                waits = [
                    asyncio.ensure_future(wake.wait()),
                    asyncio.ensure_future(stop_event.wait()),
                ]
                try:
                    await asyncio.wait(waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    for task in waits:
                        task.cancel()
                wake.clear()
        finally:
            watching.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watching

    async def _watch(self, wake: asyncio.Event, stop_event: asyncio.Event) -> None:
        paths = [str(f.path) for f in self.folders if f.path.is_dir()]
        if not paths:
            return
        import watchfiles

        def top_level(_change: watchfiles.Change, path: str) -> bool:
            return os.path.dirname(path) in paths

        try:
            async for _changes in watchfiles.awatch(
                *paths, stop_event=stop_event, watch_filter=top_level, recursive=False
            ):
                wake.set()
        except Exception as exc:  # inotify limits and the like: the timer still scans
            log.warning(
                "file events unavailable (%s); scanning every %ss",
                exc,
                self.settings.ingest.scan_interval_seconds,
            )
