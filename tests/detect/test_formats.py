"""Every format: real numbers detected, check digits enforced, corrupted digits rejected."""

from __future__ import annotations

import pytest

from sync.carriers import names, s10
from sync.carriers.detect import detect
from tests.detect import reference as ref

# Published examples (jkeen/tracking_number_data couriers/*.json, test_numbers.valid),
# with the carriers and service orderdeck must give for them.
PUBLISHED_VALID: list[tuple[str, tuple[str, ...], str]] = [
    ("1Z5R89390357567127", ("ups",), "UPS Ground"),
    ("1Z879E930346834440", ("ups",), "UPS Ground"),
    ("1Z410E7W0392751591", ("ups",), "UPS Ground"),
    (" 1 Z 8 V 9 2 A 7 0 3 6 7 2 0 3 0 2 4 ", ("ups",), "UPS Ground"),
    ("1ZXX3150YW44070023", ("ups",), "UPS SurePost"),
    ("K1506235620", ("ups",), "UPS waybill"),
    ("K 150 623 562 0", ("ups",), "UPS waybill"),
    ("K2479825491", ("ups",), "UPS waybill"),
    ("J4603636537", ("ups",), "UPS waybill"),
    ("V0490119172", ("ups",), "UPS waybill"),
    ("0307 1790 0005 2348 3741", ("usps",), "USPS 20-digit"),
    ("7112 3456 7891 2345 6787", ("usps",), "USPS 20-digit"),
    ("7196 9010 7560 0307 7385", ("usps", "fedex"), "IMpb with 91 implied"),
    ("9505 5110 6960 5048 6006 24", ("usps",), "IMpb"),
    ("9101 1234 5678 9000 0000 13", ("usps",), "IMpb"),
    ("9400 1112 0108 0805 4830 16", ("usps",), "IMpb"),
    ("9361 2898 7870 0317 6337 95", ("usps",), "IMpb"),
    ("9405803699300124287899", ("usps",), "IMpb"),
    ("92748931507708513018050063", ("usps", "fedex"), "IMpb"),
    ("420 22153 9101026837331000039521", ("usps",), "IMpb, routed to ZIP 22153"),
    ("4201002334249200190132607600833457", ("usps", "fedex"), "IMpb, routed to ZIP 10023-3424"),
    ("4201028200009261290113185417468510", ("usps", "fedex"), "IMpb, routed to ZIP 10282-0000"),
    ("986578788855", ("fedex",), "FedEx Express"),
    ("477179081230", ("fedex",), "FedEx Express"),
    (" 7 9 0 5 3 5 3 1 2 3 1 7 ", ("fedex",), "FedEx Express"),
    ("974367662710", ("fedex",), "FedEx Express"),
    ("0414 4176 0228 964", ("fedex",), "FedEx Ground"),
    ("5682 8361 0012 734", ("fedex",), "FedEx Ground"),
    ("00 0123 4500 0000 0027", ("fedex",), "FedEx SSCC-18"),
    (
        "9611020987654312345672",
        ("fedex",),
        "FedEx Ground 96 (tracking number 987654312345672)",
    ),
    (
        "1001921334250001000300779017972697",
        ("fedex",),
        "FedEx Express 34-digit (tracking number 779017972697)",
    ),
    (
        "9622001560001234567100794808390594",
        ("fedex",),
        "FedEx Ground 34-digit (tracking number 794808390594)",
    ),
    ("61299998820821171811", ("fedex", "usps"), "FedEx Ground Economy (SmartPost)"),
    ("9261292700768711948021", ("usps", "fedex"), "IMpb"),
    ("3318810025", ("dhl",), "DHL Express"),
    (" 3 3 1 8 8 1 0 0 3 6 ", ("dhl",), "DHL Express"),
    ("73891051146", ("dhl",), "DHL Express"),
    ("GM2951173225174494", ("dhl_ecommerce",), "DHL eCommerce"),
    ("GM 2 9 5 117 32 25 1 7 44 9 4", ("dhl_ecommerce",), "DHL eCommerce"),
    ("TBA502887274000", ("amazon",), "Amazon Logistics"),
    (" T B A 0 0 0 0 0 0 0 0 0 0 0 0 ", ("amazon",), "Amazon Logistics"),
    ("RB123456785GB", ("royal_mail",), "UPU S10 registered item from GB"),
    ("RB123456785US", ("usps",), "UPU S10 registered item from US"),
]

# Their published invalid examples, with the reason orderdeck gives.
PUBLISHED_INVALID: list[tuple[str, str]] = [
    ("2Z5R89390357567127", "matches no known format"),
    ("1A5R89390357567127", "matches no known format"),
    ("1Z1111111111111111", "check digit fails: expected 8, got 1 (as UPS 1Z)"),
    ("9200000000000000000000", "check digit fails: expected 1, got 0 (as IMpb)"),
    ("420000000000000000000000000000", "matches no known format"),
    ("420000009200000000000000000000", "check digit fails: expected 1, got 0"),
    ("4201028200009261290113185417468511", "check digit fails: expected 0, got 1"),
    ("996578788855", "check digit fails: expected 6, got 5 (as FedEx Express)"),
    ("5682 8361 0012 732", "check digit fails: expected 4, got 2 (as FedEx Ground)"),
    ("000000000000000001", "check digit fails: expected 0, got 1 (as FedEx SSCC-18)"),
    ("9600000000000000000001", "check digit fails: expected 0, got 1 (as FedEx Ground 96)"),
    ("9261292700768711948020", "check digit fails: expected 1, got 0 (as IMpb)"),
    (
        "1001901781990001000300617767839438",
        "check digit fails: expected 7, got 8 (as FedEx Express 34-digit)",
    ),
    (
        "9622001560001234567100794808390595",
        "check digit fails: expected 4, got 5 (as FedEx Ground 34-digit)",
    ),
    ("3318810010", "check digit fails: expected 4, got 0 (as DHL Express)"),
    ("3318810034", "check digit fails: expected 6, got 4 (as DHL Express)"),
    ("73891051149", "check digit fails: expected 6, got 9 (as DHL Express)"),
    ("GS295117494011169041", "matches no known format"),
    ("TBA50288727400A", "matches no known format"),
    ("TBB000000000000", "matches no known format"),
    ("000000000000", "all zeros"),
    ("RB123456786US", "check digit fails: expected 5, got 6 (as UPU S10)"),
    ("RB123456785XX", "UPU S10 number, but XX is not an ISO 3166 country code"),
]


@pytest.mark.parametrize(("number", "candidates", "service"), PUBLISHED_VALID)
def test_published_valid_numbers(number: str, candidates: tuple[str, ...], service: str) -> None:
    d = detect(number)
    assert d.valid, d.reason
    assert d.reason is None
    assert d.candidates == candidates
    assert d.carrier == candidates[0]
    assert d.service == service
    assert d.input == number


@pytest.mark.parametrize(("number", "reason"), PUBLISHED_INVALID)
def test_published_invalid_numbers(number: str, reason: str) -> None:
    d = detect(number)
    assert not d.valid
    assert d.carrier is None
    assert d.candidates == ()
    assert d.tracking_url is None
    assert d.service is None
    assert d.reason is not None and d.reason.startswith(reason), d.reason


def test_a_published_usps_invalid_number_is_a_valid_smartpost_number() -> None:
    # tracking_number_data lists it as an invalid USPS 20-digit number, yet its own
    # FedEx SmartPost rule (92 implied) accepts it; orderdeck agrees with both.
    d = detect("0307 1790 0005 2348 3742")
    assert d.valid
    assert d.candidates == ("fedex", "usps")


# --- numbers built here, with check digits computed the way each spec words it --------


def _ups_1z(shipper: str, service: str, package: str) -> str:
    serial = shipper + service + package
    return "1Z" + serial + ref.ups(serial)


@pytest.mark.parametrize(
    ("number", "service"),
    [
        (_ups_1z("999AA1", "01", "2345678"), "UPS Next Day Air"),
        (_ups_1z("A8R42X", "02", "0015551"), "UPS 2nd Day Air"),
        (_ups_1z("0X2F77", "03", "9912004"), "UPS Ground"),
        (_ups_1z("WQ9301", "12", "0000042"), "UPS 3 Day Select"),
        (_ups_1z("E83V21", "66", "7712391"), "UPS Worldwide Express"),
        (_ups_1z("E83V21", "ZZ", "7712391"), "UPS 1Z"),
    ],
)
def test_ups_1z_with_letters_and_services(number: str, service: str) -> None:
    d = detect(number)
    assert (d.valid, d.carrier, d.service) == (True, "ups", service)
    assert d.tracking_url == names.tracking_url("ups", number)


def test_ups_letters_are_valued_as_ups_maps_them() -> None:
    # The UPS example from its developer guide: 1Z 999AA1 01 2345678 4.
    assert _ups_1z("999AA1", "01", "2345678") == "1Z999AA10123456784"
    # A letter where the check digit belongs is a failed check, not a new format.
    d = detect("1Z999AA1012345678A")
    assert d.reason == "check digit fails: expected 4, got A (as UPS 1Z)"


def test_ups_waybill_and_mail_innovations() -> None:
    for letter in "AHJKTV":
        number = letter + "481516234" + ref.ups("481516234")
        assert detect(number).service == "UPS waybill", number
    assert not detect("X4815162342").valid  # not a waybill letter
    d = detect("mi 123456 order-000042")
    assert (d.valid, d.carrier, d.service) == (True, "ups", "UPS Mail Innovations")
    assert d.tracking_number == "MI123456ORDER000042"
    assert not detect("MI12345").valid  # the mailer id has six digits


def _impb(body21: str) -> str:
    return body21 + ref.gs1(body21)


@pytest.mark.parametrize("application_id", ["91", "93", "94", "95"])
def test_usps_impb_application_ids(application_id: str) -> None:
    number = _impb(application_id + "0011128800123456789")
    d = detect(number)
    assert (d.valid, d.candidates, d.service) == (True, ("usps",), "IMpb")
    assert d.tracking_url == names.tracking_url("usps", number)


def test_usps_impb_92_fits_fedex_too() -> None:
    d = detect(_impb("920551112880012345678"))
    assert (d.valid, d.candidates, d.service) == (True, ("usps", "fedex"), "IMpb")


@pytest.mark.parametrize("length", [26, 30])
def test_usps_impb_longer_forms(length: int) -> None:
    body = ("9400" + "1" * 40)[: length - 1]
    d = detect(body + ref.gs1(body))
    assert (d.valid, d.carrier, d.service) == (True, "usps", "IMpb")


@pytest.mark.parametrize(("zip_code", "shown"), [("90210", "90210"), ("902101234", "90210-1234")])
def test_usps_routing_prefix_is_tolerated_and_left_out_of_the_url(
    zip_code: str, shown: str
) -> None:
    impb = _impb("9400111206206406260" + "78")
    number = "420" + zip_code + impb
    d = detect(number)
    assert d.valid and d.carrier == "usps"
    assert d.service == f"IMpb, routed to ZIP {shown}"
    assert d.tracking_number == number  # the number is kept as printed ...
    assert d.tracking_url == names.tracking_url("usps", impb)  # ... USPS tracks the IMpb


def test_usps_routing_that_parses_two_ways_is_checked_both_ways() -> None:
    # ZIP+4 10023-9212: "9212..." after the ZIP5 also looks like a 26-digit IMpb.
    impb = _impb("9400111206206406260" + "78")
    number = "420" + "10023" + "9212" + impb
    assert ref.gs1(number[8:-1]) != number[-1]  # read as ZIP5 + IMpb 26, the check fails
    d = detect(number)
    assert d.valid and d.service == "IMpb, routed to ZIP 10023-9212"
    assert d.tracking_url == names.tracking_url("usps", impb)


def test_usps_20_digit_forms_and_their_check_digits() -> None:
    body = "0307179000052348374"
    plain, with_91, with_92 = ref.gs1(body), ref.gs1("91" + body), ref.gs1("92" + body)
    assert len({plain, with_91, with_92}) == 3  # the three readings never agree
    assert detect(body + plain).candidates == ("usps",)
    assert detect(body + with_91).candidates == ("usps", "fedex")
    assert detect(body + with_92).candidates == ("fedex", "usps")
    for digit in set("0123456789") - {plain, with_91, with_92}:
        d = detect(body + digit)
        assert not d.valid
        assert d.reason == (
            f"check digit fails: got {digit}, expected {plain} as USPS 20-digit, "
            f"{with_91} as IMpb with 91 implied or {with_92} as FedEx SmartPost with 92 implied"
        )


def test_fedex_express_12() -> None:
    for serial in ("79053531231", "12345678901", "40000000001"):
        number = serial + ref.fedex_express(serial)
        d = detect(number)
        assert (d.valid, d.carrier, d.service) == (True, "fedex", "FedEx Express"), number


def test_fedex_ground_15_and_96_and_sscc() -> None:
    ground = "04144176022896" + ref.gs1("04144176022896")
    assert detect(ground).service == "FedEx Ground"
    barcode = "9612019" + ground
    d = detect(barcode)
    assert d.service == f"FedEx Ground 96 (tracking number {ground})"
    assert d.tracking_url == names.tracking_url("fedex", ground)
    sscc = "00" + "741852963014725" + ref.gs1("00" + "741852963014725")
    assert detect(sscc).service == "FedEx SSCC-18"
    # SSCC-18 is recognized only with the 00 prefix the brief names.
    other = "01" + "741852963014725" + ref.gs1("01" + "741852963014725")
    assert not detect(other).valid


@pytest.mark.parametrize("prefix", ["100", "96"])
def test_fedex_34_digit_barcodes_embed_the_12_digit_number(prefix: str) -> None:
    express = "79053531231" + ref.fedex_express("79053531231")
    number = prefix + "1" * (34 - len(prefix) - 14) + "00" + express  # 13 checked digits
    d = detect(number)
    assert d.valid and d.carrier == "fedex", d.reason
    assert d.tracking_url == names.tracking_url("fedex", express)
    assert d.service is not None and d.service.endswith(f"(tracking number {express})")


@pytest.mark.parametrize("serial", ["331881002", "123456789", "7389105114", "1000000000"])
def test_dhl_express_mod7(serial: str) -> None:
    d = detect(serial + ref.dhl(serial))
    assert (d.valid, d.carrier, d.service) == (True, "dhl", "DHL Express")


@pytest.mark.parametrize("prefix", ["GM", "LX", "RX", "UV", "CN", "SG", "TH", "IN", "HK", "MY"])
def test_dhl_ecommerce_prefixes(prefix: str) -> None:
    d = detect(prefix + "2951173225174494")
    assert (d.valid, d.carrier) == (True, "dhl_ecommerce")
    assert not detect(prefix + "123456789").valid  # at least ten digits follow the prefix


@pytest.mark.parametrize(
    ("prefix", "service"),
    [
        ("TBA", "Amazon Logistics"),
        ("TBC", "Amazon Logistics (Canada)"),
        ("TBM", "Amazon Logistics (Mexico)"),
    ],
)
def test_amazon_logistics(prefix: str, service: str) -> None:
    d = detect(prefix + "302938475610")
    assert (d.valid, d.carrier, d.service) == (True, "amazon", service)
    assert d.tracking_url == names.tracking_url("amazon", prefix + "302938475610")
    assert not detect(prefix + "30293847561").valid  # 11 digits
    assert not detect(prefix + "3029384756101").valid  # 13 digits


def _s10(service: str, serial: str, country: str) -> str:
    return service + serial + ref.s10(serial) + country


@pytest.mark.parametrize(("country", "carrier"), sorted(s10.OPERATORS.items()))
def test_s10_names_the_postal_operator_of_every_listed_country(country: str, carrier: str) -> None:
    assert carrier in names.CARRIERS
    number = _s10("RR", "47281903", country)
    d = detect(number)
    assert (d.valid, d.candidates) == (True, (carrier,)), d.reason
    assert d.tracking_url == names.tracking_url(carrier, number)


def test_s10_operators_cover_the_required_countries() -> None:
    required = "GB DE FR US CN CA AU JP ES IT NL BE CH AT SE DK IE BR IN KR SG HK NZ FI PL CZ MX"
    assert set(required.split()) <= set(s10.OPERATORS)


def test_s10_check_digit_rule_for_remainders_0_and_1() -> None:
    # Find serials whose weighted sum leaves 0 and 1 (check digits 5 and 0).
    by_remainder: dict[int, str] = {}
    for n in range(200):
        serial = f"{n:08d}"
        total = sum(int(c) * w for c, w in zip(serial, (8, 6, 4, 2, 3, 5, 9, 7), strict=True))
        by_remainder.setdefault(total % 11, serial)
    assert detect("EE" + by_remainder[0] + "5" + "CN").valid
    assert detect("EE" + by_remainder[1] + "0" + "CN").valid
    assert not detect("EE" + by_remainder[0] + "0" + "CN").valid


@pytest.mark.parametrize(
    ("service", "kind"),
    [
        ("EE", "EMS item"),
        ("CP", "parcel"),
        ("LX", "express letter"),
        ("RR", "registered item"),
        ("VV", "insured item"),
        ("UA", "letter-post item"),
        ("HA", "e-commerce parcel"),
        ("NZ", "domestic item"),
    ],
)
def test_s10_service_indicator(service: str, kind: str) -> None:
    d = detect(_s10(service, "10293847", "DE"))
    assert d.service == f"UPU S10 {kind} from DE"
    assert d.carrier == "deutsche_post"


def test_s10_from_a_country_without_a_carrier_code_is_valid_but_names_no_carrier() -> None:
    d = detect("RB123456785CV")
    assert d.valid
    assert (d.carrier, d.candidates, d.tracking_url) == (None, (), None)
    assert d.service is not None and "no carrier code" in d.service


def test_iso_country_list_is_complete() -> None:
    assert len(s10.ISO_COUNTRIES) == 249
    assert {"GB", "US", "CN", "SS", "BQ", "CW", "SX", "AX", "XK"} - s10.ISO_COUNTRIES == {"XK"}


# --- corruption: every wrong check digit of every format is caught --------------------

SINGLE_FORMAT_NUMBERS = [
    "1Z5R89390357567127",
    "K2479825491",
    "9400111201080805483016",
    "92748931507708513018050063",
    "420221539101026837331000039521",
    "986578788855",
    "041441760228964",
    "000123450000000027",
    "9611020987654312345672",
    "1001921334250001000300779017972697",
    "9622001560001234567100794808390594",
    "3318810025",
    "73891051146",
    "RB123456785GB",
]


@pytest.mark.parametrize("number", SINGLE_FORMAT_NUMBERS)
def test_every_wrong_check_digit_is_rejected_with_the_expected_one(number: str) -> None:
    check_at = len(number) - (3 if number.endswith("GB") else 1)
    right = number[check_at]
    for digit in set("0123456789") - {right}:
        corrupted = number[:check_at] + digit + number[check_at + 1 :]
        d = detect(corrupted)
        assert not d.valid, corrupted
        assert d.reason is not None
        assert d.reason.startswith(f"check digit fails: expected {right}, got {digit}"), d.reason


@pytest.mark.parametrize("number", SINGLE_FORMAT_NUMBERS[:-1])
def test_a_mistyped_serial_digit_is_caught(number: str) -> None:
    # Change one digit in the middle of the serial: the check digit no longer fits.
    i = len(number) - 3
    wrong = str((int(number[i]) + 1) % 10)
    d = detect(number[:i] + wrong + number[i + 1 :])
    assert not d.valid, d
    assert d.reason is not None and d.reason.startswith("check digit fails")
