"""Apprise URLs: which kind of channel a URL is, and its privacy form for display."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

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
