"""``switch_factor``: back to the selection, when there is another factor to pick."""

from __future__ import annotations

from typing import Any

from ...domain import machine
from ...domain.machine import Step
from ...factors.base import FactorContext, JsonObject
from ..rules import Decision, Rules


async def handle(rules: Rules, ctx: FactorContext, event: JsonObject, prepared: dict[str, Any]) -> Decision:
    data = {"from_factor": rules.machine.factor_of_state.get(ctx.flow.state)}
    return Decision([Step("switch_factor", "other_factor_available", machine.FACTOR_SELECTION, data)])
