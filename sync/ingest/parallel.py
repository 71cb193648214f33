"""Parsing a large file in a child process while this one writes to the store.

Parsing, validating and normalizing contacts is pure Python and takes the GIL,
and so does binding every row in sqlite3: two threads only convoy (measured
slower than one). A child process parses instead, and hands over records in
pickled chunks through a pipe; the pipe's small buffer is the back-pressure, so
neither side ever holds more than a few chunks. The child never touches the
store: the transaction, and everything in it, stays in this process.

Small files are parsed in-process: starting the child costs more than it saves.
"""

from __future__ import annotations

import os
import pickle
import struct
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import IO, Any

import sync
from sync.ingest.errors import FileRejected
from sync.settings import SyncSettings

#: Files at least this large are parsed in a child process.
PARALLEL_BYTES = 8_000_000
CHUNK = 500
_LENGTH = struct.Struct("!I")


def send(out: IO[bytes], message: tuple[Any, ...]) -> None:
    data = pickle.dumps(message, pickle.HIGHEST_PROTOCOL)
    out.write(_LENGTH.pack(len(data)))
    out.write(data)


def _receive(stream: IO[bytes]) -> tuple[Any, ...] | None:
    head = stream.read(_LENGTH.size)
    if len(head) < _LENGTH.size:
        return None
    (size,) = _LENGTH.unpack(head)
    data = stream.read(size)
    if len(data) < size:
        return None
    return pickle.loads(data)  # our own child, over a private pipe


def _widen(pipe: IO[bytes]) -> None:
    """Let the child run ahead by about a megabyte: with the default 64 KiB pipe it
    blocks after a fraction of one chunk and the two processes take turns instead
    of working at once."""
    try:
        import fcntl

        fcntl.fcntl(pipe.fileno(), getattr(fcntl, "F_SETPIPE_SZ", 1031), 1 << 20)
    except (ImportError, OSError):
        pass  # not Linux, or over the system's limit: a smaller pipe still works


def records_from_child(
    path: Path,
    *,
    encoding: str,
    fmt: str,
    settings: SyncSettings,
    shown: str,
    now: datetime,
    on_progress: Callable[[int, int], None],
) -> Iterator[Any]:
    """The records of ``path``, parsed by a child process; ``on_progress(rows, bytes)``
    after each chunk. Raises what the child met (:class:`FileRejected` included)."""
    env = dict(os.environ)
    root = str(Path(sync.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    child = subprocess.Popen(
        [sys.executable, "-m", "sync.ingest.parse_child"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env=env,
    )
    assert child.stdin is not None and child.stdout is not None
    _widen(child.stdout)
    try:
        pickle.dump((str(path), encoding, fmt, settings, shown, now), child.stdin)
        child.stdin.close()
        while True:
            message = _receive(child.stdout)
            if message is None:
                raise RuntimeError("the parsing process ended without a word")
            kind, payload, rows, done = message
            on_progress(rows, done)
            if kind == "rows":
                yield from payload
            elif kind == "end":
                return
            elif kind == "rejected":
                reason, row = payload
                raise FileRejected(reason, row=row)
            else:
                raise RuntimeError(f"the parsing process failed:\n{payload}")
    finally:
        if child.poll() is None:
            child.kill()
        child.stdout.close()
        child.wait()
