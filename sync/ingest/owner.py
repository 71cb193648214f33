"""One owner per drop folder: several workers may watch a folder, one process imports.

When several ``orderdeck sync`` processes run (against PostgreSQL, on one machine
or on several sharing the drop folder over a network mount; or against one SQLite
store on one machine), each folder is imported by exactly one process at a time.
The others stand by, try again every few seconds, and the first to get the lock
after the owner dies takes over (resuming what the owner left in ``processing/``).

Which folder is which: ``FOLDER/.orderdeck-folder`` holds a random id, written by
the first worker that looks at the folder. Every worker that reaches the folder,
under whatever path it is mounted, reads the same id; two separate folders that
happen to have the same path on two machines have different ids. The lock is keyed
on that id (not on the path, which differs between machines, nor on the configured
``source``, which a copied configuration may get wrong).

- PostgreSQL: a session advisory lock, ``pg_try_advisory_lock(NAMESPACE, key)``
  (the two-number form, apart from the one-number locks other code takes), held
  on a connection of its own for as long as the process owns the folder. The
  owner dies: its connection closes and PostgreSQL frees the lock at once. Its
  machine dies or the network splits: the server's keepalives on that connection
  (set below) free it within about half a minute; the owner, checking its lock
  before every file and every few seconds, notices sooner and stops first.
- SQLite: ``flock`` on ``.orderdeck-folder`` itself (one machine; released by the
  kernel when the process dies). Deleting or replacing the file ends ownership.

Within one process, all watchers of a folder share its lock (ownership is per
process).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Protocol

from store.engine import Store
from sync.settings import DropFolder

log = logging.getLogger(__name__)

MARKER = ".orderdeck-folder"
#: The first number of the two-number advisory lock: "orderdeck drop folder".
NAMESPACE = 0x0DEC_0F01
#: How often a standby tries the lock, and an owner checks it while idle.
RETRY_SECONDS = 5.0
_HEADER = "orderdeck drop folder "
_NOTE = (
    "# This file tells orderdeck workers which drop folder this is, wherever it is\n"
    "# mounted. Keep it; in a copy of the folder, delete it (the copy gets its own).\n"
)
#: A marker younger than this may still be being written by another worker.
_YOUNG_SECONDS = 10.0


class OwnershipError(Exception):
    """The folder's lock cannot be taken (not "someone else has it": that is None)."""


# -- the folder's identity ---------------------------------------------------------


def _parse(text: str) -> str | None:
    first = text.split("\n", 1)[0].strip()
    if not first.startswith(_HEADER):
        return None
    value = first[len(_HEADER) :].strip()
    try:
        return uuid.UUID(hex=value).hex
    except ValueError:
        return None


def folder_identity(root: Path) -> str | None:
    """The id in ``root/.orderdeck-folder``, written there first if there is none.

    None while another worker is still writing it (try again later).
    """
    marker = root / MARKER
    try:
        text = marker.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        identity = uuid.uuid4().hex
        try:
            fd = os.open(marker, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:  # another worker wrote it just now
            text = marker.read_text(encoding="utf-8", errors="replace")
        else:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(f"{_HEADER}{identity}\n{_NOTE}")
                handle.flush()
                os.fsync(handle.fileno())
            return identity
    found = _parse(text)
    if found is None:
        with contextlib.suppress(OSError):
            if time.time() - marker.stat().st_mtime < _YOUNG_SECONDS:
                return None
        raise OwnershipError(
            f"{marker} is damaged (its first line should be '{_HEADER}<32 hex digits>'); "
            "delete it and a worker writes a new one"
        )
    return found


def lock_key(identity: str) -> int:
    """The second number of the advisory lock: a signed 32-bit hash of the id."""
    digest = hashlib.sha256(identity.encode("ascii")).digest()
    return int.from_bytes(digest[:4], "big", signed=True)


# -- locks, shared by every watcher in this process -----------------------------------


@dataclass(frozen=True)
class Claim:
    """This process's hold on one folder's lock (``generation`` ends when it is lost)."""

    key: Any
    marker: Path
    identity: str | None
    generation: int


class Locks(Protocol):
    kind: str

    def acquire(self, root: Path) -> Claim | str:
        """Take (or join this process's hold on) the folder's lock; else why not."""
        ...

    def held(self, claim: Claim) -> bool:
        """Whether the lock is still this process's (a cheap check, before each file)."""
        ...

    def release(self, claim: Claim) -> None: ...


class FlockLocks:
    """``flock`` on the folder's marker file: one machine (SQLite stores)."""

    kind = "flock"

    def __init__(self) -> None:
        self._mutex = threading.Lock()
        #: (st_dev, st_ino) of a marker -> [fd, users]
        self._held: dict[tuple[int, int], list[int]] = {}

    def acquire(self, root: Path) -> Claim | str:
        import fcntl

        identity = folder_identity(root)
        if identity is None:
            return "its .orderdeck-folder is being written by another worker"
        marker = root / MARKER
        fd = os.open(marker, os.O_RDONLY)
        try:
            st = os.fstat(fd)
            key = (st.st_dev, st.st_ino)
            with self._mutex:
                entry = self._held.get(key)
                if entry is not None:
                    entry[1] += 1
                    return Claim(key, marker, identity, 0)
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    return f"another process on this machine holds the lock on {marker}"
                if not _same_file(key, marker):  # replaced between open and flock
                    return f"{marker} was just replaced"
                self._held[key] = [fd, 1]
                fd = -1
                return Claim(key, marker, identity, 0)
        finally:
            if fd >= 0:
                os.close(fd)

    def held(self, claim: Claim) -> bool:
        with self._mutex:
            entry = self._held.get(claim.key)
            if entry is None:
                return False
            if _same_file(claim.key, claim.marker):
                return True
            os.close(entry[0])  # the marker was deleted or replaced: the lock is void
            del self._held[claim.key]
            return False

    def release(self, claim: Claim) -> None:
        with self._mutex:
            entry = self._held.get(claim.key)
            if entry is None:
                return
            entry[1] -= 1
            if entry[1] <= 0:
                os.close(entry[0])
                del self._held[claim.key]


class Unlocked:
    """Where there is no ``flock`` (Windows, where ``orderdeck sync`` does not run):
    this process owns every folder; run one worker per folder there."""

    kind = "no"

    def acquire(self, root: Path) -> Claim | str:
        return Claim(root, root / MARKER, None, 0)

    def held(self, claim: Claim) -> bool:
        return True

    def release(self, claim: Claim) -> None:
        return None


def _same_file(key: tuple[int, int], marker: Path) -> bool:
    try:
        st = os.stat(marker)
    except OSError:
        return False
    return (st.st_dev, st.st_ino) == key


class PgLocks:
    """Session advisory locks on a dedicated PostgreSQL connection."""

    kind = "advisory"

    #: Client side: a dead server or network is noticed within ~10 s of silence.
    CLIENT_KEEPALIVE: ClassVar[dict[str, Any]] = {
        "keepalives": 1,
        "keepalives_idle": 5,
        "keepalives_interval": 2,
        "keepalives_count": 3,
        "tcp_user_timeout": 10_000,
        "connect_timeout": 5,
    }
    #: Server side (this session only): a dead owner's lock is freed within ~30 s.
    SERVER_SETTINGS = (
        ("tcp_keepalives_idle", "10"),
        ("tcp_keepalives_interval", "5"),
        ("tcp_keepalives_count", "3"),
        ("tcp_user_timeout", "20000"),
        ("statement_timeout", "10000"),
        ("idle_in_transaction_session_timeout", "0"),
    )

    def __init__(self, url: str) -> None:
        self.url = url
        self._mutex = threading.Lock()
        self._conn: Any = None
        self._generation = 0
        #: advisory key -> users in this process
        self._users: dict[int, int] = {}

    def _connection(self) -> Any:
        if self._conn is not None and not self._conn.closed:
            return self._conn
        import psycopg

        self._drop()
        name = f"orderdeck owner {socket.gethostname()}:{os.getpid()}"[:63]
        conn = psycopg.connect(
            self.url, autocommit=True, application_name=name, **self.CLIENT_KEEPALIVE
        )
        try:
            for setting, value in self.SERVER_SETTINGS:
                conn.execute("SELECT set_config(%s, %s, false)", (setting, value))
        except Exception:
            conn.close()
            raise
        self._conn = conn
        return conn

    def _drop(self) -> None:
        """The connection is gone: so are the locks it held, for every watcher."""
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.close()
        self._conn = None
        self._users.clear()
        self._generation += 1

    def _held_keys(self) -> set[int]:
        """The keys this session holds (unsigned, as pg_locks shows them)."""
        rows = self._connection().execute(
            "SELECT objid FROM pg_locks WHERE locktype = 'advisory' AND classid = %s "
            "AND objsubid = 2 AND pid = pg_backend_pid() AND granted",
            (NAMESPACE,),
        )
        return {int(row[0]) for row in rows}

    def acquire(self, root: Path) -> Claim | str:
        import psycopg

        identity = folder_identity(root)
        if identity is None:
            return "its .orderdeck-folder is being written by another worker"
        key = lock_key(identity)
        marker = root / MARKER
        with self._mutex:
            try:
                if key in self._users:
                    if key & 0xFFFFFFFF in self._held_keys():
                        self._users[key] += 1
                        return Claim(key, marker, identity, self._generation)
                    self._drop()
                conn = self._connection()
                got = conn.execute(
                    "SELECT pg_try_advisory_lock(%s, %s)", (NAMESPACE, key)
                ).fetchone()
                if got and got[0]:
                    self._users[key] = 1
                    return Claim(key, marker, identity, self._generation)
                return "owned by " + (self._holder(key) or "another worker")
            except psycopg.Error as exc:
                self._drop()
                raise OwnershipError(
                    f"cannot take the lock in PostgreSQL: {_first_line(exc)}"
                ) from None

    def _holder(self, key: int) -> str | None:
        """Who holds the lock, for the log: its connection's application name."""
        with contextlib.suppress(Exception):
            row = (
                self._connection()
                .execute(
                    "SELECT a.application_name, a.client_addr FROM pg_locks l "
                    "JOIN pg_stat_activity a ON a.pid = l.pid WHERE l.locktype = 'advisory' "
                    "AND l.classid = %s AND l.objid = %s AND l.objsubid = 2 AND l.granted",
                    (NAMESPACE, key & 0xFFFFFFFF),
                )
                .fetchone()
            )
            if row and row[0]:
                who = str(row[0]).removeprefix("orderdeck owner ")
                return f"the worker at {who}" + (f" (from {row[1]})" if row[1] else "")
        return None

    def held(self, claim: Claim) -> bool:
        import psycopg

        with self._mutex:
            if claim.generation != self._generation or claim.key not in self._users:
                return False
            if self._conn is None or self._conn.closed:
                self._drop()
                return False
            try:
                if claim.key & 0xFFFFFFFF in self._held_keys():
                    return True
            except psycopg.Error as exc:
                log.debug("drop-folder lock connection failed: %s", exc)
            self._drop()
            return False

    def release(self, claim: Claim) -> None:
        with self._mutex:
            if claim.generation != self._generation or claim.key not in self._users:
                return
            key = claim.key
            self._users[key] -= 1
            if self._users[key] > 0:
                return
            del self._users[key]
            try:
                # Unlocked now, not whenever the server notices the connection closed.
                self._conn.execute("SELECT pg_advisory_unlock(%s, %s)", (NAMESPACE, key))
            except Exception:
                self._drop()  # the connection is gone, and with it the lock
                return
            if not self._users:
                self._drop()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


_registry_mutex = threading.Lock()
_registry: dict[str, Locks] = {}


def locks_for(store: Store) -> Locks:
    """This process's locks for ``store``'s kind of database (shared by its watchers)."""
    if store.is_sqlite:
        key = "flock"
    else:
        key = store.url.set(drivername="postgresql").render_as_string(hide_password=False)
    with _registry_mutex:
        locks = _registry.get(key)
        if locks is None:
            locks = PgLocks(key) if not store.is_sqlite else FlockLocks() if _has_flock() else None
            if locks is None:
                log.warning("no file locks on this platform: run one worker per drop folder")
                locks = Unlocked()
            _registry[key] = locks
        return locks


def _has_flock() -> bool:
    try:
        import fcntl
    except ImportError:
        return False
    return hasattr(fcntl, "flock")


# -- one watcher's view ----------------------------------------------------------


class Ownership:
    """Which of a watcher's folders this process owns; the others are tried again.

    :meth:`refresh` checks the held locks and tries the others (call it every
    :data:`RETRY_SECONDS` or so); :meth:`confirm` is the check before each file.
    Ownership gained and lost is logged once, at INFO.
    """

    def __init__(
        self, store: Store, folders: Sequence[DropFolder], *, locks: Locks | None = None
    ) -> None:
        self.locks = locks or locks_for(store)
        self.folders = tuple(folders)
        self._claims: dict[Path, Claim] = {}
        #: folder -> why this worker stands by for it
        self._standby: dict[Path, str] = {}

    def owns(self, folder: DropFolder) -> bool:
        return folder.path in self._claims

    @property
    def standing_by(self) -> dict[Path, str]:
        return dict(self._standby)

    def refresh(self, *, announce: bool = True) -> list[DropFolder]:
        """Check what is held, try what is not; the folders owned from now on."""
        gained: list[DropFolder] = []
        for folder in self.folders:
            claim = self._claims.get(folder.path)
            if claim is not None:
                why = self._why_lost(folder, claim)
                if why is None:
                    continue
                self._lose(folder, why)
            try:
                folder.path.mkdir(parents=True, exist_ok=True)
                got = self.locks.acquire(folder.path)
            except (OSError, OwnershipError) as exc:
                reason = str(exc) if isinstance(exc, OwnershipError) else _os_reason(exc)
                self._stand_by(folder, f"cannot take its lock: {reason}", announce)
                continue
            if isinstance(got, str):
                self._stand_by(folder, got, announce)
                continue
            self._claims[folder.path] = got
            self._standby.pop(folder.path, None)
            log.info(
                "drop folder %s (source %s): this worker owns it now (%s lock)",
                folder.path,
                folder.source,
                self.locks.kind,
            )
            gained.append(folder)
        return gained

    def confirm(self, folder: DropFolder) -> bool:
        """True while this process still owns ``folder``; on loss, stand by."""
        claim = self._claims.get(folder.path)
        if claim is None:
            return False
        if self.locks.held(claim):
            return True
        self._lose(folder, "its lock was lost")
        return False

    def _why_lost(self, folder: DropFolder, claim: Claim) -> str | None:
        if not self.locks.held(claim):
            return "its lock was lost"
        if claim.identity is not None:
            try:
                now = folder_identity(folder.path)
            except (OSError, OwnershipError) as exc:
                return f"its {MARKER} cannot be read: {exc}"
            if now is not None and now != claim.identity:
                return f"its {MARKER} was replaced"
        return None

    def _lose(self, folder: DropFolder, why: str) -> None:
        claim = self._claims.pop(folder.path)
        self.locks.release(claim)
        self._standby[folder.path] = why
        log.info(
            "drop folder %s: this worker no longer owns it (%s); standing by", folder.path, why
        )

    def _stand_by(self, folder: DropFolder, why: str, announce: bool) -> None:
        if announce and self._standby.get(folder.path) != why:
            log.info("drop folder %s: standing by, %s", folder.path, why)
        self._standby[folder.path] = why

    def close(self) -> None:
        """Let go of every folder (the next :meth:`refresh` may take them again)."""
        for path, claim in list(self._claims.items()):
            del self._claims[path]
            self.locks.release(claim)
            log.info("drop folder %s: released", path)
        self._standby.clear()

    def status(self) -> dict[str, list[str]]:
        """For the heartbeat: the folders owned and those stood by for."""
        return {
            "folders_owned": [str(p) for p in list(self._claims)],
            "folders_standby": [str(p) for p in list(self._standby)],
        }


def _os_reason(exc: OSError) -> str:
    where = f"{exc.filename}: " if exc.filename else ""
    return f"{where}{exc.strerror or exc}"
