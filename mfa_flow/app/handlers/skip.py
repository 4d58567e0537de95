"""``skip``: a user-controlled set-up declined; the user is marked as prompted.

The flow offered the skip when its first factor passed; whether it still may is decided again
here, in the event's transaction (the user's row is locked), from the configuration and the
user as they are now (``policy.skip_refusal``): 422 ``mfa-required`` when set-up has become
mandatory or the user has enrolled a factor since."""

from __future__ import annotations

from dataclasses import dataclass

from ...domain import machine, policy
from ...domain.errors import RuleBroken
from ...domain.machine import Step
from ...factors.base import FactorContext
from ..commands import ClientEvent, Decision
from ..outcomes import Outcomes, mfa_config, user_factors


@dataclass(frozen=True)
class Skip:
    outcomes: Outcomes

    async def __call__(self, cmd: ClientEvent, ctx: FactorContext) -> Decision:
        table = self.outcomes.machine
        refusal = policy.skip_refusal(await mfa_config(ctx, table), await user_factors(ctx, table))
        if refusal is not None:
            raise RuleBroken(f"this set-up can no longer be skipped: {refusal}; set a factor up, or start a new"
                             " sign-in", kind="mfa-required")
        await ctx.uow.users.mark_prompted(ctx.user.id)
        await self.outcomes.complete(ctx, None)
        return Decision([Step("skip", "setup_skippable", machine.DONE, {"rule": "done.setup_skipped"})])
