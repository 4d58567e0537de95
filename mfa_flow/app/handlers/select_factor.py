"""``select_factor``: pick one of the offered factors, to set up or verify as the mode says."""

from __future__ import annotations

from typing import Any

from ...domain import policy
from ...domain.errors import RuleBroken
from ...domain.machine import Step
from ...factors.base import FactorContext, JsonObject
from ..rules import Decision, Rules


async def handle(rules: Rules, ctx: FactorContext, event: JsonObject, prepared: dict[str, Any]) -> Decision:
    factor = event["factor"]
    if factor not in ctx.flow.choices:
        raise RuleBroken(
            f"factor {factor!r} is not offered in this flow; choose one of: {', '.join(ctx.flow.choices)}",
            field="factor",
        )
    ctx.flow.context.preferred = factor
    to_state = policy.after_selection(rules.machine, ctx.flow.mode, factor)
    return Decision([Step("select_factor", "factor_offered", to_state, {"factor": factor})])
