"""What the client's modules share (kept apart so that they import no cycle)."""

from __future__ import annotations

from typing import Final, cast
from urllib.parse import quote

# "the client's own key" as a default, told apart from None ("no credentials at all")
CLIENT_KEY: Final = cast(str, object())

TERMINAL_STATES: Final = frozenset({"done", "failed", "expired", "cancelled"})


def segment(value: str | int) -> str:
    """A path segment, escaped."""
    return quote(str(value), safe="")
