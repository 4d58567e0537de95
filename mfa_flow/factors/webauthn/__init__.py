"""Passkeys and security keys (WebAuthn, with py_webauthn doing the ceremony checks)."""

from __future__ import annotations

from ...domain.machine import FactorStates
from ...domain.users import UserFactor
from ..base import Factor, FactorContext, FlowView, JsonObject, Proof, event_schema
from . import manage, setup, verify


class Webauthn(Factor):
    name = "webauthn"
    amr = "hwk"
    states = FactorStates(name="webauthn", primary=True, proof_event="submit_webauthn",
                          setup_state="webauthn_setup", verify_state="webauthn_verify")
    schemas = {
        "SubmitWebauthnEvent": event_schema(
            "submit_webauthn",
            {"credential": {"type": "object", "description": "The browser's PublicKeyCredential.toJSON()"}},
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

    def challenge(self, view: FlowView) -> JsonObject | None:
        public_key = view.flow.stage.get("publicKey")
        return {"publicKey": public_key} if public_key else None

    def describe(self, user_factor: UserFactor) -> JsonObject:
        return manage.describe(user_factor)

    def renamable(self) -> bool:
        return True


FACTOR = Webauthn()
