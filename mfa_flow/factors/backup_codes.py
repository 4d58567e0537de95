"""Backup codes: ten one-time codes, shown once, stored only as peppered, salted HMACs."""

from __future__ import annotations

import os
import secrets

from ..crypto import keyed_digest
from . import FactorContext, FlowView, Proof

CODES_PER_SET = 10
# Crockford's base32 alphabet: no I, L, O or U to misread. 10 characters = 50 bits.
ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
LENGTH = 10


def new_code() -> str:
    raw = "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))
    return f"{raw[:5]}-{raw[5:]}"


def normalise(code: str) -> str:
    """Entry is forgiving: case, spaces and dashes do not matter."""
    return "".join(ch for ch in code.lower() if ch not in " -\t")


async def issue_set(uow, user_id: str, pepper: bytes) -> tuple[str, list[str]]:
    """Replace the user's backup codes with a new set; return its id and the codes (shown once)."""
    await uow.verifications.delete_type(user_id, "backup_code")
    salt = os.urandom(16)
    verification = await uow.verifications.add(user_id, "backup_code", salt=salt)
    codes = [new_code() for _ in range(CODES_PER_SET)]
    await uow.verifications.add_backup_codes(verification.id, [keyed_digest(pepper, salt, normalise(c)) for c in codes])
    return verification.id, codes


class BackupCodes:
    name = "backup_code"
    amr = "otp"

    async def enter_setup(self, ctx: FactorContext) -> None:
        verification_id, codes = await issue_set(ctx.uow, ctx.user.id, ctx.box.pepper)
        ctx.flow.stage["backup_codes_sealed"] = ctx.box.seal("\n".join(codes))
        ctx.flow.stage["backup_code_set"] = verification_id

    async def finish_setup(self, ctx: FactorContext, event: dict) -> Proof:
        # Acknowledged: leaving the state wipes its stage, so the codes are never shown again.
        return Proof(True, facts={"verification_id": ctx.flow.stage.get("backup_code_set")})

    async def enter_verify(self, ctx: FactorContext) -> None:
        return None

    async def finish_verify(self, ctx: FactorContext, event: dict) -> Proof:
        verification = await ctx.uow.verifications.of_type(ctx.user.id, "backup_code")
        if verification is None:
            return Proof(False, "the user has no backup codes")
        digest = keyed_digest(ctx.box.pepper, verification.salt, normalise(event["code"]))
        if not await ctx.uow.verifications.spend_backup_code(verification.id, digest, ctx.now):
            return Proof(False, "the backup code is wrong or was already used")
        return Proof(True, facts={"verification_id": verification.id})

    def challenge(self, view: FlowView) -> dict | None:
        sealed = view.flow.stage.get("backup_codes_sealed")
        if view.flow.state != "backup_codes" or not view.owner or not sealed:
            return None
        return {"codes": view.box.open(sealed).split("\n")}


FACTOR = BackupCodes()
