"""Authenticator-app codes: RFC 6238, SHA-1, 6 digits, 30 s steps, one step of drift either way."""

from __future__ import annotations

import hashlib
import hmac
import re
from datetime import datetime

import pyotp
import segno

from ..problems import conflict
from . import FactorContext, FlowView, Proof

STEP_SECONDS = 30
DIGITS = 6
DRIFT_STEPS = 1
_CODE = re.compile(f"[0-9]{{{DIGITS}}}")  # ASCII digits: str.isdigit() would take "١٢٣٤٥٦" too
WRONG_CODE = "the code does not match; use the current code from the authenticator app"


def new_secret() -> str:
    """160 random bits, base32 (32 characters), as authenticator apps expect."""
    return pyotp.random_base32(32)


def code_at(secret: str, step: int, digits: int = DIGITS, digest=hashlib.sha1) -> str:
    return pyotp.TOTP(secret, digits=digits, digest=digest, interval=STEP_SECONDS).generate_otp(step)


def matching_step(secret: str, code: str, now: datetime, last_step: int | None = None) -> int | None:
    """The time-step ``code`` belongs to, within the drift window and newer than ``last_step``."""
    code = "".join(code.split())
    if not _CODE.fullmatch(code):
        return None
    current = int(now.timestamp()) // STEP_SECONDS
    for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1):
        if hmac.compare_digest(code_at(secret, step), code) and (last_step is None or step > last_step):
            return step
    return None


def otpauth_uri(secret: str, account: str, issuer: str) -> str:
    return pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS).provisioning_uri(name=account, issuer_name=issuer)


def qr_svg(uri: str) -> str:
    return segno.make(uri, error="m").svg_inline(scale=4)


class Totp:
    name = "totp"
    amr = "otp"

    async def enter_setup(self, ctx: FactorContext) -> None:
        ctx.flow.stage["pending_secret"] = ctx.box.seal(new_secret())

    async def finish_setup(self, ctx: FactorContext, event: dict) -> Proof:
        secret = ctx.box.open(ctx.flow.stage["pending_secret"])
        step = matching_step(secret, event["code"], ctx.now)
        if step is None:
            return Proof(False, WRONG_CODE)
        if await ctx.uow.verifications.of_type(ctx.user.id, "totp") is not None:
            # Set up meanwhile in another sign-in (or by the admin); the user's row lock makes
            # this check and the insert below one step.
            raise conflict(
                "an authenticator app was set up for this user meanwhile; start a new sign-in to use it",
                slug="factor-exists",
            )
        verification = await ctx.uow.verifications.add(ctx.user.id, "totp", secret_sealed=ctx.box.seal(secret))
        await ctx.uow.verifications.advance_totp_step(ctx.user.id, verification.id, step, ctx.now)
        return Proof(True, facts={"verification_id": verification.id})

    async def enter_verify(self, ctx: FactorContext) -> None:
        return None

    async def finish_verify(self, ctx: FactorContext, event: dict) -> Proof:
        verification = await ctx.uow.verifications.of_type(ctx.user.id, "totp")
        if verification is None:
            return Proof(False, "the user has no authenticator app any more")
        step = matching_step(ctx.box.open(verification.secret_sealed), event["code"], ctx.now)
        if step is None:
            return Proof(False, WRONG_CODE)
        if not await ctx.uow.verifications.advance_totp_step(ctx.user.id, verification.id, step, ctx.now):
            return Proof(False, "this code was already used; wait for the next one", {"replay": True})
        return Proof(True, facts={"verification_id": verification.id})

    def challenge(self, view: FlowView) -> dict | None:
        if view.flow.state != "totp_setup" or not view.owner:
            return None
        secret = view.box.open(view.flow.stage["pending_secret"])
        uri = otpauth_uri(secret, view.flow.context.get("username") or view.flow.user_id, view.settings.issuer)
        return {"secret": secret, "otpauth_uri": uri, "qr_svg": qr_svg(uri)}


FACTOR = Totp()
