"""``set_mfa_enabled``: in an account flow, the user opts out of verification at sign-in
(``enabled: false``, the per-user ``skip_on_sign_in``) or back in. Opting out is refused
where MFA is mandatory for the user: under the ``mandatory`` policy, or with ``required``.

Opting out is bound to a proven factor (issue 21): a user who has a primary factor opts out
only in a flow that proved one (its subject token's sign-in did, or the flow verified or set
one up), else 403 ``step-up-required`` (the user enrolled one after this flow began). A user
without one may still opt out, but nobody proved anything to make that choice, so it is
stored as made ``without_factor``: it never holds once they have a factor, and enrolling one
clears it. Opting back in is always allowed."""

from __future__ import annotations

from typing import Any

from ...domain import policy
from ...domain.errors import Forbidden, RuleBroken
from ...domain.machine import MANAGE, Step
from ...factors.base import FactorContext, JsonObject
from ..rules import Decision, Rules


async def handle(rules: Rules, ctx: FactorContext, event: JsonObject, prepared: dict[str, Any]) -> Decision:
    enabled: bool = event["enabled"]
    data: dict[str, Any] = {"enabled": enabled}
    without_factor = False
    if not enabled:
        config = await rules.config(ctx)
        user = await rules.user_factors(ctx)
        if policy.mandatory_for(config, user):
            if config.policy == policy.MANDATORY:
                why = "the MFA policy is mandatory, so every sign-in verifies a factor"
            elif config.policy in policy.NO_SKIP_POLICIES and not policy.required_for(user):
                why = f"under the policy {config.policy}, adaptive MFA decides when a sign-in verifies a factor"
            elif user.organization is not None:
                why = "an organisation of this user requires MFA, so every sign-in verifies a factor"
            else:
                why = "MFA is required for this user (mfa.required), so every sign-in verifies a factor"
            raise RuleBroken(f"MFA cannot be turned off: {why}",
                             kind="mfa-required", field="enabled")
        has_factor = bool(user.enrolled)  # primary factors only
        if has_factor and not ctx.flow.context.factor_proven:
            raise Forbidden("MFA cannot be turned off without a factor proven in this account flow: the user has"
                            " enrolled one since it began; start a new account flow, which verifies it first",
                            kind="step-up-required")
        without_factor = not has_factor
        if without_factor:
            data["without_factor"] = True  # the log says the opt-out binds no factor
    await ctx.uow.users.set_mfa_settings(ctx.the_user.id, None, not enabled, without_factor=without_factor)
    # The challenge shows the setting as it is now.
    ctx.the_user.mfa_skip_on_sign_in, ctx.the_user.mfa_skip_without_factor = not enabled, without_factor
    return Decision([Step("set_mfa_enabled", "policy_allows", MANAGE, data)])
