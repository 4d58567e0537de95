"""Backup codes: ten one-time codes, shown once, stored only as peppered, salted HMACs."""

from __future__ import annotations

import os
import secrets
from datetime import datetime
from typing import TYPE_CHECKING

from ...crypto import keyed_digest
from ...domain.events import FactorEnrolled, FactorRemoved

if TYPE_CHECKING:
    from ...store import UnitOfWork

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


async def issue_set(uow: "UnitOfWork", user_id: str, pepper: bytes, now: datetime,
                    flow_id: str | None = None) -> tuple[str, list[str]]:
    """Replace the user's backup codes with a new set; return its id and the codes (shown once).
    The set replaced is removed and the new one enrolled, in the webhooks too, whoever asked
    (the Management API, a set-up, an account flow's ``regenerate_backup_codes``)."""
    replaced = await uow.user_factors.of_type(user_id, "backup_code")
    await uow.user_factors.delete_type(user_id, "backup_code")
    salt = os.urandom(16)
    user_factor = await uow.user_factors.add(user_id, "backup_code", salt=salt, primary=False)
    codes = [new_code() for _ in range(CODES_PER_SET)]
    await uow.user_factors.add_backup_codes(user_factor.id, [keyed_digest(pepper, salt, normalise(c)) for c in codes])
    if replaced is not None:
        uow.record(FactorRemoved(user_id, "backup_code", replaced.id, now, flow_id))
    uow.record(FactorEnrolled(user_id, "backup_code", user_factor.id, flow_id, now))
    return user_factor.id, codes
