"""``set_mfa_enabled``: in an account flow, the user opts out of verification at sign-in
(``enabled: false``, the per-user ``skip_on_sign_in``) or back in. Opting out is refused
where MFA is mandatory for the user: under the ``mandatory`` policy, or with ``required``."""

from __future__ import annotations

from typing import Any

from ...domain import policy
from ...domain.errors import RuleBroken
from ...domain.machine import MANAGE, Step
from ...factors.base import FactorContext, JsonObject
from ..rules import Decision, Rules


async def handle(rules: Rules, ctx: FactorContext, event: JsonObject, prepared: dict[str, Any]) -> Decision:
    enabled: bool = event["enabled"]
    if not enabled:
        config = await rules.config(ctx)
        if policy.mandatory_for(config, await rules.user_factors(ctx)):
            why = ("the MFA policy is mandatory" if config.policy == policy.MANDATORY
                   else "MFA is required for this user (mfa.required)")
            raise RuleBroken(f"MFA cannot be turned off: {why}, so every sign-in verifies a factor",
                             kind="mfa-required", field="enabled")
    await ctx.uow.users.set_mfa_settings(ctx.the_user.id, None, not enabled)
    ctx.the_user.mfa_skip_on_sign_in = not enabled  # the challenge shows the setting as it is now
    return Decision([Step("set_mfa_enabled", "policy_allows", MANAGE, {"enabled": enabled})])
