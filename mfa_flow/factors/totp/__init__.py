"""Authenticator apps (TOTP, RFC 6238): set up by scanning a QR code, verified by a code."""

from __future__ import annotations

from ...domain.machine import FactorStates
from ...domain.users import UserFactor
from ..base import Factor, FactorContext, FlowView, JsonObject, ManageContext, Proof, event_schema
from . import manage, setup, verify


class Totp(Factor):
    name = "totp"
    amr = "otp"
    states = FactorStates(name="totp", primary=True, proof_event="submit_totp",
                          setup_state="totp_setup", verify_state="totp_verify")
    schemas = {
        "SubmitTotpEvent": event_schema("submit_totp", {"code": {"type": "string", "minLength": 1, "maxLength": 32}},
                                        ("code",)),
    }

    async def enter_setup(self, ctx: FactorContext) -> None:
        setup.enter(ctx)

    async def finish_setup(self, ctx: FactorContext, event: JsonObject) -> Proof:
        return await setup.finish(ctx, event["code"])

    async def finish_verify(self, ctx: FactorContext, event: JsonObject) -> Proof:
        return await verify.finish(ctx, event["code"])

    def challenge(self, view: FlowView) -> JsonObject | None:
        return setup.challenge(view)

    def describe(self, user_factor: UserFactor) -> JsonObject:
        return {}

    def check_addable(self, existing: list[UserFactor], primary_factors: tuple[str, ...]) -> None:
        manage.check_addable(existing)

    async def add_by_admin(self, ctx: ManageContext) -> JsonObject:
        return await manage.add(ctx)


FACTOR = Totp()
