"""``add_factor``: in an account flow, set up one more primary factor (back to ``manage`` after
it, with new backup codes first when rule 2 asks for them)."""

from __future__ import annotations

from dataclasses import dataclass

from ...domain import policy
from ...domain.errors import RuleBroken
from ...domain.machine import Step
from ...factors.base import FactorContext
from ...factors.registry import Registry
from ..commands import ClientEvent, Decision
from ..outcomes import mfa_config


@dataclass(frozen=True)
class AddFactor:
    registry: Registry

    async def __call__(self, cmd: ClientEvent, ctx: FactorContext) -> Decision:
        name = cmd.payload["factor"]
        if name == policy.BACKUP_CODE:
            raise RuleBroken("backup codes are not added with add_factor; send regenerate_backup_codes",
                             field="factor")
        machine = self.registry.machine
        config = await mfa_config(ctx, machine)
        addable = [f for f in config.primary if f in machine.setup_state]
        if name not in addable:
            raise RuleBroken(f"{name} is not enabled in the MFA configuration; factors that can be added:"
                             f" {', '.join(addable) or 'none'}", field="factor")
        existing = await ctx.uow.user_factors.for_user(ctx.user.id)
        self.registry[name].check_addable(existing, machine.primary_factors)
        return Decision([Step("add_factor", "factor_enabled", machine.setup_state[name], {"factor": name})])
