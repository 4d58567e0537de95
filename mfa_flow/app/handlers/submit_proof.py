"""``submit_<factor>``: the proof of the factor the flow's state sets up or verifies."""

from __future__ import annotations

from dataclasses import dataclass

from ...domain import machine, policy
from ...domain.machine import Step
from ...factors.base import FactorContext, Proof
from ..commands import ClientEvent, Decision
from ..outcomes import Outcomes, mfa_config, user_factors


@dataclass(frozen=True)
class SubmitProof:
    """Every factor's proof event: the factor of the flow's state checks it."""

    outcomes: Outcomes

    async def __call__(self, cmd: ClientEvent, ctx: FactorContext) -> Decision:
        outcomes = self.outcomes
        factor_name = outcomes.machine.factor_of_state[ctx.flow.state]
        factor = outcomes.registry[factor_name]
        setting_up = outcomes.machine.setting_up(ctx.flow.state)
        finish = factor.finish_setup if setting_up else factor.finish_verify
        proof: Proof = await finish(ctx, cmd.payload)
        if not proof.ok:
            step = Step(cmd.type, "proof_wrong", ctx.flow.state, {"factor": factor_name, **proof.facts})
            return await outcomes.count_wrong_proof(ctx, ctx.user, step, proof.reason)
        account = ctx.flow.context.purpose == policy.MANAGE
        # An account flow signs nobody in: no device to remember.
        remember = bool(cmd.payload.get("remember_device"))
        if not setting_up:
            if account:  # the account flow's step-up held: on to managing the factors
                await outcomes.enter_manage(ctx, factor_name)
                rule = {"rule": "manage.verified", "factor": factor_name}
                return Decision([Step(cmd.type, "proof_ok", machine.MANAGE, {**rule, **proof.facts})])
            await outcomes.complete(ctx, factor_name, remember_device=remember)
            rule = {"rule": "done.verified", "factor": factor_name}
            return Decision([Step(cmd.type, "proof_ok", machine.DONE, {**rule, **proof.facts})])
        # A primary factor was set up: the set-up prompt has happened, the factor is the
        # user's last-used, and backup codes may follow (rule 2). Rule 3 speaks of sign-ins: a
        # factor added in an account flow signed nobody in, so a user who already has a last-used
        # factor keeps it (a passkey added a minute ago is not the one "last used").
        user = ctx.user
        becomes_last_used = not (account and user.last_used_factor is not None)
        await ctx.uow.users.mark_prompted(user.id)
        config = await mfa_config(ctx, outcomes.machine)
        has_codes = await user_factors(ctx, outcomes.machine)
        route = policy.after_setup(outcomes.machine, config, has_codes.has_unused_backup_codes,
                                   ctx.flow.context.purpose)
        if factor.amr not in ctx.flow.context.amr:
            ctx.flow.context.amr.append(factor.amr)
        if route.to_state == machine.DONE:
            await outcomes.complete(ctx, factor_name, remember_device=remember)
        elif route.to_state == machine.MANAGE:
            await outcomes.enter_manage(ctx, factor_name, last_used=becomes_last_used)
        elif becomes_last_used:
            await ctx.uow.users.set_last_used(user.id, factor_name)
        data = {"rule": route.rule, "factor": factor_name, "enrolled": True, **proof.facts}
        return Decision([Step(cmd.type, "proof_ok", route.to_state, data)])
