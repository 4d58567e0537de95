"""Names no other test uses: every run shares one database per worker, and usernames are unique."""

from __future__ import annotations

import uuid


def unique(name: str) -> str:
    """``name`` with a random suffix, such as ``alice-3f9c0a1b``."""
    return f"{name}-{uuid.uuid4().hex[:8]}"
