"""``switch_factor``: back to the selection, when there is another factor to pick."""

from __future__ import annotations

from dataclasses import dataclass

from ...domain import machine
from ...domain.machine import FlowMachine, Step
from ...factors.base import FactorContext
from ..commands import ClientEvent, Decision


@dataclass(frozen=True)
class SwitchFactor:
    machine: FlowMachine

    async def __call__(self, cmd: ClientEvent, ctx: FactorContext) -> Decision:
        data = {"from_factor": self.machine.factor_of_state.get(ctx.flow.state)}
        return Decision([Step("switch_factor", "other_factor_available", machine.FACTOR_SELECTION, data)])
