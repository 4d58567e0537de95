"""``submit_passkey``: a discoverable passkey as the first factor (passkey sign-in).

The passkey names its user (user handle). With ``counts_as_mfa`` and user verification it is
both factors: the flow is done, ``amr`` ``hwk`` and ``user``, acr mfa. Otherwise it is the
first factor, and rule 1 runs without the passkey's factor: the second step is of another kind.
"""

from __future__ import annotations

from typing import Any

from ...domain import machine
from ...domain import passkey_sign_in as passkeys
from ...domain.errors import Conflict
from ...domain.machine import Step
from ...factors.base import FactorContext, JsonObject
from ..rules import Decision, Rules, config_digest


async def handle(rules: Rules, ctx: FactorContext, event: JsonObject, prepared: dict[str, Any]) -> Decision:
    name = rules.machine.sign_in_events[event["type"]]
    factor = rules.registry[name]
    setting = await ctx.uow.passkey_sign_in.get()
    config = await rules.config(ctx)
    if setting.problem(config.primary) is not None or not setting.enabled:
        raise Conflict("passkey sign-in is turned off (passkey_sign_in.enabled in PUT /api/config/mfa);"
                       " sign in with a username and password", kind="event-not-allowed", state=ctx.flow.state)
    outcome = await factor.finish_sign_in(ctx, event, setting)
    if not outcome.ok or outcome.user is None:
        ctx.user = outcome.user  # a known passkey's failure counts against its user, as a wrong password does
        step = Step(event["type"], "credentials_wrong", machine.FIRST_FACTOR, {"factor": name, **outcome.facts})
        return await rules.wrong(ctx, step, outcome.reason)
    facts = {"factor": name, **outcome.facts}
    if setting.counts_as_mfa and outcome.user_verified:
        rules.signed_in(ctx, outcome.user, list(passkeys.AMR), signed_in_with=name)
        rules.sign_in_signals(ctx)  # kept on the flow: this sign-in's place joins the user's history
        await rules.complete(ctx, name)
        data = {"rule": passkeys.MFA_RULE, "policy": config.policy, "config": config_digest(config), **facts}
        return Decision([Step(event["type"], "credentials_ok", machine.DONE, data)])
    return await rules.first_factor_passed(ctx, outcome.user, event["type"], "credentials_ok", [factor.amr],
                                           event.get("device_token"), signed_in_with=name, facts=facts)
