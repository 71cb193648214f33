"""What the notifiers need to know, built by ``orderdeck.config``."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import time
from pathlib import Path

CUSTOMER_EVENTS = (
    "shipped",
    "out_for_delivery",
    "delivered",
    "available_for_pickup",
    "failed_attempt",
    "exception",
    "delayed",
)
TEAM_EVENTS = ("attention",)
EVENTS = CUSTOMER_EVENTS + TEAM_EVENTS
AUDIENCES = ("customer", "team")
KINDS = ("email", "sms", "chat")


@dataclass(frozen=True)
class QuietHours:
    start: time
    end: time


@dataclass(frozen=True)
class Channel:
    """One ``[notify.channels.NAME]`` section."""

    name: str
    #: An Apprise URL; customer channels fill ``{email}`` / ``{phone}``.
    url: str
    events: tuple[str, ...]
    audience: str = "customer"
    #: email, sms or chat: picks the template and the rules for retries.
    kind: str = "chat"
    quiet_hours: QuietHours | None = None
    enabled: bool = True


@dataclass(frozen=True)
class NotifySettings:
    channels: dict[str, Channel] = field(default_factory=dict)
    shop_name: str = "our shop"
    timezone: str = "UTC"
    templates_dir: Path | None = None
    max_attempts: int = 6
    backoff_base_seconds: float = 60.0
    backoff_max_seconds: float = 3600.0
    concurrency: int = 16
    lease_seconds: float = 300.0
    #: How long one send may take before its outcome counts as unknown.
    send_timeout_seconds: float = 60.0
