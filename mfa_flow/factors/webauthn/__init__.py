"""Passkeys and security keys (WebAuthn, with py_webauthn doing the ceremony checks)."""

from __future__ import annotations

from ...domain.machine import FactorStates
from ...domain.passkey_sign_in import PasskeySignIn
from ...domain.users import UserFactor
from ..base import Factor, FactorContext, FlowView, JsonObject, LockedFlow, Proof, SignIn, event_schema
from . import manage, setup, sign_in, verify


class Webauthn(Factor):
    name = "webauthn"
    amr = "hwk"
    states = FactorStates(name="webauthn", primary=True, proof_event="submit_webauthn",
                          setup_state="webauthn_setup", verify_state="webauthn_verify",
                          sign_in_event="submit_passkey")
    schemas = {
        "SubmitWebauthnEvent": event_schema(
            "submit_webauthn",
            {"credential": {"type": "object", "description": "The browser's PublicKeyCredential.toJSON()"}},
            ("credential",),
        ),
        "SubmitPasskeyEvent": event_schema(
            "submit_passkey",
            {"credential": {"type": "object",
                            "description": "The browser's PublicKeyCredential.toJSON() answering"
                                           " challenge.passkey.publicKey (a discoverable passkey: its userHandle"
                                           " names the user)"},
             "device_token": {"$ref": "#/components/schemas/DeviceToken"}},
            ("credential",),
        ),
    }

    async def enter_setup(self, ctx: FactorContext) -> None:
        await setup.enter(ctx)

    async def finish_setup(self, ctx: FactorContext, event: JsonObject) -> Proof:
        return await setup.finish(ctx, event["credential"])

    async def enter_verify(self, ctx: FactorContext) -> None:
        await verify.enter(ctx)

    async def finish_verify(self, ctx: FactorContext, event: JsonObject) -> Proof:
        return await verify.finish(ctx, event["credential"])

    def offer_sign_in(self, ctx: LockedFlow, setting: PasskeySignIn) -> None:
        sign_in.offer(ctx, setting)

    async def finish_sign_in(self, ctx: LockedFlow, event: JsonObject, setting: PasskeySignIn) -> SignIn:
        return await sign_in.finish(ctx, event["credential"], setting)

    def sign_in_challenge(self, view: FlowView) -> JsonObject | None:
        options = sign_in.offered(view.flow.stage)
        return {"passkey": {"publicKey": options}} if options else None

    def challenge(self, view: FlowView) -> JsonObject | None:
        public_key = view.flow.stage.get("publicKey")
        return {"publicKey": public_key} if public_key else None

    def describe(self, user_factor: UserFactor) -> JsonObject:
        return manage.describe(user_factor)

    def renamable(self) -> bool:
        return True


FACTOR = Webauthn()
