"""``regenerate_backup_codes``: in an account flow, replace the user's backup codes with a new
set, shown once in ``backup_codes`` (rule 5: only beside a primary factor)."""

from __future__ import annotations

from typing import Any

from ...domain import policy
from ...domain.errors import RuleBroken
from ...domain.machine import Step
from ...factors.base import FactorContext, JsonObject
from ..rules import Decision, Rules


async def handle(rules: Rules, ctx: FactorContext, event: JsonObject, prepared: dict[str, Any]) -> Decision:
    config = await rules.config(ctx)
    if not config.backup_codes_enabled:
        raise RuleBroken("backup codes are not enabled in the MFA configuration")
    existing = await ctx.uow.user_factors.for_user(ctx.the_user.id)
    factor = rules.registry[policy.BACKUP_CODE]
    factor.check_addable(existing, rules.machine.primary_factors)
    follow_up = factor.states.follow_up_state
    assert follow_up is not None, "backup codes are shown in their own state"
    return Decision([Step("regenerate_backup_codes", "primary_factor_enrolled", follow_up, {"factor": factor.name})])
