"""``acknowledge_backup_codes``: the new set was saved; the flow is done."""

from __future__ import annotations

from typing import Any

from ...domain import machine
from ...domain.machine import Step
from ...factors.base import FactorContext, JsonObject
from ..rules import Decision, Rules


async def handle(rules: Rules, ctx: FactorContext, event: JsonObject, prepared: dict[str, Any]) -> Decision:
    factor = rules.registry.of_state(ctx.flow.state)
    assert factor is not None
    proof = await factor.finish_setup(ctx, event)
    # The set-up ends here (rule 2), so this is the event that may remember the device.
    await rules.complete(ctx, None, remember_device=bool(event.get("remember_device")))
    data = {"rule": "done.backup_codes_saved", **proof.facts}
    return Decision([Step("acknowledge_backup_codes", "always", machine.DONE, data)])
