"""``select_factor``: pick one of the offered factors, to set up or verify as the mode says."""

from __future__ import annotations

from dataclasses import dataclass

from ...domain import policy
from ...domain.errors import RuleBroken
from ...domain.machine import FlowMachine, Step
from ...factors.base import FactorContext
from ..commands import ClientEvent, Decision


@dataclass(frozen=True)
class SelectFactor:
    machine: FlowMachine

    async def __call__(self, cmd: ClientEvent, ctx: FactorContext) -> Decision:
        factor = cmd.payload["factor"]
        if factor not in ctx.flow.choices:
            raise RuleBroken(
                f"factor {factor!r} is not offered in this flow; choose one of: {', '.join(ctx.flow.choices)}",
                field="factor",
            )
        ctx.flow.context.preferred = factor
        to_state = policy.after_selection(self.machine, ctx.flow.mode, factor)
        return Decision([Step("select_factor", "factor_offered", to_state, {"factor": factor})])
