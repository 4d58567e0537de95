"""WebAuthn credentials and the users' WebAuthn handles."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from .errors import CredentialTaken


@dataclass
class StoredCredential:
    verification_id: str
    user_id: str
    credential_id: bytes
    public_key: bytes
    sign_count: int
    transports: list[str]



_COLUMNS = (
    "c.verification_id::text AS verification_id, v.user_id, c.credential_id, c.public_key, c.sign_count, c.transports"
)


class WebauthnRepository:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def user_handle(self, user_id: str) -> bytes:
        """The user's WebAuthn handle: 32 random bytes, made on first use."""
        handle = await self.conn.fetchval(
            "UPDATE users SET webauthn_user_handle = COALESCE(webauthn_user_handle, $2) WHERE id = $1"
            " RETURNING webauthn_user_handle",
            user_id,
            os.urandom(32),
        )
        return bytes(handle)

    async def for_user(self, user_id: str) -> list[StoredCredential]:
        rows = await self.conn.fetch(
            f"SELECT {_COLUMNS} FROM webauthn_credentials c JOIN mfa_verifications v ON v.id = c.verification_id"
            " WHERE v.user_id = $1 ORDER BY v.created_at",
            user_id,
        )
        return [StoredCredential(**r) for r in rows]

    async def by_credential_id(self, credential_id: bytes) -> StoredCredential | None:
        row = await self.conn.fetchrow(
            f"SELECT {_COLUMNS} FROM webauthn_credentials c JOIN mfa_verifications v ON v.id = c.verification_id"
            " WHERE c.credential_id = $1",
            credential_id,
        )
        return StoredCredential(**row) if row else None

    async def add(self, verification_id: str, *, credential_id: bytes, public_key: bytes, sign_count: int,
                  transports: list[str], aaguid: str, backup_eligible: bool, backed_up: bool) -> None:
        try:
            # A savepoint, so that a taken credential id leaves the flow's transaction usable.
            async with self.conn.transaction():
                await self.conn.execute(
                    "INSERT INTO webauthn_credentials (verification_id, credential_id, public_key, sign_count,"
                    " transports, aaguid, backup_eligible, backed_up) VALUES ($1::uuid, $2, $3, $4, $5, $6, $7, $8)",
                    verification_id, credential_id, public_key, sign_count, transports, aaguid, backup_eligible,
                    backed_up,
                )
        except asyncpg.UniqueViolationError:
            raise CredentialTaken() from None

    async def advance_sign_count(self, verification_id: str, seen: int, new: int, backed_up: bool,
                                 now: datetime) -> bool:
        """Store the new sign count if nobody moved it since we read it (a concurrent use of
        the same assertion loses)."""
        status = await self.conn.execute(
            "UPDATE webauthn_credentials SET sign_count = $3, backed_up = $4"
            " WHERE verification_id = $1::uuid AND sign_count = $2",
            verification_id, seen, new, backed_up,
        )
        if status != "UPDATE 1":
            return False
        await self.conn.execute("UPDATE mfa_verifications SET last_used_at = $2 WHERE id = $1::uuid",
                                verification_id, now)
        return True

    async def user_of_handle(self, handle: bytes) -> str | None:
        """The user whose WebAuthn handle this is (a discoverable passkey names its user so)."""
        user_id = await self.conn.fetchval("SELECT id FROM users WHERE webauthn_user_handle = $1", handle)
        return str(user_id) if user_id is not None else None
