"""Contacts as given, plus a normalized form and a verdict.

Email: validated by email-validator without DNS lookups; the domain is lower-cased.
Phone: read by phonenumbers in the order's country (or ``[shop] country``) and
written as E.164. An invalid contact is kept as given and flagged, never a reason
to reject the order.

Both checks cost tens of microseconds, which matters at a million rows, so:
plain ASCII addresses that email-validator would certainly accept take a fast
path that yields exactly its result (a test compares the two), and results are
memoized per (value, country) because customers come back.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import phonenumbers
from email_validator import SPECIAL_USE_DOMAIN_NAMES, EmailNotValidError, validate_email
from email_validator.rfc_constants import CASE_INSENSITIVE_MAILBOX_NAMES

_CACHE_LIMIT = 100_000
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_SIMPLE_EMAIL = re.compile(
    r"([a-zA-Z0-9_+-]+(?:\.[a-zA-Z0-9_+-]+)*)@((?:" + _LABEL + r"\.)+[a-z]{2,63})\Z", re.I
)
_SPECIAL = tuple(SPECIAL_USE_DOMAIN_NAMES)
_CASE_FREE = frozenset(CASE_INSENSITIVE_MAILBOX_NAMES)


@dataclass(frozen=True, slots=True)
class Contact:
    """``normalized`` is None when the value is invalid; ``problem`` then says why."""

    normalized: str | None
    valid: bool
    problem: str | None = None


_email_cache: dict[str, Contact] = {}
_phone_cache: dict[tuple[str, str | None], Contact] = {}


def _fast_email(value: str) -> str | None:
    """The normalized address when email-validator would surely accept ``value`` as is."""
    if len(value) > 254:
        return None
    match = _SIMPLE_EMAIL.match(value)
    if match is None:
        return None
    local, domain = match.group(1), match.group(2).lower()
    if len(local) > 64 or len(domain) > 253 or "--" in domain or local.lower() in _CASE_FREE:
        return None
    for special in _SPECIAL:
        if domain == special or domain.endswith("." + special):
            return None
    return f"{local}@{domain}"


def normalize_email(value: str) -> Contact:
    cached = _email_cache.get(value)
    if cached is not None:
        return cached
    fast = _fast_email(value)
    if fast is not None:
        result = Contact(fast, True)
    else:
        try:
            checked = validate_email(value, check_deliverability=False)
            result = Contact(checked.normalized, True)
        except EmailNotValidError as exc:
            result = Contact(None, False, f"email {value!r}: {exc}")
    if len(_email_cache) >= _CACHE_LIMIT:
        _email_cache.clear()
    _email_cache[value] = result
    return result


def normalize_phone(value: str, country: str | None) -> Contact:
    key = (value, country)
    cached = _phone_cache.get(key)
    if cached is not None:
        return cached
    result = _phone(value, country)
    if len(_phone_cache) >= _CACHE_LIMIT:
        _phone_cache.clear()
    _phone_cache[key] = result
    return result


def _phone(value: str, country: str | None) -> Contact:
    raw = value.strip()
    # Spreadsheets write "+44..." as a formula guard "'+44..." or as a number 447700900123.
    if raw.startswith("'"):
        raw = raw[1:]
    try:
        number = phonenumbers.parse(raw, country)
    except phonenumbers.NumberParseException as exc:
        if exc.error_type == phonenumbers.NumberParseException.INVALID_COUNTRY_CODE:
            if country is None and not raw.startswith("+"):
                reason = (
                    "has no +country code and the order has no country ([shop] country sets one)"
                )
            else:
                reason = "has an unknown country code"
        else:
            reason = "is not a phone number"
        return Contact(None, False, f"phone {value!r} {reason}")
    valid = _valid(number, country)
    if not valid and raw.isdigit() and len(raw) > 10:
        # A spreadsheet dropped the "+": 447700900123.
        try:
            retry = phonenumbers.parse("+" + raw, None)
        except phonenumbers.NumberParseException:
            pass
        else:
            if phonenumbers.is_valid_number(retry):
                number, valid = retry, True
    if not valid:
        where = f" for {country}" if country and not raw.startswith("+") else ""
        return Contact(None, False, f"phone {value!r} is not a valid number{where}")
    return Contact(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164), True)


def _valid(number: phonenumbers.PhoneNumber, country: str | None) -> bool:
    """``is_valid_number``, asking the order's own country first: for +1 or +44 the
    general check tries every region sharing the code, which costs several times more."""
    if (
        country is not None
        and number.country_code == phonenumbers.country_code_for_region(country)
        and phonenumbers.is_valid_number_for_region(number, country)
    ):
        return True
    return bool(phonenumbers.is_valid_number(number))


def contact_columns(
    email: str | None, phone: str | None, country: str | None
) -> tuple[str | None, bool | None, str | None, bool | None, str | None]:
    """(email_normalized, email_valid, phone_e164, phone_valid, contact_problems)."""
    problems: list[str] = []
    email_normalized: str | None = None
    email_valid: bool | None = None
    if email:
        checked = normalize_email(email)
        email_normalized, email_valid = checked.normalized, checked.valid
        if checked.problem:
            problems.append(checked.problem)
    phone_e164: str | None = None
    phone_valid: bool | None = None
    if phone:
        checked = normalize_phone(phone, country)
        phone_e164, phone_valid = checked.normalized, checked.valid
        if checked.problem:
            problems.append(checked.problem)
    return email_normalized, email_valid, phone_e164, phone_valid, "; ".join(problems) or None
