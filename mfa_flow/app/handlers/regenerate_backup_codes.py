"""``regenerate_backup_codes``: in an account flow, replace the user's backup codes with a new
set, shown once in ``backup_codes`` (rule 5: only beside a primary factor)."""

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
class RegenerateBackupCodes:
    registry: Registry

    async def __call__(self, cmd: ClientEvent, ctx: FactorContext) -> Decision:
        config = await mfa_config(ctx, self.registry.machine)
        if not config.backup_codes_enabled:
            raise RuleBroken("backup codes are not enabled in the MFA configuration")
        existing = await ctx.uow.user_factors.for_user(ctx.user.id)
        factor = self.registry[policy.BACKUP_CODE]
        factor.check_addable(existing, self.registry.machine.primary_factors)
        follow_up = factor.states.follow_up_state
        assert follow_up is not None, "backup codes are shown in their own state"
        return Decision([Step("regenerate_backup_codes", "primary_factor_enrolled", follow_up,
                              {"factor": factor.name})])
