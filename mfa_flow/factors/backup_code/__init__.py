"""Backup codes: a set of one-time codes shown once after a primary factor's set-up (the
``backup_codes`` state), each spendable once in ``backup_code_verify``. In an account flow the
user replaces the set with ``regenerate_backup_codes`` (shown in ``backup_codes`` too)."""

from __future__ import annotations

from ...domain.machine import DONE, MANAGE, FactorStates, Row
from ...domain.users import UserFactor
from ..base import Factor, FactorContext, FlowView, JsonObject, ManageContext, Proof, event_schema
from . import manage, setup, verify

STATE = "backup_codes"


class BackupCodes(Factor):
    name = "backup_code"
    amr = "otp"
    states = FactorStates(
        name="backup_code",
        primary=False,
        proof_event="submit_backup_code",
        setup_state=None,
        verify_state="backup_code_verify",
        follow_up_state=STATE,
        rows=(
            Row("acknowledge_backup_codes", (STATE,), "always", (DONE, MANAGE)),
            Row("regenerate_backup_codes", (MANAGE,), "primary_factor_enrolled", (STATE,)),
        ),
        events=("acknowledge_backup_codes", "regenerate_backup_codes"),
    )
    schemas = {
        "SubmitBackupCodeEvent": event_schema(
            "submit_backup_code", {"code": {"type": "string", "minLength": 1, "maxLength": 64}}, ("code",)
        ),
        "AcknowledgeBackupCodesEvent": event_schema("acknowledge_backup_codes", {}, ()),
        "RegenerateBackupCodesEvent": event_schema("regenerate_backup_codes", {}, ()),
    }

    async def enter_setup(self, ctx: FactorContext) -> None:
        await setup.enter(ctx)

    async def finish_setup(self, ctx: FactorContext, event: JsonObject) -> Proof:
        return setup.finish(ctx)

    async def finish_verify(self, ctx: FactorContext, event: JsonObject) -> Proof:
        return await verify.finish(ctx, event["code"])

    def challenge(self, view: FlowView) -> JsonObject | None:
        return setup.challenge(view)

    def describe(self, user_factor: UserFactor) -> JsonObject:
        return {"remaining": user_factor.remaining}

    def check_addable(self, existing: list[UserFactor], primary_factors: tuple[str, ...]) -> None:
        manage.check_addable(existing, primary_factors)

    async def add_by_admin(self, ctx: ManageContext) -> JsonObject:
        return await manage.add(ctx)


FACTOR = BackupCodes()
