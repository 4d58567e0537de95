"""The Management API's view of authenticator apps: an admin may add one (secret shown once)."""

from __future__ import annotations

from ...domain.errors import Conflict
from ...domain.events import FactorEnrolled
from ..base import JsonObject, ManageContext
from .codes import new_secret, otpauth_uri


async def add(ctx: ManageContext) -> JsonObject:
    if any(v.type == "totp" for v in ctx.existing):
        raise Conflict("the user already has an authenticator app; delete it first", kind="factor-exists")
    secret = new_secret()
    user_factor = await ctx.uow.user_factors.add(ctx.user.id, "totp", secret_sealed=ctx.box.seal(secret))
    ctx.uow.record(FactorEnrolled(ctx.user.id, "totp", user_factor.id, None, ctx.now))
    return {
        "user_factor": user_factor,
        "secret": secret,
        "otpauth_uri": otpauth_uri(secret, ctx.user.username, ctx.settings.issuer),
    }
