"""Masking secrets out of URLs and text before they reach a log, a screen or the store."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable
from urllib.parse import urlsplit, urlunsplit

MASK = "****"

# user:password@ in any URL-ish string.
_USERINFO = re.compile(
    r"(?P<scheme>[a-z][a-z0-9+.-]*://)(?P<user>[^:/@\s]*):(?P<pw>[^@/\s]+)@", re.I
)
# ?key=... style secrets in query strings.
_QUERY_SECRET = re.compile(
    r"(?P<key>(?:api[_-]?key|apikey|key|token|access[_-]?token|secret|password|pass|pwd|auth|"
    r"client[_-]?secret|signature|sig)=)(?P<value>[^&\s#]+)",
    re.I,
)


def mask_url(url: str) -> str:
    """``scheme://user:****@host/...?token=****`` — keeps what identifies, hides what opens."""
    masked = _USERINFO.sub(lambda m: f"{m['scheme']}{m['user']}:{MASK}@", url)
    return _QUERY_SECRET.sub(lambda m: f"{m['key']}{MASK}", masked)


def mask_db_url(url: str) -> str:
    try:
        parts = urlsplit(url)
    except ValueError:
        return mask_url(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", f":{MASK}@")
        return urlunsplit(parts._replace(netloc=netloc))
    return url


def mask_secrets(text: str, secrets: Iterable[str | None]) -> str:
    """Replace every known secret value in ``text`` (longest first)."""
    for secret in sorted((s for s in secrets if s and len(s) >= 4), key=len, reverse=True):
        text = text.replace(secret, MASK)
    return mask_url(text)


def rewrite_message(record: logging.LogRecord, change: Callable[[str], str]) -> None:
    """Replace ``record``'s message by ``change(message)`` when that differs."""
    message = record.getMessage()
    changed = change(message)
    if changed != message:
        record.msg, record.args = changed, None


class SecretFilter(logging.Filter):
    """Masks known secret values (a set that may grow) and URL credentials in every
    record it sees, on a handler or on a logger."""

    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        super().__init__()
        self.secrets: set[str] = {s for s in secrets if s}

    def filter(self, record: logging.LogRecord) -> bool:
        rewrite_message(record, lambda message: mask_secrets(message, self.secrets))
        return True
