"""What the sync engine needs to know, built by ``orderdeck.config`` from the TOML file."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

#: The engine's parts, in the order a pass runs them.
ENGINE_PARTS = ("ingest", "poller", "dispatcher")

FOLDER_FORMATS = ("auto", "shopify", "woocommerce", "tracking", "csv", "json", "ndjson")

#: The orderdeck fields a ``[sync.formats.NAME.columns]`` map may name (see docs/ingest.md).
CSV_FIELDS = (
    "number",
    "external_id",
    "created_at",
    "updated_at",
    "status",
    "customer_name",
    "first_name",
    "last_name",
    "email",
    "phone",
    "ship_name",
    "ship_company",
    "ship_address1",
    "ship_address2",
    "ship_city",
    "ship_province",
    "ship_zip",
    "ship_country",
    "ship_phone",
    "currency",
    "total",
    "financial_status",
    "fulfillment_status",
    "cancelled_at",
    "tags",
    "note",
    "sku",
    "name",
    "quantity",
    "price",
    "tracking_number",
    "carrier",
    "shipped_at",
)


@dataclass(frozen=True)
class DropFolder:
    path: Path
    source: str
    #: One of FOLDER_FORMATS, or the name of a ``[sync.formats.NAME]`` column map.
    format: str = "auto"
    encoding: str = "utf-8"


@dataclass(frozen=True)
class CsvFormat:
    """A generic CSV export: which of their headers holds which orderdeck field."""

    name: str
    columns: dict[str, str]
    delimiter: str = ","
    date_format: str | None = None
    kind: str = "orders"  # "orders" or "tracking"


@dataclass(frozen=True)
class IngestSettings:
    drop_folders: tuple[DropFolder, ...] = ()
    formats: dict[str, CsvFormat] = field(default_factory=dict)
    #: A full scan runs this often, whatever the file watcher says.
    scan_interval_seconds: float = 30.0
    #: A file must be at least this old (and stable over two checks) to be taken.
    min_age_seconds: float = 2.0
    max_file_bytes: int = 1_000_000_000
    batch_size: int = 2_000


@dataclass(frozen=True)
class CarrierSettings:
    """One ``[carriers.CODE]`` section; adapters read their keys from ``options``."""

    code: str
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def base_url(self) -> str | None:
        value = self.options.get("base_url")
        return str(value) if value else None

    @property
    def rate_limit(self) -> float | None:
        value = self.options.get("rate_limit")
        return float(value) if value is not None else None

    @property
    def enabled(self) -> bool:
        return bool(self.options.get("enabled", True))


@dataclass(frozen=True)
class AttentionSettings:
    #: Hours after the estimated delivery before a parcel counts as late.
    late_grace_hours: float = 12.0
    stalled_business_days: int = 3
    not_picked_up_days: int = 2
    unfulfilled_days: int = 2
    #: How long a carrier may say "not found" before the number is called invalid.
    not_found_days: int = 3
    #: No information at all for this long: the shipment expires.
    expire_days: int = 30


@dataclass(frozen=True)
class PollSettings:
    concurrency: int = 8
    #: Minutes between polls, by status.
    interval_minutes: dict[str, float] = field(
        default_factory=lambda: {
            "pending": 240.0,
            "info_received": 180.0,
            "in_transit": 120.0,
            "out_for_delivery": 30.0,
            "available_for_pickup": 240.0,
            "failed_attempt": 60.0,
            "exception": 120.0,
        }
    )
    max_retries: int = 5
    backoff_base_seconds: float = 1.0
    backoff_max_seconds: float = 300.0
    circuit_failures: int = 5
    circuit_cooldown_seconds: float = 60.0
    lease_seconds: float = 120.0
    timeout_seconds: float = 30.0
    #: Share of each provider's rate limit left unused, so that network jitter
    #: bunching requests on the way never pushes one second over the limit.
    rate_headroom: float = 0.05


@dataclass(frozen=True)
class TrackingSettings:
    aggregators: tuple[str, ...] = ()
    carriers: dict[str, CarrierSettings] = field(default_factory=dict)
    poll: PollSettings = field(default_factory=PollSettings)
    #: Rate limits kept in the store and shared by every worker (sync.sharedlimit):
    #: True, False, or None for "auto" (on with PostgreSQL, off with SQLite).
    shared_rate_limits: bool | None = None


@dataclass(frozen=True)
class SyncSettings:
    ingest: IngestSettings = field(default_factory=IngestSettings)
    tracking: TrackingSettings = field(default_factory=TrackingSettings)
    attention: AttentionSettings = field(default_factory=AttentionSettings)
    #: The shop's zone: business days and "today" are counted there.
    timezone: str = "UTC"
    #: ISO country used to read phone numbers given without a country code.
    default_country: str | None = None
    heartbeat_seconds: float = 5.0
    #: Weekdays that are business days (Monday = 0).
    business_days: tuple[int, ...] = (0, 1, 2, 3, 4)

    @property
    def heartbeat_fresh(self) -> timedelta:
        """How recent a worker's heartbeat must be for it to count as alive: three beats,
        and never under 15 seconds."""
        return timedelta(seconds=max(15.0, self.heartbeat_seconds * 3))
