"""What the Python client's tests share."""

from __future__ import annotations

import uuid

PASSWORD = "correct horse battery staple"


def unique(name: str) -> str:
    """A user id or name no other test uses."""
    return f"{name}-{uuid.uuid4().hex[:8]}"
