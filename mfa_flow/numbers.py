"""Whole numbers from text that strangers send (query strings, headers, cursors)."""

from __future__ import annotations

import re

# ASCII digits only (str.isdigit also takes "²" and other digits int() refuses), and at most
# 18 of them, so that every number fits PostgreSQL's bigint.
_WHOLE = re.compile(r"[0-9]{1,18}")


def whole_number(text: str | None) -> int | None:
    """The number ``text`` spells, or None when it is not a plain whole number."""
    if text is None or not _WHOLE.fullmatch(text):
        return None
    return int(text)
