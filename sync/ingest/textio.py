"""Opening an export as text: BOMs, encodings, and files that are not text at all.

The file is never read whole: callers get a text stream decoded as they go, so a
byte that is not valid in the encoding surfaces as :class:`FileRejected` naming
where it is, and the transaction that was filling the store rolls back.
"""

from __future__ import annotations

import codecs
import io
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from sync.ingest.errors import FileRejected

_SNIFF = 64 * 1024
_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"PK\x03\x04", "a ZIP archive or an Excel workbook (.xlsx); export the orders as CSV"),
    (b"\xd0\xcf\x11\xe0", "an old Excel workbook (.xls); export the orders as CSV"),
    (b"\x1f\x8b", "gzip-compressed; decompress it first"),
    (b"%PDF", "a PDF document, not an export"),
    (b"\x89PNG", "a PNG image, not an export"),
    (b"\xff\xd8\xff", "a JPEG image, not an export"),
    (b"SQLite format 3", "an SQLite database, not an export"),
)


@dataclass(frozen=True)
class Opened:
    stream: io.TextIOWrapper
    raw: BinaryIO
    size: int
    encoding: str
    #: The first characters (after any BOM), for format detection.
    head: str

    def bytes_read(self) -> int:
        try:
            return self.raw.tell()
        except (OSError, ValueError):
            return 0


def _describe_decode_error(exc: UnicodeDecodeError, encoding: str, line: int | None) -> str:
    bad = exc.object[exc.start : exc.start + 1]
    where = f" near line {line}" if line else ""
    hint = (
        '; save the export as UTF-8, or set encoding (e.g. "cp1252") for its drop folder'
        if encoding.replace("_", "-").lower() in ("utf-8", "utf8", "utf-8-sig")
        else ""
    )
    return f"not valid {encoding}: byte 0x{bad.hex().upper()}{where} cannot be decoded{hint}"


@contextmanager
def open_text(path: Path, encoding: str = "utf-8") -> Iterator[Opened]:
    """Open ``path`` for reading as text, or raise :class:`FileRejected`."""
    try:
        raw = open(path, "rb")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise FileRejected(f"cannot open the file: {exc.strerror or exc}") from None
    try:
        size = path.stat().st_size
        start = raw.read(_SNIFF)
        if not start.strip():
            raise FileRejected(
                "the file is empty" if not start else "the file holds only blank space"
            )
        for signature, what in _SIGNATURES:
            if start.startswith(signature):
                raise FileRejected(f"the file is {what}")
        used = encoding
        skip = 0
        if start.startswith(codecs.BOM_UTF8):
            used, skip = "utf-8", len(codecs.BOM_UTF8)
        elif start.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            # Excel's "Unicode text": unambiguous thanks to its BOM.
            used = "utf-16"
        elif b"\x00" in start:
            raise FileRejected("the file is binary (it contains NUL bytes), not a text export")
        try:
            head = start[skip:].decode(used, errors="strict")
        except UnicodeDecodeError as exc:
            if exc.start >= len(start) - skip - 4:
                # A multi-byte character cut by the sniff window; fine.
                head = start[skip : skip + exc.start].decode(used)
            else:
                line = start[skip : skip + exc.start].count(b"\n") + 1
                raise FileRejected(_describe_decode_error(exc, used, line), row=line) from None
        except LookupError:
            raise FileRejected(f"unknown encoding {encoding!r}") from None
        raw.seek(skip)
        stream = io.TextIOWrapper(raw, encoding=used, errors="strict", newline="")
        yield Opened(stream=stream, raw=raw, size=size, encoding=used, head=head)
    finally:
        raw.close()


def decode_error(exc: UnicodeDecodeError, encoding: str, line: int | None) -> FileRejected:
    return FileRejected(_describe_decode_error(exc, encoding, line), row=line)
