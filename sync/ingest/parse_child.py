"""The child process of :mod:`sync.ingest.parallel`: ``python -m sync.ingest.parse_child``.

Parameters come pickled on stdin; records go to stdout in length-prefixed pickled
chunks. It only reads the file: the store is the parent's business.
"""

from __future__ import annotations

import pickle
import sys
import traceback
from pathlib import Path
from typing import Any

from sync.ingest.errors import FileRejected
from sync.ingest.parallel import CHUNK, send
from sync.ingest.reading import Counter, build_records
from sync.ingest.textio import open_text


def main() -> None:
    path, encoding, fmt, settings, shown, now = pickle.load(sys.stdin.buffer)
    out = sys.stdout.buffer
    result = Counter()
    try:
        with open_text(Path(path), encoding) as opened:
            chunk: list[Any] = []
            for record in build_records(opened, fmt, settings, shown, now, result):
                chunk.append(record)
                if len(chunk) >= CHUNK:
                    send(out, ("rows", chunk, result.rows_total, opened.bytes_read()))
                    chunk = []
            send(out, ("rows", chunk, result.rows_total, opened.bytes_read()))
        send(out, ("end", None, result.rows_total, 0))
    except FileRejected as exc:
        send(out, ("rejected", (exc.reason, exc.row), result.rows_total, 0))
    except BaseException:
        send(out, ("error", traceback.format_exc(), result.rows_total, 0))
    out.flush()


if __name__ == "__main__":
    main()
