"""``cancel``: the client gives up the sign-in (with or without a user yet)."""

from __future__ import annotations

from ...domain import machine
from ...domain.machine import Step
from ...factors.base import LockedFlow
from ..commands import ClientEvent, Decision


async def handle(cmd: ClientEvent, ctx: LockedFlow) -> Decision:
    return Decision([Step("cancel", "always", machine.CANCELLED)])
