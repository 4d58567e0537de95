"""``submit_<factor>``: the proof of the factor the flow's state sets up or verifies."""

from __future__ import annotations

from typing import Any

from ...domain import machine, policy
from ...domain.machine import Step
from ...factors.base import FactorContext, JsonObject, Proof
from ..rules import Decision, Rules


async def handle(rules: Rules, ctx: FactorContext, event: JsonObject, prepared: dict[str, Any]) -> Decision:
    factor_name = rules.machine.factor_of_state[ctx.flow.state]
    factor = rules.registry[factor_name]
    setting_up = rules.machine.setting_up(ctx.flow.state)
    proof: Proof = await (factor.finish_setup(ctx, event) if setting_up else factor.finish_verify(ctx, event))
    if not proof.ok:
        step = Step(event["type"], "proof_wrong", ctx.flow.state, {"factor": factor_name, **proof.facts})
        return await rules.wrong(ctx, step, proof.reason)
    account = ctx.flow.context.purpose == policy.MANAGE
    remember = bool(event.get("remember_device"))  # an account flow signs nobody in: no device to remember
    if not setting_up:
        if account:  # the account flow's step-up held: on to managing the factors
            await rules.enter_manage(ctx, factor_name)
            rule = {"rule": "manage.verified", "factor": factor_name}
            return Decision([Step(event["type"], "proof_ok", machine.MANAGE, {**rule, **proof.facts})])
        await rules.complete(ctx, factor_name, remember_device=remember)
        rule = {"rule": "done.verified", "factor": factor_name}
        return Decision([Step(event["type"], "proof_ok", machine.DONE, {**rule, **proof.facts})])
    # A primary factor was set up: the set-up prompt has happened, the factor is the
    # user's last-used, and backup codes may follow (rule 2). Rule 3 speaks of sign-ins: a
    # factor added in an account flow signed nobody in, so a user who already has a last-used
    # factor keeps it (a passkey added a minute ago is not the one "last used").
    user = ctx.the_user
    becomes_last_used = not (account and user.last_used_factor is not None)
    await ctx.uow.users.mark_prompted(user.id)
    config = await rules.config(ctx)
    has_codes = await rules.user_factors(ctx)
    route = policy.after_setup(rules.machine, config, has_codes.has_unused_backup_codes, ctx.flow.context.purpose)
    if factor.amr not in ctx.flow.context.amr:
        ctx.flow.context.amr.append(factor.amr)
    if route.to_state == machine.DONE:
        await rules.complete(ctx, factor_name, remember_device=remember)
    elif route.to_state == machine.MANAGE:
        await rules.enter_manage(ctx, factor_name, last_used=becomes_last_used)
    elif becomes_last_used:
        await ctx.uow.users.set_last_used(user.id, factor_name)
    data = {"rule": route.rule, "factor": factor_name, "enrolled": True, **proof.facts}
    return Decision([Step(event["type"], "proof_ok", route.to_state, data)])
