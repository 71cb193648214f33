"""Reading the TOML configuration into each room's typed settings.

Where the file comes from: ``--config``, else ``$ORDERDECK_CONFIG``, else
``user_config_dir("orderdeck")/config.toml`` (which may not exist: every key has
a default). ``--db`` / ``$ORDERDECK_DB`` override ``[store] url``. String values
may name environment variables as ``${NAME}``, so secrets can stay out of the file.

Every problem is reported as ``FILE: [section] key: what was expected``.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import platformdirs

from console.settings import ConsoleSettings
from notifiers.settings import AUDIENCES, EVENTS, KINDS, Channel, NotifySettings, QuietHours
from notifiers.urls import channel_kind, privacy_url
from store.errors import OrderdeckError
from store.settings import StoreSettings, default_url
from sync.settings import (
    CSV_FIELDS,
    FOLDER_FORMATS,
    AttentionSettings,
    CarrierSettings,
    CsvFormat,
    DropFolder,
    IngestSettings,
    PollSettings,
    SyncSettings,
    TrackingSettings,
)

ENV_CONFIG = "ORDERDECK_CONFIG"
ENV_DB = "ORDERDECK_DB"

#: Keys whose values are secrets wherever they appear.
SECRET_KEYS = re.compile(
    r"(^|_)(api_?key|key|secret|client_secret|password|passwd|token|access_token|"
    r"refresh_token|auth|authorization|credentials?)$",
    re.I,
)
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_WEEKDAYS = {"mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?i?b?)?\s*$", re.I)
_SIZE_UNITS = {"": 1, "b": 1, "k": 1e3, "m": 1e6, "g": 1e9, "t": 1e12}


class ConfigError(OrderdeckError):
    exit_code = 2


def default_config_path() -> Path:
    return Path(platformdirs.user_config_dir("orderdeck")) / "config.toml"


def example_config_text() -> str:
    return (Path(__file__).parent / "config.example.toml").read_text(encoding="utf-8")


@dataclass(frozen=True)
class LoggingSettings:
    level: str = "INFO"
    #: auto (text on a terminal, JSON lines otherwise), text or json.
    format: str = "auto"
    #: None: no log file; a path: a rotating log file there.
    file: Path | None = None


@dataclass(frozen=True)
class Config:
    path: Path
    #: Where the path came from: "--config", "ORDERDECK_CONFIG" or "default".
    origin: str
    exists: bool
    store: StoreSettings
    sync: SyncSettings
    notify: NotifySettings
    console: ConsoleSettings
    logging: LoggingSettings
    raw: dict[str, Any] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    config_dir: Path = field(default_factory=lambda: default_config_path().parent)

    def secrets(self) -> list[str]:
        """Every secret value in the configuration, for masking in logs and errors."""
        found: list[str] = []
        for carrier in self.sync.tracking.carriers.values():
            for key, value in carrier.options.items():
                if isinstance(value, str) and SECRET_KEYS.search(key):
                    found.append(value)
        for channel in self.notify.channels.values():
            masked = privacy_url(channel.url)
            if masked != channel.url:
                found.extend(_diff_secrets(channel.url, masked))
        return [s for s in found if s]


def _diff_secrets(original: str, masked: str) -> list[str]:
    """The pieces of ``original`` that ``masked`` replaced with ****."""
    parts = masked.split("****")
    if len(parts) < 2:
        return []
    regex = "^" + "(.*?)".join(re.escape(part) for part in parts) + "$"
    match = re.match(regex, original, re.S)
    return [g for g in match.groups() if g] if match else []


class _Reader:
    """Typed access to one table of the file, with errors that name file and key."""

    def __init__(self, file: Path, section: str, table: Mapping[str, Any], warnings: list[str]):
        self.file = file
        self.section = section
        self.table = table
        self.warnings = warnings
        self.used: set[str] = set()

    def _where(self, key: str) -> str:
        return f"{self.file}: [{self.section}] {key}" if self.section else f"{self.file}: {key}"

    def fail(self, key: str, expected: str, value: Any = None) -> ConfigError:
        got = f", got {value!r}" if value is not None else ""
        return ConfigError(f"{self._where(key)}: expected {expected}{got}")

    def get(self, key: str) -> Any:
        self.used.add(key)
        value = self.table.get(key)
        if isinstance(value, str):
            value = self._expand(key, value)
        return value

    def _expand(self, key: str, value: str) -> str:
        def sub(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in os.environ:
                raise ConfigError(
                    f"{self._where(key)}: refers to ${{{name}}}, which is not set in the environment"
                )
            return os.environ[name]

        return _ENV_REF.sub(sub, value)

    def str(self, key: str, default: Any = None, *, choices: tuple[str, ...] | None = None) -> Any:
        value = self.get(key)
        if value is None:
            return default
        if not isinstance(value, str):
            raise self.fail(key, "a string", value)
        if choices is not None and value not in choices:
            raise self.fail(key, "one of " + ", ".join(choices), value)
        return value

    def bool(self, key: str, default: bool) -> bool:
        value = self.get(key)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise self.fail(key, "true or false", value)
        return value

    def number(
        self, key: str, default: float, *, minimum: float = 0.0, positive: bool = False
    ) -> float:
        value = self.get(key)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(key, "a number", value)
        if value < minimum or (positive and value <= 0):
            bound = "greater than 0" if positive else f"at least {minimum:g}"
            raise self.fail(key, f"a number {bound}", value)
        return float(value)

    def int(self, key: str, default: int, *, minimum: int = 0) -> int:
        value = self.get(key)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(key, "a whole number", value)
        if value < minimum:
            raise self.fail(key, f"a whole number of at least {minimum}", value)
        return value

    def str_list(self, key: str, default: tuple[str, ...] = ()) -> tuple[str, ...]:
        value = self.get(key)
        if value is None:
            return default
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.fail(key, "a list of strings", value)
        return tuple(self._expand(key, v) for v in value)

    def table_of(self, key: str) -> dict[str, Any]:
        value = self.get(key)
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise self.fail(
                key, f"a table ([{self.section}.{key}])" if self.section else "a table", value
            )
        return value

    def sub(self, key: str) -> _Reader:
        name = f"{self.section}.{key}" if self.section else key
        return _Reader(self.file, name, self.table_of(key), self.warnings)

    def size(self, key: str, default: int) -> int:
        value = self.get(key)
        if value is None:
            return default
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
        if isinstance(value, str):
            match = _SIZE.match(value)
            if match:
                unit = (match.group(2) or "").lower().rstrip("b").rstrip("i")
                factor = _SIZE_UNITS.get(unit)
                if factor:
                    if "i" in (match.group(2) or "").lower():
                        factor = 1024 ** ("kmgt".index(unit) + 1)
                    return int(float(match.group(1)) * factor)
        raise self.fail(key, 'a size in bytes, or like "500MB"', value)

    def timezone(self, key: str, default: str) -> str:
        value = self.str(key, default)
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise self.fail(key, 'an IANA time zone such as "Europe/London"', value) from None
        return str(value)

    def finish(self, known: set[str] | None = None) -> None:
        """Warn about keys nobody read: most often a typo."""
        for key in self.table:
            if key not in self.used and (known is None or key not in known):
                self.warnings.append(f"{self._where(key)}: unknown key (ignored)")


def _parse_clock(reader: _Reader, key: str, text: str) -> time:
    try:
        hours, minutes = text.strip().split(":")
        return time(int(hours), int(minutes))
    except ValueError:
        raise reader.fail(key, 'a time range like "21:00-08:00"', text) from None


def _read_store(r: _Reader, db_override: str | None) -> StoreSettings:
    url = r.str("url", default_url())
    timeout = r.int("busy_timeout_ms", 10_000, minimum=0)
    r.finish()
    return StoreSettings(url=db_override or url, busy_timeout_ms=timeout)


def _read_ingest(r: _Reader, config_dir: Path) -> IngestSettings:
    formats: dict[str, CsvFormat] = {}
    fmt_reader = r.sub("formats")
    for name in fmt_reader.table:
        f = fmt_reader.sub(name)
        columns_reader = f.sub("columns")
        columns: dict[str, str] = {}
        for field_name in columns_reader.table:
            if field_name not in CSV_FIELDS:
                raise columns_reader.fail(
                    field_name, "an orderdeck field: " + ", ".join(CSV_FIELDS)
                )
            header = columns_reader.str(field_name)
            if not header or not header.strip():
                raise columns_reader.fail(field_name, "the header of one of your columns", header)
            columns[field_name] = header
        if not columns:
            raise f.fail("columns", "a table mapping orderdeck fields to your CSV headers")
        kind = f.str("kind", "orders", choices=("orders", "tracking"))
        needed = ("number", "tracking_number") if kind == "tracking" else ("number",)
        for required in needed:
            if required not in columns:
                raise columns_reader.fail(required, f"a column for {required} (kind = {kind!r})")
        delimiter = f.str("delimiter", ",")
        if len(delimiter) != 1:
            raise f.fail("delimiter", "one character", delimiter)
        if name in FOLDER_FORMATS:
            raise fmt_reader.fail(name, "a name of your own; built-in formats cannot be redefined")
        formats[name] = CsvFormat(
            name=name,
            columns=columns,
            delimiter=delimiter,
            date_format=f.str("date_format"),
            kind=kind,
        )
        f.finish()
    fmt_reader.used.update(fmt_reader.table)

    folders: list[DropFolder] = []
    raw_folders = r.get("drop_folders") or []
    if not isinstance(raw_folders, list):
        raise r.fail("drop_folders", "an array of tables ([[sync.drop_folders]])", raw_folders)
    for index, raw in enumerate(raw_folders, start=1):
        if not isinstance(raw, dict):
            raise r.fail("drop_folders", "an array of tables ([[sync.drop_folders]])", raw)
        f = _Reader(r.file, f"sync.drop_folders #{index}", raw, r.warnings)
        path = f.str("path")
        if not path:
            raise f.fail("path", "the folder to watch")
        folder_path = Path(path).expanduser()
        if not folder_path.is_absolute():
            folder_path = (config_dir / folder_path).resolve()
        fmt = f.str("format", "auto")
        if fmt not in FOLDER_FORMATS and fmt not in formats:
            raise f.fail(
                "format",
                "one of " + ", ".join(FOLDER_FORMATS) + " or a [sync.formats.NAME]",
                fmt,
            )
        encoding = f.str("encoding", "utf-8")
        try:
            "".encode(encoding)
        except LookupError:
            raise f.fail(
                "encoding", "a Python codec name such as utf-8 or cp1252", encoding
            ) from None
        folders.append(
            DropFolder(
                path=folder_path,
                source=f.str("source", folder_path.name or "default"),
                format=fmt,
                encoding=encoding,
            )
        )
        f.finish()
    seen: dict[Path, int] = {}
    for index, folder in enumerate(folders, start=1):
        if folder.path in seen:
            raise r.fail(
                "drop_folders", f"each path once; #{seen[folder.path]} and #{index} are the same"
            )
        seen[folder.path] = index
    return IngestSettings(
        drop_folders=tuple(folders),
        formats=formats,
        scan_interval_seconds=r.number("scan_interval", 30.0, positive=True),
        min_age_seconds=r.number("min_file_age", 2.0),
        max_file_bytes=r.size("max_file_size", 1_000_000_000),
        batch_size=r.int("batch_size", 2_000, minimum=1),
    )


def _rate(r: _Reader, key: str) -> float | None:
    """A rate limit: requests per second as a number, or "N/s", "N/min", "N/h"."""
    value = r.get(key)
    if value is None:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        return float(value)
    if isinstance(value, str):
        match = re.fullmatch(
            r"\s*(\d+(?:\.\d+)?)\s*/\s*(s|sec|second|m|min|minute|h|hour|d|day)\s*", value
        )
        if match and float(match.group(1)) > 0:
            per = {"s": 1, "sec": 1, "second": 1, "m": 60, "min": 60, "minute": 60,
                   "h": 3600, "hour": 3600, "d": 86400, "day": 86400}[match.group(2)]  # fmt: skip
            return float(match.group(1)) / per
    raise r.fail(key, 'requests per second, or a rate like "100/min"', value)


def _read_carriers(r: _Reader) -> dict[str, CarrierSettings]:
    carriers: dict[str, CarrierSettings] = {}
    for code in r.table:
        c = r.sub(code)
        options: dict[str, Any] = {}
        for key in c.table:
            options[key] = c.get(key)
        base_url = options.get("base_url")
        if base_url is not None and (
            not isinstance(base_url, str) or not re.match(r"^https?://[^\s/]+", base_url)
        ):
            raise c.fail("base_url", "an http:// or https:// URL", base_url)
        if "rate_limit" in options:
            options["rate_limit"] = _rate(c, "rate_limit")
        if "enabled" in options and not isinstance(options["enabled"], bool):
            raise c.fail("enabled", "true or false", options["enabled"])
        carriers[code] = CarrierSettings(code=code, options=options)
    r.used.update(r.table)
    return carriers


def _read_tracking(r: _Reader, carriers: dict[str, CarrierSettings]) -> TrackingSettings:
    aggregators = r.str_list("aggregators")
    intervals_reader = r.sub("poll_interval")
    intervals = dict(PollSettings().interval_minutes)
    for status in intervals_reader.table:
        if status not in intervals:
            raise intervals_reader.fail(status, "a status among " + ", ".join(intervals))
        intervals[status] = intervals_reader.number(status, intervals[status], positive=True)
    defaults = PollSettings()
    poll = PollSettings(
        concurrency=r.int("concurrency", defaults.concurrency, minimum=1),
        interval_minutes=intervals,
        max_retries=r.int("max_retries", defaults.max_retries),
        backoff_base_seconds=r.number("backoff_base", defaults.backoff_base_seconds, positive=True),
        backoff_max_seconds=r.number("backoff_max", defaults.backoff_max_seconds, positive=True),
        circuit_failures=r.int("circuit_failures", defaults.circuit_failures, minimum=1),
        circuit_cooldown_seconds=r.number(
            "circuit_cooldown", defaults.circuit_cooldown_seconds, positive=True
        ),
        lease_seconds=r.number("lease_seconds", defaults.lease_seconds, positive=True),
        timeout_seconds=r.number("timeout", defaults.timeout_seconds, positive=True),
        rate_headroom=r.number("rate_headroom", defaults.rate_headroom),
    )
    if poll.rate_headroom >= 0.5:
        raise r.fail("rate_headroom", "a share of the rate limit below 0.5", poll.rate_headroom)
    shared = r.get("shared_rate_limits")
    if shared == "auto":
        shared = None
    elif shared is not None and not isinstance(shared, bool):
        raise r.fail("shared_rate_limits", '"auto", true or false', shared)
    r.finish()
    return TrackingSettings(
        aggregators=aggregators, carriers=carriers, poll=poll, shared_rate_limits=shared
    )


def _read_attention(r: _Reader) -> AttentionSettings:
    d = AttentionSettings()
    settings = AttentionSettings(
        late_grace_hours=r.number("late_grace_hours", d.late_grace_hours),
        stalled_business_days=r.int("stalled_business_days", d.stalled_business_days, minimum=1),
        not_picked_up_days=r.int("not_picked_up_days", d.not_picked_up_days, minimum=1),
        unfulfilled_days=r.int("unfulfilled_days", d.unfulfilled_days, minimum=1),
        not_found_days=r.int("not_found_days", d.not_found_days, minimum=1),
        expire_days=r.int("expire_days", d.expire_days, minimum=1),
    )
    r.finish()
    return settings


def _read_channels(r: _Reader) -> dict[str, Channel]:
    channels: dict[str, Channel] = {}
    for name in r.table:
        c = r.sub(name)
        url = c.str("url")
        if not url or "://" not in url:
            raise c.fail("url", "an Apprise URL such as mailtos://... or json://...", url)
        events = c.str_list("events")
        for event in events:
            if event not in EVENTS:
                raise c.fail("events", "events among " + ", ".join(EVENTS), event)
        audience = c.str("audience", "customer", choices=AUDIENCES)
        if audience == "customer" and "attention" in events:
            raise c.fail(
                "events",
                'customer events only: "attention" goes to a channel with audience = "team"',
                "attention",
            )
        kind = c.str("kind", channel_kind(url), choices=KINDS)
        quiet = c.str("quiet_hours")
        quiet_hours = None
        if quiet:
            if "-" not in quiet:
                raise c.fail("quiet_hours", 'a time range like "21:00-08:00"', quiet)
            start, end = quiet.split("-", 1)
            quiet_hours = QuietHours(
                _parse_clock(c, "quiet_hours", start), _parse_clock(c, "quiet_hours", end)
            )
        if audience == "customer" and kind in ("email", "sms"):
            placeholder = "{email}" if kind == "email" else "{phone}"
            if placeholder not in url:
                r.warnings.append(
                    f"{r.file}: [{c.section}] url: a customer {kind} channel without {placeholder} "
                    "sends every customer's message to the same fixed address"
                )
        channels[name] = Channel(
            name=name,
            url=url,
            events=events,
            audience=audience,
            kind=kind,
            quiet_hours=quiet_hours,
            enabled=c.bool("enabled", True),
        )
        c.finish()
    r.used.update(r.table)
    return channels


def load(
    config_path: str | Path | None = None,
    db_url: str | None = None,
    *,
    environ: Mapping[str, str] | None = None,
) -> Config:
    """Build the configuration from the file, the environment and the overrides."""
    env = os.environ if environ is None else environ
    if config_path:
        path, origin = Path(config_path).expanduser(), "--config"
    elif env.get(ENV_CONFIG):
        path, origin = Path(env[ENV_CONFIG]).expanduser(), ENV_CONFIG
    else:
        path, origin = default_config_path(), "default"
    db_override = db_url or env.get(ENV_DB) or None

    raw: dict[str, Any] = {}
    exists = path.is_file()
    if origin != "default" and not exists:
        raise ConfigError(f"{path}: no such configuration file (given by {origin})")
    if exists:
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: not valid TOML: {exc}") from None
        except UnicodeDecodeError:
            raise ConfigError(f"{path}: not UTF-8 text") from None
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    return from_dict(raw, path=path, origin=origin, exists=exists, db_override=db_override)


def from_dict(
    raw: dict[str, Any],
    *,
    path: Path,
    origin: str = "--config",
    exists: bool = True,
    db_override: str | None = None,
) -> Config:
    warnings: list[str] = []
    root = _Reader(path, "", raw, warnings)
    config_dir = path.parent

    shop = root.sub("shop")
    shop_name = shop.str("name", "our shop")
    timezone = shop.timezone("timezone", "UTC")
    country = shop.str("country")
    if country is not None and not re.fullmatch(r"[A-Za-z]{2}", country):
        raise shop.fail("country", 'a two-letter ISO country code such as "GB"', country)
    days_raw = shop.str_list("business_days", ("mon", "tue", "wed", "thu", "fri"))
    try:
        business_days = tuple(sorted({_WEEKDAYS[d.lower()[:3]] for d in days_raw}))
    except KeyError:
        raise shop.fail(
            "business_days", 'weekday names such as ["mon", "tue"]', list(days_raw)
        ) from None
    if not business_days:
        raise shop.fail("business_days", "at least one weekday", [])
    shop.finish()

    store = _read_store(root.sub("store"), db_override)

    sync_reader = root.sub("sync")
    ingest = _read_ingest(sync_reader, config_dir)
    heartbeat = sync_reader.number("heartbeat_interval", 5.0, positive=True)
    sync_reader.finish()
    carriers = _read_carriers(root.sub("carriers"))
    tracking = _read_tracking(root.sub("tracking"), carriers)
    for name in tracking.aggregators:
        if name not in carriers:
            warnings.append(
                f"{path}: [tracking] aggregators: {name!r} has no [carriers.{name}] section, "
                "so it cannot track anything"
            )
    attention = _read_attention(root.sub("attention"))
    sync = SyncSettings(
        ingest=ingest,
        tracking=tracking,
        attention=attention,
        timezone=timezone,
        default_country=country.upper() if country else None,
        heartbeat_seconds=heartbeat,
        business_days=business_days,
    )

    n = root.sub("notify")
    templates = n.str("templates_dir")
    templates_dir = Path(templates).expanduser() if templates else config_dir / "templates"
    if not templates_dir.is_absolute():
        templates_dir = (config_dir / templates_dir).resolve()
    nd = NotifySettings()
    notify = NotifySettings(
        channels=_read_channels(n.sub("channels")),
        shop_name=shop_name,
        timezone=timezone,
        templates_dir=templates_dir,
        max_attempts=n.int("max_attempts", nd.max_attempts, minimum=1),
        backoff_base_seconds=n.number("backoff_base", nd.backoff_base_seconds, positive=True),
        backoff_max_seconds=n.number("backoff_max", nd.backoff_max_seconds, positive=True),
        concurrency=n.int("concurrency", nd.concurrency, minimum=1),
        lease_seconds=n.number("lease_seconds", nd.lease_seconds, positive=True),
        send_timeout_seconds=n.number("send_timeout", nd.send_timeout_seconds, positive=True),
    )
    if notify.lease_seconds <= notify.send_timeout_seconds + 5:
        raise n.fail(
            "lease_seconds",
            f"more than send_timeout + 5 s ({notify.send_timeout_seconds + 5:g}), or a slow "
            "send is taken for a crashed one",
            notify.lease_seconds,
        )
    n.finish()

    c = root.sub("console")
    keymap_reader = c.sub("keymap")
    keymap = {binding: keymap_reader.str(binding) for binding in keymap_reader.table}
    console = ConsoleSettings(
        keymap=keymap,
        timezone=timezone,
        read_only=c.bool("read_only", False),
        theme=c.str("theme"),
        operator=c.str("operator"),
        run_engine=c.bool("run_engine", True),
    )
    c.finish()

    lg = root.sub("logging")
    level = lg.str("level", "INFO", choices=("DEBUG", "INFO", "WARNING", "ERROR"))
    fmt = lg.str("format", "auto", choices=("auto", "text", "json"))
    file_value = lg.get("file")
    log_file: Path | None
    if file_value is None or file_value is False:
        log_file = None
    elif file_value is True:
        log_file = Path(platformdirs.user_log_dir("orderdeck")) / "orderdeck.log"
    elif isinstance(file_value, str):
        log_file = Path(file_value).expanduser()
    else:
        raise lg.fail("file", "true, false or a path", file_value)
    lg.finish()

    root.finish()
    return Config(
        path=path,
        origin=origin,
        exists=exists,
        store=store,
        sync=sync,
        notify=notify,
        console=console,
        logging=LoggingSettings(level=level, format=fmt, file=log_file),
        raw=raw,
        warnings=tuple(warnings),
        config_dir=config_dir,
    )


def masked(raw: Any, key: str = "") -> Any:
    """A copy of the raw configuration with every secret masked."""
    if isinstance(raw, dict):
        return {k: masked(v, k) for k, v in raw.items()}
    if isinstance(raw, list):
        return [masked(v, key) for v in raw]
    if isinstance(raw, str):
        if SECRET_KEYS.search(key):
            return "****" if raw else raw
        if "://" in raw:
            return privacy_url(raw) if key == "url" else _mask_any_url(raw)
    return raw


def _mask_any_url(value: str) -> str:
    from store.redact import mask_db_url, mask_url

    return mask_url(mask_db_url(value))


def effective(config: Config) -> dict[str, Any]:
    """The configuration in force, defaults included, in the file's own shape."""
    sync, notify, tracking = config.sync, config.notify, config.sync.tracking
    days = [name for name, number in _WEEKDAYS.items() if number in sync.business_days]
    return {
        "shop": {
            "name": notify.shop_name,
            "timezone": sync.timezone,
            **({"country": sync.default_country} if sync.default_country else {}),
            "business_days": days,
        },
        "store": {"url": config.store.url, "busy_timeout_ms": config.store.busy_timeout_ms},
        "sync": {
            "scan_interval": sync.ingest.scan_interval_seconds,
            "min_file_age": sync.ingest.min_age_seconds,
            "max_file_size": sync.ingest.max_file_bytes,
            "batch_size": sync.ingest.batch_size,
            "heartbeat_interval": sync.heartbeat_seconds,
            "drop_folders": [
                {
                    "path": str(f.path),
                    "format": f.format,
                    "source": f.source,
                    "encoding": f.encoding,
                }
                for f in sync.ingest.drop_folders
            ],
            "formats": {
                name: {
                    "kind": f.kind,
                    "delimiter": f.delimiter,
                    **({"date_format": f.date_format} if f.date_format else {}),
                    "columns": dict(f.columns),
                }
                for name, f in sync.ingest.formats.items()
            },
        },
        "tracking": {
            "aggregators": list(tracking.aggregators),
            "concurrency": tracking.poll.concurrency,
            "max_retries": tracking.poll.max_retries,
            "backoff_base": tracking.poll.backoff_base_seconds,
            "backoff_max": tracking.poll.backoff_max_seconds,
            "circuit_failures": tracking.poll.circuit_failures,
            "circuit_cooldown": tracking.poll.circuit_cooldown_seconds,
            "lease_seconds": tracking.poll.lease_seconds,
            "timeout": tracking.poll.timeout_seconds,
            "rate_headroom": tracking.poll.rate_headroom,
            "shared_rate_limits": (
                "auto" if tracking.shared_rate_limits is None else tracking.shared_rate_limits
            ),
            "poll_interval": dict(tracking.poll.interval_minutes),
        },
        "attention": {
            "late_grace_hours": sync.attention.late_grace_hours,
            "stalled_business_days": sync.attention.stalled_business_days,
            "not_picked_up_days": sync.attention.not_picked_up_days,
            "unfulfilled_days": sync.attention.unfulfilled_days,
            "not_found_days": sync.attention.not_found_days,
            "expire_days": sync.attention.expire_days,
        },
        "carriers": {code: dict(c.options) for code, c in tracking.carriers.items()},
        "notify": {
            "templates_dir": str(notify.templates_dir) if notify.templates_dir else "",
            "max_attempts": notify.max_attempts,
            "backoff_base": notify.backoff_base_seconds,
            "backoff_max": notify.backoff_max_seconds,
            "concurrency": notify.concurrency,
            "lease_seconds": notify.lease_seconds,
            "send_timeout": notify.send_timeout_seconds,
            "channels": {
                name: {
                    "url": ch.url,
                    "events": list(ch.events),
                    "audience": ch.audience,
                    "kind": ch.kind,
                    **(
                        {"quiet_hours": f"{ch.quiet_hours.start:%H:%M}-{ch.quiet_hours.end:%H:%M}"}
                        if ch.quiet_hours
                        else {}
                    ),
                    "enabled": ch.enabled,
                }
                for name, ch in notify.channels.items()
            },
        },
        "console": {
            "read_only": config.console.read_only,
            "run_engine": config.console.run_engine,
            **({"theme": config.console.theme} if config.console.theme else {}),
            **({"operator": config.console.operator} if config.console.operator else {}),
            "keymap": dict(config.console.keymap),
        },
        "logging": {
            "level": config.logging.level,
            "format": config.logging.format,
            "file": str(config.logging.file) if config.logging.file else False,
        },
    }
