"""``skip``: a user-controlled set-up declined; the user is marked as prompted.

The flow offered the skip when its first factor passed; whether it still may is decided again
here, in the event's transaction (the user's row is locked), from the configuration and the
user as they are now (``policy.skip_refusal``): 422 ``mfa-required`` when set-up has become
mandatory or the user has enrolled a factor since."""

from __future__ import annotations

from typing import Any

from ...domain import machine, policy
from ...domain.errors import RuleBroken
from ...domain.machine import Step
from ...factors.base import FactorContext, JsonObject
from ..rules import Decision, Rules


async def handle(rules: Rules, ctx: FactorContext, event: JsonObject, prepared: dict[str, Any]) -> Decision:
    refusal = policy.skip_refusal(await rules.config(ctx), await rules.user_factors(ctx))
    if refusal is not None:
        raise RuleBroken(f"this set-up can no longer be skipped: {refusal}; set a factor up, or start a new sign-in",
                         kind="mfa-required")
    await ctx.uow.users.mark_prompted(ctx.the_user.id)
    await rules.complete(ctx, None)
    return Decision([Step("skip", "setup_skippable", machine.DONE, {"rule": "done.setup_skipped"})])
