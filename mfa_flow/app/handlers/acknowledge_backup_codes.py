"""``acknowledge_backup_codes``: the new set was saved; a sign-in is done, an account flow is
back in ``manage``."""

from __future__ import annotations

from typing import Any

from ...domain import machine, policy
from ...domain.machine import Step
from ...factors.base import FactorContext, JsonObject
from ..rules import Decision, Rules


async def handle(rules: Rules, ctx: FactorContext, event: JsonObject, prepared: dict[str, Any]) -> Decision:
    factor = rules.registry.of_state(ctx.flow.state)
    assert factor is not None
    proof = await factor.finish_setup(ctx, event)
    if ctx.flow.context.purpose == policy.MANAGE:
        await rules.enter_manage(ctx, None)
        data = {"rule": "manage.backup_codes_saved", **proof.facts}
        return Decision([Step("acknowledge_backup_codes", "always", machine.MANAGE, data)])
    # The set-up ends here (rule 2), so this is the event that may remember the device.
    await rules.complete(ctx, None, remember_device=bool(event.get("remember_device")))
    data = {"rule": "done.backup_codes_saved", **proof.facts}
    return Decision([Step("acknowledge_backup_codes", "always", machine.DONE, data)])
