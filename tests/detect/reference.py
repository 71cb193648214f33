"""Check digits computed the way each carrier's specification words it.

Written independently of ``sync.carriers.checkdigits`` (positions counted from the
left, as the specifications count them), so a shared mistake cannot hide: the tests
build numbers with these and expect ``detect`` to agree.
"""

from __future__ import annotations

_UPS_LETTERS = dict(zip("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "23456789012345678901234567", strict=True))


def ups(serial: str) -> str:
    """UPS: odd positions x1, even positions x2 (1-based, from the left); letters per UPS."""
    total = 0
    for position, char in enumerate(serial, start=1):
        value = int(_UPS_LETTERS.get(char, char))
        total += value * (2 if position % 2 == 0 else 1)
    return str((10 - total % 10) % 10)


def gs1(digits: str) -> str:
    """GS1 / USPS IMpb / FedEx Ground: x3 for the digit next to the check digit, then x1, x3..."""
    total = 0
    for position_from_right, char in enumerate(reversed(digits), start=1):
        total += int(char) * (3 if position_from_right % 2 == 1 else 1)
    return str((10 - total % 10) % 10)


def fedex_express(serial11: str) -> str:
    """FedEx Express: weights 3,1,7,3,1,7,3,1,7,3,1 from the left, mod 11, mod 10."""
    weights = [3, 1, 7] * 4
    return str(sum(int(c) * w for c, w in zip(serial11, weights, strict=False)) % 11 % 10)


def dhl(serial: str) -> str:
    return str(int(serial) % 7)


def s10(serial8: str) -> str:
    remainder = sum(int(c) * w for c, w in zip(serial8, (8, 6, 4, 2, 3, 5, 9, 7), strict=True)) % 11
    check = 11 - remainder
    return "0" if check == 10 else "5" if check == 11 else str(check)
