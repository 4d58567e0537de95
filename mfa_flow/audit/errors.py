"""The root of the audit package's errors: something to verify that does not hold, or that
cannot be read (a ValueError, as each of them was)."""

from __future__ import annotations


class AuditError(ValueError):
    """The root of the audit package's errors; the message says what does not hold."""
