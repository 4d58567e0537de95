"""Waiting for a condition, always with a deadline, never blocking the event loop."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def eventually(
    check: Callable[[], T | Awaitable[T]], timeout: float = 30.0, interval: float = 0.05, what: str | None = None
) -> T:
    """Wait until ``check()`` (sync or async) returns something truthy; return it.

    The timeout bounds a hang; it is not a performance assertion. ``what`` names the
    condition in the failure message (default: the check's name)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value  # type: ignore[return-value]
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what or getattr(check, '__name__', check)}")
        await asyncio.sleep(interval)
