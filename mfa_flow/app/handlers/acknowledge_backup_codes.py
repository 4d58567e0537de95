"""``acknowledge_backup_codes``: the new set was saved; a sign-in is done, an account flow is
back in ``manage``."""

from __future__ import annotations

from dataclasses import dataclass

from ...domain import machine, policy
from ...domain.machine import Step
from ...factors.base import FactorContext
from ...factors.registry import Registry
from ..commands import ClientEvent, Decision
from ..outcomes import Outcomes


@dataclass(frozen=True)
class AcknowledgeBackupCodes:
    registry: Registry
    outcomes: Outcomes

    async def __call__(self, cmd: ClientEvent, ctx: FactorContext) -> Decision:
        factor = self.registry.of_state(ctx.flow.state)
        assert factor is not None
        proof = await factor.finish_setup(ctx, cmd.payload)
        if ctx.flow.context.purpose == policy.MANAGE:
            await self.outcomes.enter_manage(ctx, None)
            data = {"rule": "manage.backup_codes_saved", **proof.facts}
            return Decision([Step("acknowledge_backup_codes", "always", machine.MANAGE, data)])
        # The set-up ends here (rule 2), so this is the event that may remember the device.
        await self.outcomes.complete(ctx, None, remember_device=bool(cmd.payload.get("remember_device")))
        data = {"rule": "done.backup_codes_saved", **proof.facts}
        return Decision([Step("acknowledge_backup_codes", "always", machine.DONE, data)])
