"""``submit_passkey``: a discoverable passkey as the first factor (passkey sign-in).

The passkey names its user (user handle). With ``counts_as_mfa`` and user verification it is
both factors: the flow is done, ``amr`` ``hwk`` and ``user``, acr mfa. Otherwise it is the
first factor, and rule 1 runs without the passkey's factor: the second step is of another kind.
"""

from __future__ import annotations

from dataclasses import dataclass

from ...domain import machine
from ...domain import passkey_sign_in as passkeys
from ...domain.errors import Conflict
from ...domain.machine import Step
from ...factors.base import LockedFlow
from ..commands import ClientEvent, Decision
from ..outcomes import Outcomes, config_digest, mfa_config


@dataclass(frozen=True)
class SubmitPasskey:
    """A first-factor handler: the flow has no user until the passkey names one."""

    outcomes: Outcomes

    async def __call__(self, cmd: ClientEvent, locked: LockedFlow) -> Decision:
        outcomes = self.outcomes
        name = outcomes.machine.sign_in_events[cmd.type]
        factor = outcomes.registry[name]
        setting = await locked.uow.passkey_sign_in.get()
        config = await mfa_config(locked, outcomes.machine)
        if setting.problem(config.primary) is not None or not setting.enabled:
            raise Conflict("passkey sign-in is turned off (passkey_sign_in.enabled in PUT /api/config/mfa);"
                           " sign in with a username and password", kind="event-not-allowed",
                           state=locked.flow.state)
        outcome = await factor.finish_sign_in(locked, cmd.payload, setting)
        if not outcome.ok or outcome.user is None:
            # A known passkey's failure counts against its user, as a wrong password does.
            step = Step(cmd.type, "credentials_wrong", machine.FIRST_FACTOR, {"factor": name, **outcome.facts})
            return await outcomes.count_wrong_proof(locked, outcome.user, step, outcome.reason)
        facts = {"factor": name, **outcome.facts}
        if setting.counts_as_mfa and outcome.user_verified:
            ctx = outcomes.signed_in(locked, outcome.user, list(passkeys.AMR), signed_in_with=name)
            outcomes.sign_in_signals(ctx)  # kept on the flow: this sign-in's place joins the user's history
            await outcomes.complete(ctx, name)
            data = {"rule": passkeys.MFA_RULE, "policy": config.policy, "config": config_digest(config), **facts}
            return Decision([Step(cmd.type, "credentials_ok", machine.DONE, data)], user=outcome.user)
        return await outcomes.first_factor_passed(locked, outcome.user, cmd.type, "credentials_ok", [factor.amr],
                                                  cmd.payload.get("device_token"), signed_in_with=name, facts=facts)
