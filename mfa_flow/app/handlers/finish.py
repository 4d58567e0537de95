"""``finish``: the account flow is over. It signed nobody in, so its result carries no token
(a token from it could start the next account flow, and chain account sessions for ever)."""

from __future__ import annotations

from ...domain import machine
from ...domain.machine import Step
from ...factors.base import FactorContext
from ..commands import ClientEvent, Decision


async def handle(cmd: ClientEvent, ctx: FactorContext) -> Decision:
    ctx.flow.result = {"amr": list(ctx.flow.context.amr)}
    return Decision([Step("finish", "always", machine.DONE, {"rule": "done.account_flow_finished"})])
