"""``add_factor``: in an account flow, set up one more primary factor (back to ``manage`` after
it, with new backup codes first when rule 2 asks for them)."""

from __future__ import annotations

from typing import Any

from ...domain import policy
from ...domain.errors import RuleBroken
from ...domain.machine import Step
from ...factors.base import FactorContext, JsonObject
from ..rules import Decision, Rules


async def handle(rules: Rules, ctx: FactorContext, event: JsonObject, prepared: dict[str, Any]) -> Decision:
    name = event["factor"]
    if name == policy.BACKUP_CODE:
        raise RuleBroken("backup codes are not added with add_factor; send regenerate_backup_codes", field="factor")
    config = await rules.config(ctx)
    addable = [f for f in config.primary if f in rules.machine.setup_state]
    if name not in addable:
        raise RuleBroken(
            f"{name} is not enabled in the MFA configuration; factors that can be added: {', '.join(addable) or 'none'}",
            field="factor",
        )
    existing = await ctx.uow.user_factors.for_user(ctx.the_user.id)
    rules.registry[name].check_addable(existing, rules.machine.primary_factors)
    return Decision([Step("add_factor", "factor_enabled", rules.machine.setup_state[name], {"factor": name})])
