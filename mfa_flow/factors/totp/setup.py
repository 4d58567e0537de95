"""Setting an authenticator app up: a new secret shown (QR code) until a code proves it."""

from __future__ import annotations

from ...domain.errors import Conflict
from ..base import FactorContext, FlowView, JsonObject, Proof
from .codes import matching_step, new_secret, otpauth_uri, qr_svg

WRONG_CODE = "the code does not match; use the current code from the authenticator app"
_STATE = "totp_setup"


def enter(ctx: FactorContext) -> None:
    ctx.flow.stage["pending_secret"] = ctx.box.seal(new_secret())


async def finish(ctx: FactorContext, code: str) -> Proof:
    user = ctx.the_user
    secret = ctx.box.open(ctx.flow.stage["pending_secret"])
    step = matching_step(secret, code, ctx.now)
    if step is None:
        return Proof(False, WRONG_CODE)
    if await ctx.uow.user_factors.of_type(user.id, "totp") is not None:
        # Set up meanwhile in another sign-in (or by the admin); the user's row lock makes
        # this check and the insert below one step.
        raise Conflict(
            "an authenticator app was set up for this user meanwhile; start a new sign-in to use it",
            kind="factor-exists",
        )
    user_factor = await ctx.uow.user_factors.add(user.id, "totp", secret_sealed=ctx.box.seal(secret))
    await ctx.uow.user_factors.advance_totp_step(user.id, user_factor.id, step, ctx.now)
    return Proof(True, facts={"verification_id": user_factor.id})


def challenge(view: FlowView) -> JsonObject | None:
    if view.flow.state != _STATE or not view.owner:
        return None
    secret = view.box.open(view.flow.stage["pending_secret"])
    uri = otpauth_uri(secret, view.flow.context.username or view.flow.user_id or "", view.settings.issuer)
    return {"secret": secret, "otpauth_uri": uri, "qr_svg": qr_svg(uri)}
