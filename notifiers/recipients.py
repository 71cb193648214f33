"""Who a customer message goes to, and how an address is written in the store.

Addresses are normalized the same way everywhere (the rules, the suppression
list, the CLI): e-mail lower-cased, phones in E.164 (``+`` and digits). An
order that has no usable address for a channel gets a ``suppressed`` row with
the reason, never silence.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from notifiers.settings import Channel

_PLACEHOLDER = re.compile(r"\{(email|phone|name|order)\}")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PHONE_JUNK = re.compile(r"[\s\-().]")


def placeholders(url: str) -> set[str]:
    return set(_PLACEHOLDER.findall(url))


def normalize_email(value: str | None) -> str | None:
    if not value or not value.strip():
        return None
    value = value.strip()
    return value.lower() if _EMAIL.match(value) else None


def normalize_phone(value: str | None) -> str | None:
    """E.164 from a number already written internationally, else None."""
    if not value or not value.strip():
        return None
    compact = _PHONE_JUNK.sub("", value.strip())
    if compact.startswith("00"):
        compact = "+" + compact[2:]
    if re.fullmatch(r"\+[1-9]\d{6,14}", compact):
        return compact
    return None


def normalize_address(value: str) -> tuple[str, str]:
    """(kind, address) for the suppression list: "email" or "phone"."""
    value = value.strip()
    if "@" in value:
        email = normalize_email(value)
        if email is None:
            raise ValueError(f"{value!r} is not an e-mail address")
        return "email", email
    phone = normalize_phone(value)
    if phone is None:
        raise ValueError(
            f"{value!r} is neither an e-mail address nor a phone number in international "
            "format (+ and country code)"
        )
    return "phone", phone


def needs(channel: Channel) -> str | None:
    """The address a channel needs from the order: "email", "phone" or None (team,
    or a customer channel with a fixed destination)."""
    if channel.audience != "customer":
        return None
    found = placeholders(channel.url)
    if "email" in found:
        return "email"
    if "phone" in found:
        return "phone"
    if channel.kind == "email":
        return "email"
    if channel.kind == "sms":
        return "phone"
    return None


@dataclass(frozen=True)
class Recipient:
    #: The normalized address, or None when the channel needs none.
    address: str | None
    #: Why there is no usable address (the row is recorded as suppressed).
    problem: str | None = None


def email_of(order: Mapping[str, Any]) -> Recipient:
    raw = order.get("email")
    normalized = order.get("email_normalized")
    if order.get("email_valid") is False:
        shown = raw or normalized
        return Recipient(None, f"the order's e-mail address {shown!r} is not valid")
    address = normalize_email(normalized) or normalize_email(raw)
    if address:
        return Recipient(address)
    if raw and raw.strip():
        return Recipient(None, f"the order's e-mail address {raw.strip()!r} is not valid")
    return Recipient(None, "the order has no e-mail address")


def phone_of(order: Mapping[str, Any]) -> Recipient:
    e164 = normalize_phone(order.get("phone_e164"))
    if e164:
        return Recipient(e164)
    raw = order.get("phone")
    if order.get("phone_valid") is not False:
        phone = normalize_phone(raw)
        if phone:
            return Recipient(phone)
    ship = normalize_phone(order.get("ship_phone"))
    if ship and not (raw and raw.strip()):
        return Recipient(ship)
    if raw and raw.strip():
        if order.get("phone_valid") is False:
            return Recipient(None, f"the order's phone number {raw.strip()!r} is not valid")
        return Recipient(
            None,
            f"the order's phone number {raw.strip()!r} is not in international format "
            "(set [shop] country so imports can read national numbers)",
        )
    return Recipient(None, "the order has no phone number")


def recipient_for(channel: Channel, order: Mapping[str, Any]) -> Recipient:
    need = needs(channel)
    if need == "email":
        return email_of(order)
    if need == "phone":
        return phone_of(order)
    return Recipient(None)
