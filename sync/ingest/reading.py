"""From an open file to records: the part of an import that needs no store.

It runs in this process for small files and in the parsing child
(:mod:`sync.ingest.parse_child`) for large ones, so it imports nothing heavy.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from sync.ingest import csvformats
from sync.ingest.errors import FileRejected
from sync.ingest.jsonformat import JsonReader, json_elements, ndjson_elements
from sync.ingest.records import OrderRecord, RowError, TrackingRecord
from sync.ingest.textio import Opened
from sync.settings import SyncSettings


class RowCount(Protocol):
    rows_total: int


class Counter:
    def __init__(self) -> None:
        self.rows_total = 0


def build_records(
    opened: Opened,
    fmt: str,
    settings: SyncSettings,
    shown: str,
    now: datetime,
    result: RowCount,
) -> Iterator[OrderRecord | TrackingRecord | RowError]:
    zone = ZoneInfo(settings.timezone)
    if fmt in ("json", "ndjson"):
        reader = JsonReader(
            file=shown, zone=zone, default_country=settings.default_country, now=now
        )
        elements = (
            json_elements(opened.stream, opened.encoding)
            if fmt == "json"
            else ndjson_elements(opened.stream, opened.encoding)
        )

        def counted() -> Iterator[Any]:
            for element in elements:
                result.rows_total += 1
                yield element

        return reader.records(counted())
    custom = settings.ingest.formats.get(fmt)
    header, delimiter = csvformats.read_header(
        opened.head, custom.delimiter if custom is not None else None
    )
    if not any(h.strip() for h in header):
        raise FileRejected("the first line is empty: a CSV export starts with its header")
    layout = csvformats.layout_for(fmt, header, delimiter, custom)
    rows = csvformats.csv_rows(opened.stream, layout.delimiter, opened.encoding)

    def counted_rows() -> Iterator[tuple[int, list[str]]]:
        for item in rows:
            result.rows_total += 1
            yield item

    reader = csvformats.RowReader(
        layout, file=shown, zone=zone, default_country=settings.default_country, now=now
    )
    return reader.records(counted_rows())
