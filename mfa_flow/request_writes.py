"""What units of work did in one request, shared by the HTTP layer (which starts the count
and reads it) and the store (which counts each commit), neither importing the other for it.

A request that committed nothing may run again on a fresh connection after its connection
was lost (``http/problems.py``); one that did may not.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass


@dataclass
class Writes:
    """What units of work did in one request: whether any commit was attempted."""

    commits: int = 0


REQUEST_WRITES: ContextVar[Writes | None] = ContextVar("request_writes", default=None)
