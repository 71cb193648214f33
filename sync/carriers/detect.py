"""Which carrier a tracking number belongs to, from the number alone.

Every format a carrier prints is a row of :data:`FORMATS`: a pattern over the
normalized number, the carriers that use it (most likely first), and the check
digit that proves it was not mistyped. A number is valid when at least one row
matches it AND its check digit holds; it is never guessed from its shape alone.
When several rows or carriers fit, all of them are candidates, most likely first,
so a person can pick.

Facts come from the carriers' own specifications (UPS, USPS Publication 199,
FedEx, GS1, UPU S10) as collected by the public ``tracking_number_data`` project.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sync.carriers import checkdigits, s10
from sync.carriers.names import tracking_url as _tracking_url


@dataclass(frozen=True)
class Detection:
    """What a tracking number says about itself."""

    input: str  # as given
    tracking_number: str  # normalized: upper-case, spaces/dashes removed
    carrier: str | None  # most likely carrier code (names.py codes), None if invalid
    valid: bool
    candidates: tuple[str, ...]  # every carrier code it fits, most likely first
    tracking_url: str | None  # public tracking page of `carrier`
    service: str | None = None  # e.g. "UPS Mail Innovations", "FedEx Ground", "IMpb"
    reason: str | None = None  # why invalid

    def as_dict(self) -> dict[str, Any]:
        return {
            "tracking_number": self.tracking_number,
            "carrier": self.carrier,
            "valid": self.valid,
            "candidates": list(self.candidates),
            "tracking_url": self.tracking_url,
            "service": self.service,
            "reason": self.reason,
            "input": self.input,
        }


Match = re.Match[str]


@dataclass(frozen=True)
class Format:
    """One printed form of tracking number.

    ``pattern`` must match the whole normalized number; its group ``body`` is what
    the check digit covers and group ``check`` is the check digit itself.
    """

    label: str  # names the format in `service` and in reasons
    pattern: str
    carriers: tuple[str, ...] | Callable[[Match], tuple[str, ...]]
    check: Callable[[str], int] | None  # the digit `body` calls for; None: no check digit
    prefix: str = ""  # digits the label leaves out but the check digit counts
    service: Callable[[Match], str] | None = None  # finer than `label`, from the number
    track_as: Callable[[Match], str] | None = None  # the part the carrier's website knows
    refuse: Callable[[Match], str | None] | None = None  # a fault besides the check digit
    regex: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "regex", re.compile(self.pattern))

    def carriers_of(self, m: Match) -> tuple[str, ...]:
        return self.carriers(m) if callable(self.carriers) else self.carriers


# --- what the numbers say beyond their carrier ------------------------------------------

#: UPS 1Z service codes (characters 9-10) -> service.
_UPS_SERVICES: dict[str, str] = {
    "01": "Next Day Air",
    "02": "2nd Day Air",
    "03": "Ground",
    "12": "3 Day Select",
    "13": "Next Day Air Saver",
    "15": "Next Day Air Early",
    "22": "Ground",
    "32": "Next Day Air Early",
    "33": "Next Day Air Early",
    "41": "Next Day Air Early",
    "42": "Ground",
    "44": "Next Day Air",
    "66": "Worldwide Express",
    "72": "Ground",
    "78": "Ground",
    "90": "Ground",
    "A0": "Next Day Air Early",
    "A1": "Next Day Air Early",
    "A2": "Next Day Air",
    "A8": "Ground",
    "A9": "Next Day Air Early",
    "AA": "Next Day Air Early",
    "YW": "SurePost",
}

_AMAZON_REGIONS = {"A": "", "C": " (Canada)", "M": " (Mexico)"}


def _ups_1z(m: Match) -> str:
    return "UPS " + _UPS_SERVICES.get(m["service"], "1Z")


def _impb_92(m: Match) -> tuple[str, ...]:
    # FedEx Ground Economy (SmartPost) hands parcels to USPS under an IMpb with
    # application id 92, so a 92 number may be tracked at either.
    return ("usps", "fedex") if m["body"].startswith("92") else ("usps",)


def _impb_routed(m: Match) -> str:
    zip_code = m["zip"] if len(m["zip"]) == 5 else f"{m['zip'][:5]}-{m['zip'][5:]}"
    return f"IMpb, routed to ZIP {zip_code}"


def _impb_alone(m: Match) -> str:
    return m["body"] + m["check"]


def _s10_carriers(m: Match) -> tuple[str, ...]:
    operator = s10.OPERATORS.get(m["country"])
    return (operator,) if operator else ()


def _s10_service(m: Match) -> str:
    text = f"UPU S10 {s10.kind(m['service'])} from {m['country']}"
    if m["country"] not in s10.OPERATORS:
        text += "; orderdeck has no carrier code for its postal operator"
    return text


def _s10_refuse(m: Match) -> str | None:
    if m["country"] not in s10.ISO_COUNTRIES:
        return f"UPU S10 number, but {m['country']} is not an ISO 3166 country code"
    return None


def _last(n: int) -> Callable[[Match], str]:
    return lambda m: m.string[-n:]


def _fedex_embedded(n: int, kind: str) -> Callable[[Match], str]:
    return lambda m: f"{kind} (tracking number {m.string[-n:]})"


_USPS_IMPB = r"(?P<body>9[1-5](?:\d{19}|\d{23}|\d{27}))(?P<check>\d)"  # 22, 26 or 30 digits


def _impb_routed_to(zip_digits: int) -> Format:
    """An IMpb behind the 420 + ZIP (5 or 9 digits) routing code of the same barcode.

    One row per ZIP length, so a number that parses both ways is checked both ways.
    """
    return Format(
        "IMpb with 420 routing",
        rf"420(?P<zip>\d{{{zip_digits}}})" + _USPS_IMPB,
        _impb_92,
        checkdigits.mod10,
        service=_impb_routed,
        track_as=_impb_alone,
    )


def _fedex_34(label: str, lead: str) -> Format:
    """A FedEx 34-digit barcode: its last 12 digits are the tracking number, and
    the Express check digit covers the 13 digits before the last."""
    return Format(
        label,
        rf"{lead}\d{{{20 - len(lead)}}}(?P<body>\d{{13}})(?P<check>\d)",
        ("fedex",),
        checkdigits.mod11_mod10,
        service=_fedex_embedded(12, label),
        track_as=_last(12),
    )


#: Every known format, most likely first where two can fit the same number.
FORMATS: tuple[Format, ...] = (
    # UPS: 1Z + shipper (6) + service (2) + package (7) + check; letters count too.
    Format(
        "UPS 1Z",
        r"1Z(?P<body>[A-Z0-9]{6}(?P<service>[A-Z0-9]{2})[A-Z0-9]{7})(?P<check>[A-Z0-9])",
        ("ups",),
        lambda body: checkdigits.mod10(body, (1, 2)),
        service=_ups_1z,
    ),
    Format(
        "UPS waybill",
        r"[AHJKTV](?P<body>\d{9})(?P<check>\d)",
        ("ups",),
        lambda body: checkdigits.mod10(body, (1, 2)),
    ),
    # MI + 6-digit mailer id + the mailer's own package id; no check digit.
    Format("UPS Mail Innovations", r"MI\d{6}[A-Z0-9]{1,22}", ("ups",), None),
    # USPS IMpb: application id 91-95, then service type, mailer id, serial, check.
    Format("IMpb", _USPS_IMPB, _impb_92, checkdigits.mod10),
    _impb_routed_to(5),
    _impb_routed_to(9),
    # 20 digits: the older USPS form, or an IMpb printed without its application id,
    # which the check digit still counts: 91 (older) or 92 (current, the form FedEx
    # SmartPost prints). The three checks never agree, so at most one row fits.
    Format("USPS 20-digit", r"(?P<body>\d{19})(?P<check>\d)", ("usps",), checkdigits.mod10),
    Format(
        "IMpb with 91 implied",
        r"(?P<body>\d{19})(?P<check>\d)",
        ("usps", "fedex"),
        checkdigits.mod10,
        prefix="91",
    ),
    Format(
        "FedEx SmartPost with 92 implied",
        r"(?P<body>\d{19})(?P<check>\d)",
        ("fedex", "usps"),
        checkdigits.mod10,
        prefix="92",
        service=lambda m: "FedEx Ground Economy (SmartPost)",
    ),
    # FedEx
    Format("FedEx Express", r"(?P<body>\d{11})(?P<check>\d)", ("fedex",), checkdigits.mod11_mod10),
    Format("FedEx Ground", r"(?P<body>\d{14})(?P<check>\d)", ("fedex",), checkdigits.mod10),
    Format(
        "FedEx Ground 96",
        r"96\d{5}(?P<body>\d{14})(?P<check>\d)",
        ("fedex",),
        checkdigits.mod10,
        service=_fedex_embedded(15, "FedEx Ground 96"),
        track_as=_last(15),
    ),
    Format("FedEx SSCC-18", r"(?P<body>00\d{15})(?P<check>\d)", ("fedex",), checkdigits.mod10),
    _fedex_34("FedEx Express 34-digit", "100"),
    _fedex_34("FedEx Ground 34-digit", "96"),
    # DHL
    Format("DHL Express", r"(?P<body>\d{9,10})(?P<check>\d)", ("dhl",), checkdigits.mod7),
    Format(
        "DHL eCommerce",
        r"(?:GM|LX|RX|UV|CN|SG|TH|IN|HK|MY)\d{10,39}",
        ("dhl_ecommerce",),
        None,
    ),
    # Amazon Logistics: TBA (US), TBC (Canada), TBM (Mexico) + 12 digits; no check digit.
    Format(
        "Amazon Logistics",
        r"TB(?P<region>[ACM])\d{12}",
        ("amazon",),
        None,
        service=lambda m: "Amazon Logistics" + _AMAZON_REGIONS[m["region"]],
    ),
    # UPU S10: the postal operator of the country in the last two letters.
    Format(
        "UPU S10",
        r"(?P<service>[A-Z]{2})(?P<body>\d{8})(?P<check>\d)(?P<country>[A-Z]{2})",
        _s10_carriers,
        checkdigits.s10,
        service=_s10_service,
        refuse=_s10_refuse,
    ),
)

_SEPARATORS = re.compile(r"[\s\u200b-\u200d\u2060\ufeff\-\u2010-\u2015\u2212]+")
_ALLOWED = re.compile(r"[A-Z0-9]*")


def normalize(text: str) -> str:
    """Upper-case, without spaces, dashes or invisible characters.

    NFKC first, so full-width digits and letters pasted from a web page count as
    the ASCII ones they look like.
    """
    return _SEPARATORS.sub("", unicodedata.normalize("NFKC", text)).upper()


def detect(text: str) -> Detection:
    """Detect the carrier of one tracking number; invalid numbers say why."""
    number = normalize(text)
    if not number:
        return _invalid(text, number, "empty: no tracking number given")
    if not _ALLOWED.fullmatch(number):
        odd = ", ".join(repr(c) for c in dict.fromkeys(number) if not _ALLOWED.fullmatch(c))
        return _invalid(
            text, number, f"contains {odd}: a tracking number has only letters and digits"
        )
    if not number.strip("0"):
        return _invalid(text, number, "all zeros: not a tracking number")

    fits: list[tuple[Format, Match]] = []
    faults: list[str] = []
    failed_checks: list[tuple[str, int, str]] = []  # (format label, expected, printed)
    for fmt in FORMATS:
        m = fmt.regex.fullmatch(number)
        if m is None:
            continue
        if fmt.refuse is not None and (fault := fmt.refuse(m)):
            faults.append(fault)
            continue
        if fmt.check is not None:
            expected = fmt.check(fmt.prefix + m["body"])
            if str(expected) != m["check"]:
                failed_checks.append((fmt.label, expected, m["check"]))
                continue
        fits.append((fmt, m))

    if not fits:
        if failed_checks:
            faults.insert(0, _check_fault(failed_checks))
        if not faults:
            count = f"{len(number)} character{'s' if len(number) != 1 else ''}"
            faults.append(f"matches no known format ({count})")
        return _invalid(text, number, "; ".join(faults))

    candidates = tuple(dict.fromkeys(c for fmt, m in fits for c in fmt.carriers_of(m)))
    best, m = fits[0]
    carrier = candidates[0] if candidates else None
    tracked = best.track_as(m) if best.track_as else number
    return Detection(
        input=text,
        tracking_number=number,
        carrier=carrier,
        valid=True,
        candidates=candidates,
        tracking_url=_tracking_url(carrier, tracked),
        service=best.service(m) if best.service else best.label,
    )


def _check_fault(failed: list[tuple[str, int, str]]) -> str:
    if len(failed) == 1:
        label, expected, got = failed[0]
        return f"check digit fails: expected {expected}, got {got} (as {label})"
    # Every format here ends in its check digit, so `got` is the same for all.
    options = [f"{expected} as {label}" for label, expected, _ in failed]
    got = failed[0][2]
    return f"check digit fails: got {got}, expected {', '.join(options[:-1])} or {options[-1]}"


def _invalid(text: str, number: str, reason: str) -> Detection:
    return Detection(
        input=text,
        tracking_number=number,
        carrier=None,
        valid=False,
        candidates=(),
        tracking_url=None,
        reason=reason,
    )
