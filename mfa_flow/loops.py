"""The event loop: uvloop when it is installed (the ``fast`` extra, which the image installs),
else asyncio's own. ``MFA_FLOW_EVENT_LOOP`` (``auto``, ``uvloop``, ``asyncio``) chooses."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")
CHOICES = ("auto", "uvloop", "asyncio")


def _uvloop() -> Any:
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop


def chosen(setting: str) -> str:
    """The loop ``setting`` stands for here: ``uvloop`` or ``asyncio``."""
    if setting == "asyncio":
        return "asyncio"
    if _uvloop() is not None:
        return "uvloop"
    if setting == "uvloop":
        raise SystemExit("MFA_FLOW_EVENT_LOOP=uvloop, but uvloop is not installed (pip install 'mfa-flow[fast]')")
    return "asyncio"


def factory(setting: str) -> Callable[[], asyncio.AbstractEventLoop]:
    """A function that makes a new event loop of the chosen kind."""
    if chosen(setting) == "uvloop":
        return _uvloop().new_event_loop  # type: ignore[no-any-return]
    return asyncio.new_event_loop


def run(main: Coroutine[Any, Any, T], setting: str) -> T:
    """``asyncio.run`` on the chosen loop."""
    with asyncio.Runner(loop_factory=factory(setting)) as runner:
        return runner.run(main)
