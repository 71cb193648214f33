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

Several workers: each folder is imported by one process at a time, the others
stand by and take over when it dies (:mod:`sync.ingest.owner`). Ownership is
checked before every file is touched; a worker that gains a folder resumes what
its previous owner left in ``processing/``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
import weakref
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
from sync.ingest.owner import RETRY_SECONDS, Locks, Ownership
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


def _file_away(path: Path, target: Path, report: str | None) -> Path | None:
    """Move ``path`` to ``target`` (or a free name beside it), with ``report`` as
    ``NAME.error.txt``; None when the file is gone: a worker that took the folder
    over while this one was importing it filed it already."""
    target = _unique(target)
    error_txt = target.with_name(target.name + ".error.txt")
    if report is not None:
        _write_text(error_txt, report)
    try:
        os.rename(path, target)
    except FileNotFoundError:
        if not path.exists() and not path.is_symlink():
            log.info("%s was filed by the worker that took over its folder", path.name)
            if report is not None:
                with contextlib.suppress(OSError):
                    os.remove(error_txt)  # our own report, for a file filed elsewhere
            return None
        raise
    return target


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


class _NotOwner(Exception):
    """This process lost the folder it was scanning: touch no other file in it."""


class DropFolderWatcher:
    """Imports what lands in the configured drop folders this process owns.

    It is the engine's ``ingest`` part (:class:`sync.service.Part`): ``run_once``
    is one full pass, ``run`` watches until stopped. Ownership of each folder
    (:class:`~sync.ingest.owner.Ownership`) is taken as it goes and let go by
    :meth:`close`, at the end of ``run`` and ``run_once``, or when the watcher is
    garbage collected.
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
        locks: Locks | None = None,
    ) -> None:
        self.store = store
        self.settings = settings
        self.folders = settings.ingest.drop_folders if folders is None else folders
        self.on_changes = on_changes
        self.on_event = on_event
        self._observed: dict[str, tuple[int, int]] = {}
        #: ``locks``: this process's by default (tests give two watchers their own).
        self.ownership = Ownership(store, self.folders, locks=locks)
        #: Folders just gained: what is in their processing/ is resumed.
        self._resume: set[Path] = set()
        #: True while some file is waiting to look complete: scan again soon.
        self.pending = False
        weakref.finalize(self, self.ownership.close)

    def close(self) -> None:
        """Let go of the folders this watcher owns (another worker may take them)."""
        self.ownership.close()

    def status(self) -> dict[str, list[str]]:
        """For the heartbeat: folders owned, and stood by for (another worker owns them)."""
        return self.ownership.status()

    # -- scanning -----------------------------------------------------------------

    def scan_once(self) -> list[FolderEvent]:
        """Take what is free and one full pass over every folder owned; returns what
        happened to each file taken."""
        self._take_ownership()
        return self._pass()

    def _take_ownership(self, *, announce: bool = True) -> bool:
        """Check the folders owned and try the others; True when one was gained."""
        gained = self.ownership.refresh(announce=announce)
        self._resume.update(folder.path for folder in gained)
        return bool(gained)

    def _pass(self) -> list[FolderEvent]:
        events: list[FolderEvent] = []
        pending = False
        for folder in self.folders:
            if not self.ownership.owns(folder):
                continue
            try:
                found, waiting = self._scan(folder)
            except OSError as exc:
                log.error("drop folder %s cannot be scanned: %s", folder.path, exc)
                continue
            events.extend(found)
            pending = pending or waiting
        self.pending = pending
        return events

    def _mine(self, folder: DropFolder) -> None:
        """Before a file is touched: still this process's folder?"""
        if not self.ownership.confirm(folder):
            raise _NotOwner(folder.path)

    def _dirs(self, folder: DropFolder) -> None:
        folder.path.mkdir(parents=True, exist_ok=True)
        for sub in (PROCESSING, PROCESSED, FAILED):
            (folder.path / sub).mkdir(exist_ok=True)

    def _scan(self, folder: DropFolder) -> tuple[list[FolderEvent], bool]:
        events: list[FolderEvent] = []
        try:
            waiting = self._scan_into(folder, events)
        except _NotOwner:
            waiting = False  # the new owner takes it from here
        return events, waiting

    def _scan_into(self, folder: DropFolder, events: list[FolderEvent]) -> bool:
        self._dirs(folder)
        root = folder.path
        if root in self._resume:
            for leftover in sorted((root / PROCESSING).iterdir()):
                if leftover.is_file() and not leftover.is_symlink():
                    self._mine(folder)
                    log.info("resuming %s, left in processing/ by an interrupted run", leftover)
                    events.append(self._import(folder, leftover))
            self._resume.discard(root)
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
            self._mine(folder)
            target = _unique(root / PROCESSING / name)
            try:
                os.rename(path, target)
            except FileNotFoundError:
                continue  # another worker took it
            events.append(self._import(folder, target, original=name))
        for key in [k for k in self._observed if k.startswith(str(root) + os.sep)]:
            if key not in seen_now:
                del self._observed[key]
        return waiting

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
            why = f"internal error: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
            moved = _file_away(path, folder.path / FAILED / name, error_report(name, None, why))
            return self._emit(FolderEvent(folder.path, name, REJECTED, moved, why))
        reason = result.error if result.outcome in (REJECTED, DUPLICATE) else None
        if result.outcome in (IMPORTED, PARTIAL, DUPLICATE):
            day = folder.path / PROCESSED / self._today()
            day.mkdir(parents=True, exist_ok=True)
            report = error_report(name, result, None) if result.outcome == PARTIAL else None
            moved = _file_away(path, day / name, report)
        else:
            moved = _file_away(
                path, folder.path / FAILED / name, error_report(name, result, result.error)
            )
        if moved is None:
            reason = "filed meanwhile by the worker that took over the folder"
        return self._emit(FolderEvent(folder.path, name, result.outcome, moved, reason, result))

    def _refuse(self, folder: DropFolder, path: Path, reason: str) -> FolderEvent:
        self._mine(folder)
        # a symlink moves as a link; its target is untouched
        report = error_report(path.name, None, f"refused: {reason}")
        moved = _file_away(path, folder.path / FAILED / path.name, report)
        return self._emit(FolderEvent(folder.path, path.name, REFUSED, moved, reason))

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
        what it did. This is what ``orderdeck sync --once`` runs.

        A folder another live worker owns is skipped, with a warning: one pass does
        not wait for it. The folders taken are let go at the end."""
        try:
            await asyncio.to_thread(self._take_ownership, announce=False)
            busy = self.ownership.standing_by
            for path, why in busy.items():
                log.warning("drop folder %s skipped: %s", path, why)
            events = await asyncio.to_thread(self._pass)
            min_age = self.settings.ingest.min_age_seconds
            recheck = max(0.25, min_age / 2)
            deadline = time.monotonic() + max(5.0, 3 * min_age)
            while self.pending and time.monotonic() < deadline:
                await asyncio.sleep(recheck)
                events.extend(await asyncio.to_thread(self._pass))
        finally:
            self.close()
        counters = tally(events)
        if self.pending:
            counters["waiting"] = counters.get("waiting", 0) + 1
        if busy:
            counters["folders_owned_elsewhere"] = len(busy)
        return counters

    async def run(self, stop_event: asyncio.Event) -> None:
        """Scan at start, on file events, and every ``scan_interval``, until stopped.

        Every :data:`~sync.ingest.owner.RETRY_SECONDS` the folders owned are checked
        and the others tried; a folder gained is scanned at once."""
        interval = self.settings.ingest.scan_interval_seconds
        recheck = min(interval, max(0.25, self.settings.ingest.min_age_seconds / 2))
        wake = asyncio.Event()
        watching = asyncio.create_task(self._watch(wake, stop_event))
        next_scan = 0.0
        woke = False
        try:
            while not stop_event.is_set():
                try:
                    gained = await asyncio.to_thread(self._take_ownership)
                    if gained or woke or self.pending or time.monotonic() >= next_scan:
                        next_scan = time.monotonic() + interval
                        await asyncio.to_thread(self._pass)
                except Exception:
                    # The store is away, a disk is full...: the file went back to the
                    # folder (or stays in processing/); the next scan tries again.
                    log.exception("drop folder scan failed; trying again in %ss", interval)
                    self.pending = False
                timeout = recheck if self.pending else max(0.0, next_scan - time.monotonic())
                if self.folders:
                    timeout = min(timeout, RETRY_SECONDS)
                waits = [
                    asyncio.ensure_future(wake.wait()),
                    asyncio.ensure_future(stop_event.wait()),
                ]
                try:
                    await asyncio.wait(waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    for task in waits:
                        task.cancel()
                woke = wake.is_set()
                wake.clear()
        finally:
            watching.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watching
            self.close()

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
