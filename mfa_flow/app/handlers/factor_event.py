"""A factor's own event (beyond its proof): the factor of the current state decides the step."""

from __future__ import annotations

from typing import Any

from ...domain.errors import Conflict
from ...factors.base import FactorContext, JsonObject
from ..rules import Decision, Rules


async def handle(rules: Rules, ctx: FactorContext, event: JsonObject, prepared: dict[str, Any]) -> Decision:
    factor = rules.registry.of_state(ctx.flow.state)
    if factor is None or event["type"] not in factor.states.events:
        raise Conflict(f"{event['type']} is not an event of state {ctx.flow.state}", kind="event-not-allowed",
                       state=ctx.flow.state)
    return Decision([await factor.handle_event(ctx, event)])
