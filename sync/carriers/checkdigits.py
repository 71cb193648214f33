"""Check-digit algorithms of parcel tracking numbers.

Each function takes the part of a number the check digit covers and returns the
digit it must be, so a caller can say "expected 4, got 5" rather than just "no".
Weights are listed from the RIGHT (the digit next to the check digit first),
which is how every scheme here is defined once the number has its full length;
they repeat to the left.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import cycle

#: S10 (UPU standard for international mail) weights, left to right over 8 digits.
S10_WEIGHTS = (8, 6, 4, 2, 3, 5, 9, 7)


def ups_value(char: str) -> int:
    """UPS's value for a character of a 1Z number: digits as they are, letters
    A=2, B=3, ... I=0, J=1, ... S=0, T=1, ... Z=7 (the ASCII code minus 3, mod 10)."""
    if char.isdigit():
        return int(char)
    return (ord(char) - 3) % 10


def _weighted_sum(values: Sequence[int], weights_from_right: Sequence[int]) -> int:
    return sum(v * w for v, w in zip(reversed(values), cycle(weights_from_right), strict=False))


def mod10(body: str, weights_from_right: Sequence[int] = (3, 1)) -> int:
    """Weighted sum, then the digit that brings it to a multiple of ten.

    (3, 1) is GS1's scheme (SSCC-18), USPS's IMpb and FedEx Ground; (1, 2) is UPS,
    whose letters count with :func:`ups_value`. Products are added as they are,
    not digit by digit (this is not Luhn).
    """
    values = [ups_value(c) for c in body]
    return (10 - _weighted_sum(values, weights_from_right) % 10) % 10


def mod11_mod10(body: str, weights_from_right: Sequence[int] = (1, 3, 7)) -> int:
    """FedEx Express: weighted sum mod 11, then mod 10 (so 10 becomes 0).

    FedEx writes the weights 3, 1, 7, ... from the left over the 11-digit serial,
    which is 1, 3, 7, ... from the right; the 34-digit barcodes reuse it over their
    last 13 digits.
    """
    return _weighted_sum([int(c) for c in body], weights_from_right) % 11 % 10


def mod7(body: str) -> int:
    """DHL Express: the serial number mod 7."""
    return int(body) % 7


def s10(body: str) -> int:
    """UPU S10: 8 digits weighted 8,6,4,2,3,5,9,7; 11 minus the sum mod 11,
    where a result of 10 becomes 0 and 11 becomes 5."""
    check = 11 - sum(int(c) * w for c, w in zip(body, S10_WEIGHTS, strict=True)) % 11
    return {10: 0, 11: 5}.get(check, check)
