"""Which format a file is in, from its name, its first characters and its header."""

from __future__ import annotations

from pathlib import Path

from sync.ingest.csvformats import SHOPIFY, TRACKING, WOOCOMMERCE, match_columns, read_header
from sync.ingest.errors import FileRejected
from sync.settings import CsvFormat

#: Formats a caller may name; "auto" detects, "csv" means "a CSV, whichever kind".
FORMATS = ("auto", "shopify", "woocommerce", "tracking", "csv", "json", "ndjson")


def _looks_ndjson(head: str) -> bool:
    lines = [line.strip() for line in head.splitlines() if line.strip()]
    if not lines or not lines[0].startswith("{") or lines[0].startswith('{"orders"'):
        return False
    if len(lines) == 1:
        return lines[0].endswith("}")
    # A pretty-printed object spans lines; NDJSON's first line is a whole object.
    return lines[0].endswith("}") and lines[1].startswith("{")


def detect(path: Path, head: str, formats: dict[str, CsvFormat], wanted: str = "auto") -> str:
    """A built-in format name or a ``[sync.formats.NAME]`` name; :class:`FileRejected`
    when the file is none of them."""
    stripped = head.lstrip()
    suffix = path.suffix.lower()
    if wanted in ("json", "ndjson", "shopify", "woocommerce", "tracking") or wanted in formats:
        return wanted
    if suffix in (".ndjson", ".jsonl") or (suffix != ".json" and _looks_ndjson(stripped)):
        if wanted == "csv":
            raise FileRejected("this is NDJSON, not CSV (use --format ndjson)")
        return "ndjson"
    if suffix == ".json" or stripped.startswith(("[", "{")):
        if wanted == "csv":
            raise FileRejected("this is JSON, not CSV (use --format json)")
        return "json"
    header, _ = read_header(stripped)
    if len([h for h in header if h.strip()]) < 2:
        raise FileRejected(
            "cannot tell the format: the first line is not a CSV header "
            f"({stripped.splitlines()[0][:80]!r})"
        )
    return detect_csv(header, formats)


def detect_csv(header: list[str], formats: dict[str, CsvFormat]) -> str:
    shop = match_columns(header, SHOPIFY)
    if "number" in shop and ("name" in shop or "financial_status" in shop):
        return "shopify"
    woo = match_columns(header, WOOCOMMERCE)
    if "number" in woo and ({"name", "status", "first_name", "email"} & woo.keys()):
        return "woocommerce"
    best: tuple[int, str] | None = None
    for name, fmt in formats.items():
        found = match_columns(header, {k: (v,) for k, v in fmt.columns.items()})
        if len(found) == len(fmt.columns) and (best is None or len(found) > best[0]):
            best = (len(found), name)
    if best is not None:
        return best[1]
    tracking = match_columns(header, TRACKING)
    if "number" in tracking and "tracking_number" in tracking:
        return "tracking"
    shown = ", ".join(repr(h) for h in header[:10]) + (" ..." if len(header) > 10 else "")
    raise FileRejected(
        f"unknown columns: {shown} match no format orderdeck knows (Shopify, WooCommerce, "
        "tracking) nor any [sync.formats.NAME] column map; add one, or name the format "
        "with --format"
    )
