"""``cancel``: the client gives up the sign-in."""

from __future__ import annotations

from typing import Any

from ...domain import machine
from ...domain.machine import Step
from ...factors.base import FactorContext, JsonObject
from ..rules import Decision, Rules


async def handle(rules: Rules, ctx: FactorContext, event: JsonObject, prepared: dict[str, Any]) -> Decision:
    return Decision([Step("cancel", "always", machine.CANCELLED)])
