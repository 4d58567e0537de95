"""The Management API's view of authenticator apps: an admin may add one (secret shown once)."""

from __future__ import annotations

from ...domain.errors import Conflict
from ...domain.events import FactorEnrolled
from ...domain.users import UserFactor
from ..base import JsonObject, ManageContext
from .codes import new_secret, otpauth_uri


def check_addable(existing: list[UserFactor]) -> None:
    """One authenticator app per user."""
    if any(v.type == "totp" for v in existing):
        raise Conflict("the user already has an authenticator app; remove it first", kind="factor-exists")


async def add(ctx: ManageContext) -> JsonObject:
    check_addable(ctx.existing)
    secret = new_secret()
    user_factor = await ctx.uow.user_factors.add(ctx.user.id, "totp", secret_sealed=ctx.box.seal(secret))
    ctx.uow.record(FactorEnrolled(ctx.user.id, "totp", user_factor.id, None, ctx.now))
    return {
        "user_factor": user_factor,
        "secret": secret,
        "otpauth_uri": otpauth_uri(secret, ctx.user.username, ctx.settings.issuer),
    }
