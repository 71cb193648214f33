"""Text from orders, customers and carriers is data: never markup, never escapes.

Both the command line and the console render it through :func:`clean`, which
strips control characters (so an ESC in a customer's name cannot move the
cursor or change a terminal title) and bidirectional overrides (so a name cannot
reverse the text after it). Everything else is kept exactly as typed.
"""

from __future__ import annotations

import re

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")
_LINE_BREAKS = re.compile(r"[\r\n\t]+")


def clean(value: object) -> str:
    """Strip control characters and bidi overrides; keep everything else as typed."""
    if value is None:
        return ""
    return _CONTROL.sub("", str(value))


def one_line(value: object) -> str:
    """:func:`clean`, with line breaks and tabs folded to one space (for table cells)."""
    if value is None:
        return ""
    return clean(_LINE_BREAKS.sub(" ", str(value)))
