"""How many SMS segments a text costs: GSM-7 when every character fits, else UCS-2.

Carriers bill per segment and long messages arrive split or late, so the rules
warn when a rendered SMS is longer than two segments.
"""

from __future__ import annotations

from dataclasses import dataclass

# GSM 03.38 basic character set (one septet each).
_GSM_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# The extension table: an escape septet plus one, so two each.
_GSM_EXTENDED = frozenset("^{}\\[~]|€\f")

#: Segments above this many earn a warning.
WARN_ABOVE = 2


@dataclass(frozen=True)
class SmsInfo:
    encoding: str  # "GSM-7" or "UCS-2"
    #: Septets (GSM-7) or UTF-16 code units (UCS-2).
    units: int
    segments: int

    @property
    def warning(self) -> str | None:
        if self.segments <= WARN_ABOVE:
            return None
        hint = (
            " (a character outside GSM-7 forces UCS-2, 70 per segment)"
            if self.encoding == "UCS-2"
            else ""
        )
        return f"the SMS is {self.segments} segments long: {self.units} {self.encoding} units{hint}"


def measure(text: str) -> SmsInfo:
    if all(ch in _GSM_BASIC or ch in _GSM_EXTENDED for ch in text):
        units = sum(2 if ch in _GSM_EXTENDED else 1 for ch in text)
        single, multi, encoding = 160, 153, "GSM-7"
    else:
        units = len(text.encode("utf-16-le")) // 2
        single, multi, encoding = 70, 67, "UCS-2"
    if units == 0:
        segments = 0
    elif units <= single:
        segments = 1
    else:
        segments = -(-units // multi)
    return SmsInfo(encoding=encoding, units=units, segments=segments)
