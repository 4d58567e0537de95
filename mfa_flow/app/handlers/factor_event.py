"""A factor's own event (beyond its proof): the factor of the current state decides the step."""

from __future__ import annotations

from dataclasses import dataclass

from ...domain.errors import Conflict
from ...factors.base import FactorContext
from ...factors.registry import Registry
from ..commands import ClientEvent, Decision


@dataclass(frozen=True)
class FactorEvent:
    registry: Registry

    async def __call__(self, cmd: ClientEvent, ctx: FactorContext) -> Decision:
        factor = self.registry.of_state(ctx.flow.state)
        if factor is None or cmd.type not in factor.states.events:
            raise Conflict(f"{cmd.type} is not an event of state {ctx.flow.state}", kind="event-not-allowed",
                           state=ctx.flow.state)
        return Decision([await factor.handle_event(ctx, cmd.payload)])
