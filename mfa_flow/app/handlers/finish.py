"""``finish``: the account flow is over. It signed nobody in, so its result carries no token
(a token from it could start the next account flow, and chain account sessions for ever)."""

from __future__ import annotations

from typing import Any

from ...domain import machine
from ...domain.machine import Step
from ...factors.base import FactorContext, JsonObject
from ..rules import Decision, Rules


async def handle(rules: Rules, ctx: FactorContext, event: JsonObject, prepared: dict[str, Any]) -> Decision:
    ctx.flow.result = {"amr": list(ctx.flow.context.amr)}
    return Decision([Step("finish", "always", machine.DONE, {"rule": "done.account_flow_finished"})])
