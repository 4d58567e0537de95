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
        who = await rules.user_factors(ctx)
        if policy.mandatory_for(config, who):
            if config.policy == policy.MANDATORY:
                why = "the MFA policy is mandatory, so every sign-in verifies a factor"
            elif config.policy in policy.NO_SKIP_POLICIES and not policy.required_for(who):
                why = f"under the policy {config.policy}, adaptive MFA decides when a sign-in verifies a factor"
            elif who.organization is not None:
                why = "an organisation of this user requires MFA, so every sign-in verifies a factor"
            else:
                why = "MFA is required for this user (mfa.required), so every sign-in verifies a factor"
            raise RuleBroken(f"MFA cannot be turned off: {why}",
                             kind="mfa-required", field="enabled")
    await ctx.uow.users.set_mfa_settings(ctx.the_user.id, None, not enabled)
    ctx.the_user.mfa_skip_on_sign_in = not enabled  # the challenge shows the setting as it is now
    return Decision([Step("set_mfa_enabled", "policy_allows", MANAGE, {"enabled": enabled})])
