"""Logging for the command line and the service.

Human lines on a terminal; JSON lines otherwise (journald and log shippers read
them); optionally a rotating file. Every record passes through a filter that
masks the configuration's secrets, and Apprise's logger is never let below INFO,
because its DEBUG output carries URLs with credentials and message bodies.
"""

from __future__ import annotations

import json
import logging
import logging.handlers
import re
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from store.redact import SecretFilter, rewrite_message

_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}

#: Loggers of libraries that name recipients in their INFO lines ("Sent Email to
#: ada@example.com"): Apprise (whose lines are captured per send into the
#: notification's result) and aiosmtpd (the demo's local mail sink).
_CHATTY = ("apprise", "mail.log")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_PHONE = re.compile(r"\+?\d[\d ().-]{6,}\d")


class RecipientFilter(logging.Filter):
    """Keeps customer data out of the log.

    The chatty libraries' lines below WARNING are dropped (Apprise's are kept with
    the notification they belong to); their warnings stay, with addresses and phone
    numbers masked.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.name.startswith(_CHATTY):
            return True
        if record.levelno < logging.WARNING:
            return False
        rewrite_message(record, lambda text: _PHONE.sub("[phone]", _EMAIL.sub("[email]", text)))
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                data[key] = value
        if record.exc_info:
            data["exception"] = self.formatException(record.exc_info)
        return json.dumps(data, ensure_ascii=False, default=str)


def setup(
    *,
    level: str = "INFO",
    fmt: str = "auto",
    file: Path | None = None,
    secrets: list[str] | None = None,
    stream: Any = None,
) -> None:
    """``stream=False``: no stream at all, only ``file`` (the console owns the terminal)."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
        handler.close()
    root.setLevel(getattr(logging, level.upper(), logging.INFO))
    secret_filter = SecretFilter(secrets or [])
    recipients = RecipientFilter()
    if stream is not False:
        stream = stream or sys.stderr
        use_json = fmt == "json" or (
            fmt == "auto" and not getattr(stream, "isatty", lambda: False)()
        )
        handler: logging.Handler = logging.StreamHandler(stream)
        handler.setFormatter(
            JsonFormatter()
            if use_json
            else logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s")
        )
        handler.addFilter(recipients)
        handler.addFilter(secret_filter)
        root.addHandler(handler)
    if file is not None:
        file.parent.mkdir(parents=True, exist_ok=True)
        rotating = logging.handlers.RotatingFileHandler(
            file, maxBytes=10_000_000, backupCount=5, encoding="utf-8"
        )
        rotating.setFormatter(JsonFormatter())
        rotating.addFilter(recipients)
        rotating.addFilter(secret_filter)
        root.addHandler(rotating)
    # Apprise logs secrets and customer data below INFO; watchfiles and httpx are chatty.
    logging.getLogger("apprise").setLevel(max(logging.INFO, root.level))
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
    logging.getLogger("watchfiles").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)
