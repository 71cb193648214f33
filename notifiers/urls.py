"""Apprise URLs: which kind of channel a URL is, and its privacy form for display."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote, unquote

from store.redact import MASK, mask_url

EMAIL_SCHEMES = frozenset(
    {
        "mailto", "mailtos", "ses", "sendgrid", "mailgun", "sparkpost", "smtp2go", "resend",
        "brevo", "postmark", "o365", "mailersend", "sendpulse", "groundmail",
    }
)  # fmt: skip
SMS_SCHEMES = frozenset(
    {
        "46elks", "elks", "bulksms", "bulkvs", "burstsms", "clickatell", "clicksend", "cm",
        "d7sms", "dapnet", "exotel", "freemobile", "httpsms", "infobip", "kaleyra",
        "kavenegar", "kudosity", "mobilemessage", "mobilemsg", "msg91", "msgbird", "nexmo",
        "octopush", "plivo", "serwersms", "seven", "sfr", "sinch", "smpp", "smpps", "smsc",
        "smseagle", "smseagles", "smsmanager", "smsmgr", "smstunnel", "sns", "telesign",
        "telnyx", "twilio", "voipms", "vonage", "eight00com", "gupshup", "notifyre",
        "ringc", "signal", "signals", "whatsapp", "awswhatsapp", "acs",
    }
)  # fmt: skip

_PLACEHOLDER = re.compile(r"\{(email|phone|name|order)\}")


def scheme(url: str) -> str:
    return url.split("://", 1)[0].lower() if "://" in url else ""


def channel_kind(url: str) -> str:
    """email, sms or chat, from the URL's scheme."""
    s = scheme(url)
    if s in EMAIL_SCHEMES:
        return "email"
    if s in SMS_SCHEMES:
        return "sms"
    return "chat"


def is_known_scheme(url: str) -> bool:
    from apprise.manager_plugins import NotificationManager

    return scheme(url) in set(NotificationManager().schemas())


def _private_values(url: str) -> list[str]:
    from apprise.manager_plugins import NotificationManager

    manager = NotificationManager()
    if scheme(url) not in set(manager.schemas()):
        return []
    plugin: Any = manager[scheme(url)]
    try:
        parsed = plugin.parse_url(_PLACEHOLDER.sub("placeholder", url))
    except Exception:
        return []
    if not parsed:
        return []
    private = {"password"}
    for group in ("template_tokens", "template_args"):
        for key, spec in getattr(plugin, group, {}).items():
            if spec.get("private"):
                private.add(key)
                if spec.get("alias_of"):
                    private.add(spec["alias_of"])
    values: list[str] = []
    for key in private:
        value = parsed.get(key)
        if isinstance(value, str) and len(value) >= 3:
            values.append(value)
    return values


def privacy_url(url: str) -> str:
    """The URL as the user wrote it, with every secret Apprise knows of masked."""
    masked = mask_url(url)
    for value in sorted(_private_values(url), key=len, reverse=True):
        masked = masked.replace(value, MASK).replace(quote(value, safe=""), MASK)
    return masked


def secret_values(url: str) -> list[str]:
    """Every secret in ``url`` (password, tokens, keys), to mask in text before it is kept."""
    found = set(_private_values(url))
    match = re.match(r"^[a-z][a-z0-9+.-]*://[^:/@\s]*:([^@/\s]+)@", url, re.I)
    if match:
        found.add(match.group(1))
    found |= {unquote(v) for v in found}
    return sorted((v for v in found if len(v) >= 3), key=len, reverse=True)


_HEADER_SCHEMES: dict[str, bool] = {}


def supports_headers(url: str) -> bool:
    """Whether the URL's Apprise plugin takes ``+Header=value`` arguments."""
    s = scheme(url)
    if s not in _HEADER_SCHEMES:
        from apprise.manager_plugins import NotificationManager

        manager = NotificationManager()
        plugin: Any = manager[s] if s in set(manager.schemas()) else None
        spec = getattr(plugin, "template_kwargs", {}).get("headers") if plugin else None
        _HEADER_SCHEMES[s] = bool(spec and spec.get("prefix") == "+")
    return _HEADER_SCHEMES[s]


def fill(url: str, values: dict[str, str | None], *, headers: dict[str, str] | None = None) -> str:
    """The channel URL for one recipient: placeholders replaced by URL-escaped values,
    and our headers added where the plugin takes them."""
    filled = _PLACEHOLDER.sub(lambda m: quote(values.get(m.group(1)) or "", safe=""), url)
    if headers and supports_headers(filled):
        extra = "&".join(f"+{quote(k, safe='-')}={quote(v, safe='')}" for k, v in headers.items())
        filled += ("&" if "?" in filled else "?") + extra
    return filled
