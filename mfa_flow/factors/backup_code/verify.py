"""Spending a backup code: a conditional UPDATE on its digest, so each code works once."""

from __future__ import annotations

from ...crypto import keyed_digest
from ..base import FactorContext, Proof
from .codes import normalise


async def finish(ctx: FactorContext, code: str) -> Proof:
    user = ctx.the_user
    verification = await ctx.uow.verifications.of_type(user.id, "backup_code")
    if verification is None or verification.salt is None:
        return Proof(False, "the user has no backup codes")
    digest = keyed_digest(ctx.box.pepper, verification.salt, normalise(code))
    if not await ctx.uow.verifications.spend_backup_code(verification.id, digest, ctx.now):
        return Proof(False, "the backup code is wrong or was already used")
    return Proof(True, facts={"verification_id": verification.id})
