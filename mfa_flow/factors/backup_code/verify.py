"""Spending a backup code: a conditional UPDATE on its digest, so each code works once."""

from __future__ import annotations

from ...crypto import keyed_digest
from ..base import FactorContext, Proof
from .codes import normalise


async def finish(ctx: FactorContext, code: str) -> Proof:
    user = ctx.the_user
    user_factor = await ctx.uow.user_factors.of_type(user.id, "backup_code")
    if user_factor is None or user_factor.salt is None:
        return Proof(False, "the user has no backup codes")
    digest = keyed_digest(ctx.box.pepper, user_factor.salt, normalise(code))
    if not await ctx.uow.user_factors.spend_backup_code(user_factor.id, digest, ctx.now):
        return Proof(False, "the backup code is wrong or was already used")
    return Proof(True, facts={"verification_id": user_factor.id})
