"""Normalization, noise, ambiguity, and the shape of a Detection."""

from __future__ import annotations

import dataclasses
import random

import pytest

from sync.carriers import names
from sync.carriers.detect import FORMATS, Detection, detect, normalize
from tests.detect import reference as ref

#: The keys of Detection.as_dict(), in order: a contract with the CLI's --json users.
AS_DICT_KEYS = [
    "tracking_number",
    "carrier",
    "valid",
    "candidates",
    "tracking_url",
    "service",
    "reason",
    "input",
]


@pytest.mark.parametrize(
    "text",
    [
        "1Z5R89390357567127",
        "1z5r89390357567127",
        "  1Z5R89390357567127\n",
        "\t1Z 5R8 939 0357 5671 27 ",
        "1Z-5R89-3903-5756-7127",
        "1Z–5R89—3903‐5756−7127",  # en dash, em dash, hyphen, minus sign
        "1Z\u00a05R89\u200b390357567127",  # no-break space, zero-width space
        "\ufeff1Z5R89390357567127",  # a byte-order mark from a spreadsheet export
        "１Ｚ５Ｒ８９３９０３５７５６７１２７",  # full-width, pasted from a web page
    ],
)
def test_separators_case_and_width_are_tolerated(text: str) -> None:
    assert normalize(text) == "1Z5R89390357567127"
    d = detect(text)
    assert d.valid and d.carrier == "ups"
    assert d.tracking_number == "1Z5R89390357567127"
    assert d.input == text  # what was given is kept as given


@pytest.mark.parametrize("text", ["", " ", "\n\t ", "---", " - – - "])
def test_empty_input_is_rejected_clearly(text: str) -> None:
    d = detect(text)
    assert not d.valid
    assert d.tracking_number == ""
    assert d.reason == "empty: no tracking number given"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("1Z5R8939.0357567127", "contains '.': a tracking number has only letters and digits"),
        ("#1Z5R89390357567127", "contains '#'"),
        ("1Z5R8939/0357:567127", "contains '/', ':'"),
        ("RB123456785GB\x1b[2J", "contains '\\x1b', '['"),
        ("TBA50288727400É", "contains 'É'"),
        ("📦1Z5R89390357567127", "contains '📦'"),
        ("'; DROP TABLE shipments; --", "contains"),
    ],
)
def test_characters_no_tracking_number_has_are_named(text: str, reason: str) -> None:
    d = detect(text)
    assert not d.valid
    assert d.reason is not None and d.reason.startswith(reason), d.reason


@pytest.mark.parametrize(
    "text",
    [
        "hello",
        "ORDER12345",
        "tracking number",
        "NA",
        "1",
        "4",
        "12345",
        "123456789",
        "1Z",
        "1Z123",
        "TBA",
        "ABCDEFGHIJKLMNOPQRSTUVWXYZ",
        "1234567890123456789012345678901234567890",
        "9" * 500,
    ],
)
def test_noise_matches_no_known_format(text: str) -> None:
    d = detect(text)
    assert not d.valid
    length = len(normalize(text))
    assert d.reason == f"matches no known format ({length} character{'s' * (length != 1)})"


@pytest.mark.parametrize("text", ["0" * 10, "0" * 12, "0" * 20, "000-000-000-000"])
def test_all_zeros_is_not_a_tracking_number(text: str) -> None:
    assert detect(text).reason == "all zeros: not a tracking number"


def test_long_garbage_is_fast_and_safe() -> None:
    d = detect("A1" * 50_000)
    assert not d.valid
    assert d.reason == "matches no known format (100000 characters)"


# --- ambiguity ---------------------------------------------------------------------------


def test_numbers_that_fit_several_carriers_list_them_all_most_likely_first() -> None:
    # A 22-digit IMpb with application id 92: USPS delivers it, but FedEx Ground
    # Economy (SmartPost) numbers have this form too.
    impb_92 = "920551112880012345678" + ref.gs1("920551112880012345678")
    assert detect(impb_92).candidates == ("usps", "fedex")
    # The same body printed as SmartPost prints it: 20 digits, 92 implied.
    smartpost = "0551112880012345678" + ref.gs1("92" + "0551112880012345678")
    assert detect(smartpost).candidates == ("fedex", "usps")
    # 91 implied: an older USPS label without its application id.
    older = "7196901075600307738" + ref.gs1("91" + "7196901075600307738")
    assert detect(older).candidates == ("usps", "fedex")


def test_the_most_likely_carrier_is_the_first_candidate_and_owns_the_url() -> None:
    d = detect("61299998820821171811")
    assert d.carrier == d.candidates[0] == "fedex"
    assert d.tracking_url == names.tracking_url("fedex", "61299998820821171811")


def test_a_number_is_never_guessed_from_its_shape_alone() -> None:
    # Right length and prefix for a UPS 1Z number, a FedEx Express number and a DHL
    # waybill, but the check digit is wrong: no carrier is named.
    for number in ("1Z5R89390357567120", "986578788850", "3318810020"):
        d = detect(number)
        assert (d.valid, d.carrier, d.candidates, d.tracking_url) == (False, None, (), None)


# --- the interface other modules code against ---------------------------------------------


def test_as_dict_has_exactly_the_documented_keys_in_order() -> None:
    d = detect("9261 2927 0076 8711 9480 21")
    assert d.as_dict() == {
        "tracking_number": "9261292700768711948021",
        "carrier": "usps",
        "valid": True,
        "candidates": ["usps", "fedex"],
        "tracking_url": "https://tools.usps.com/go/TrackConfirmAction?tLabels=9261292700768711948021",
        "service": "IMpb",
        "reason": None,
        "input": "9261 2927 0076 8711 9480 21",
    }
    assert list(d.as_dict()) == AS_DICT_KEYS


def test_detection_is_frozen_and_hashable() -> None:
    d = detect("3318810025")
    with pytest.raises(dataclasses.FrozenInstanceError):
        d.carrier = "ups"  # type: ignore[misc]
    assert d == detect("3318810025")
    assert len({d, detect("3318810025")}) == 1
    fields = [f.name for f in dataclasses.fields(Detection)]
    assert fields == ["input", *AS_DICT_KEYS[:-1]]


def test_every_carrier_a_format_names_is_a_known_code() -> None:
    for fmt in FORMATS:
        if not callable(fmt.carriers):
            assert set(fmt.carriers) <= set(names.CARRIERS), fmt.label


def test_random_input_never_raises_and_valid_means_a_check_held() -> None:
    rng = random.Random(20261107)
    alphabet = "0123456789" * 5 + "ABCDEFGHIJKLMNOPQRSTUVWXYZ -"
    seen_valid = 0
    for _ in range(5000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40)))
        d = detect(text)
        assert d.valid == (d.reason is None)
        assert d.valid or (d.carrier, d.candidates, d.tracking_url) == (None, (), None)
        if d.valid:
            seen_valid += 1
            assert d.service
            assert d.carrier == (d.candidates[0] if d.candidates else None)
    assert seen_valid < 5000 * 0.05  # random text is rarely a tracking number


def test_random_digit_strings_of_tracking_lengths_rarely_pass() -> None:
    # One check digit lets about 1 in 10 (1 in 7 for DHL) through: no format is
    # accepted on its length alone.
    rng = random.Random(7)
    for length in (10, 11, 12, 15, 22, 26, 34):
        numbers = ["".join(rng.choice("0123456789") for _ in range(length)) for _ in range(700)]
        passed = sum(detect(n).valid for n in numbers)
        assert passed < 700 * 0.25, (length, passed)
