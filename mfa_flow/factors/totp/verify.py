"""Verifying an authenticator app: a code of the current time-step (one step of drift), each
time-step spent once by a compare-and-set on the user's factor."""

from __future__ import annotations

from ..base import FactorContext, Proof
from .codes import matching_step
from .setup import WRONG_CODE


async def finish(ctx: FactorContext, code: str) -> Proof:
    user = ctx.the_user
    user_factor = await ctx.uow.user_factors.of_type(user.id, "totp")
    if user_factor is None or user_factor.secret_sealed is None:
        return Proof(False, "the user has no authenticator app any more")
    step = matching_step(ctx.box.open(user_factor.secret_sealed), code, ctx.now)
    if step is None:
        return Proof(False, WRONG_CODE)
    if not await ctx.uow.user_factors.advance_totp_step(user.id, user_factor.id, step, ctx.now):
        return Proof(False, "this code was already used; wait for the next one", {"replay": True})
    return Proof(True, facts={"verification_id": user_factor.id})
