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

from dataclasses import dataclass
from typing import Any

from ...domain import policy
from ...domain.errors import Forbidden, RuleBroken
from ...domain.machine import MANAGE, FlowMachine, Step
from ...factors.base import FactorContext
from ..commands import ClientEvent, Decision
from ..outcomes import mfa_config, user_factors


@dataclass(frozen=True)
class SetMfaEnabled:
    machine: FlowMachine

    async def __call__(self, cmd: ClientEvent, ctx: FactorContext) -> Decision:
        enabled: bool = cmd.payload["enabled"]
        data: dict[str, Any] = {"enabled": enabled}
        without_factor = False
        if not enabled:
            config = await mfa_config(ctx, self.machine)
            user = await user_factors(ctx, self.machine)
            if policy.mandatory_for(config, user):
                raise RuleBroken(f"MFA cannot be turned off: {_why_mandatory(config, user)}",
                                 kind="mfa-required", field="enabled")
            has_factor = bool(user.enrolled)  # primary factors only
            if has_factor and not ctx.flow.context.factor_proven:
                raise Forbidden("MFA cannot be turned off without a factor proven in this account flow: the user"
                                " has enrolled one since it began; start a new account flow, which verifies it"
                                " first", kind="step-up-required")
            without_factor = not has_factor
            if without_factor:
                data["without_factor"] = True  # the log says the opt-out binds no factor
        await ctx.uow.users.set_mfa_settings(ctx.user.id, None, not enabled, without_factor=without_factor)
        # The challenge shows the setting as it is now.
        ctx.user.mfa_skip_on_sign_in, ctx.user.mfa_skip_without_factor = not enabled, without_factor
        return Decision([Step("set_mfa_enabled", "policy_allows", MANAGE, data)])


def _why_mandatory(config: policy.MfaConfig, user: policy.UserFactors) -> str:
    if config.policy == policy.MANDATORY:
        return "the MFA policy is mandatory, so every sign-in verifies a factor"
    if config.policy in policy.NO_SKIP_POLICIES and not policy.required_for(user):
        return f"under the policy {config.policy}, adaptive MFA decides when a sign-in verifies a factor"
    if user.organization is not None:
        return "an organisation of this user requires MFA, so every sign-in verifies a factor"
    return "MFA is required for this user (mfa.required), so every sign-in verifies a factor"
