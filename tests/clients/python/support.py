"""What the Python client's tests share."""

from __future__ import annotations

PASSWORD = "correct horse battery staple"

