"""Contacts: the fast path agrees with email-validator; phones become E.164."""

from __future__ import annotations

import pytest
from email_validator import EmailNotValidError, validate_email

from sync.ingest import contacts
from sync.ingest.contacts import contact_columns, normalize_email, normalize_phone

ADDRESSES = [
    "Jose@Example.COM",
    "first.last+tag@sub.example.co.uk",
    "a_b-c@x-y.io",
    "UPPER@EXAMPLE.ORG",
    "info@example.com",  # a role name email-validator lower-cases: slow path
    "Postmaster@Example.com",
    "a..b@example.com",
    ".a@example.com",
    "a.@example.com",
    "a@-example.com",
    "a@example-.com",
    "a@ex--ample.com",
    "a@xn--bcher-kva.example",
    "a@example",
    "a@example.c",
    "a@example.123",
    "a@localhost",
    "a@example.test",
    "a@shop.invalid",
    "a@foo.local",
    "x" * 65 + "@example.com",
    "a@" + "b" * 64 + ".com",
    "josé@exämple.de",
    'quoted"@example.com',
    "spaced out@example.com",
    "trailing@example.com.",
    "plain",
    "@example.com",
    "a@@example.com",
    "Ünicode@Example.COM",
]


@pytest.mark.parametrize("address", ADDRESSES)
def test_email_matches_email_validator(address: str) -> None:
    contacts._email_cache.clear()
    try:
        expected: str | None = validate_email(address, check_deliverability=False).normalized
    except EmailNotValidError:
        expected = None
    got = normalize_email(address)
    assert got.normalized == expected
    assert got.valid is (expected is not None)
    if expected is None:
        assert got.problem is not None and address in got.problem


@pytest.mark.parametrize(
    ("phone", "country", "e164"),
    [
        ("+44 20 7946 0958", None, "+442079460958"),
        ("020 7946 0958", "GB", "+442079460958"),
        ("07911 123456", "GB", "+447911123456"),
        ("(212) 555-0100", "US", "+12125550100"),
        ("030 901820", "DE", "+4930901820"),
        ("447911123456", "GB", "+447911123456"),  # a spreadsheet ate the "+"
        ("'+447911123456", None, "+447911123456"),  # a spreadsheet's text guard
        ("01481 722000", "GB", "+441481722000"),  # Guernsey shares +44
    ],
)
def test_phone_to_e164(phone: str, country: str | None, e164: str) -> None:
    result = normalize_phone(phone, country)
    assert (result.normalized, result.valid, result.problem) == (e164, True, None)


def test_invalid_phones_say_why() -> None:
    assert normalize_phone("07911 123456", None).problem == (
        "phone '07911 123456' has no +country code and the order has no country "
        "([shop] country sets one)"
    )
    assert normalize_phone("12345", "GB").problem == "phone '12345' is not a valid number for GB"
    assert normalize_phone("call me", "GB").problem == "phone 'call me' is not a phone number"


def test_contact_columns() -> None:
    assert contact_columns(None, None, "GB") == (None, None, None, None, None)
    normalized, ok, e164, phone_ok, problems = contact_columns("bad", "12345", "GB")
    assert (normalized, ok, e164, phone_ok) == (None, False, None, False)
    assert problems is not None and problems.count(";") == 1
