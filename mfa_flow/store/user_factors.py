"""The factors users enrolled (table mfa_verifications), and the one-time proofs they spend."""

from __future__ import annotations

import uuid
from datetime import datetime

import asyncpg

from ..domain.users import UserFactor

_COLUMNS = (
    "v.id::text AS id, user_id, type, name, secret_sealed, last_step, salt, created_at, last_used_at, destination"
)
_REMAINING = (
    "(SELECT count(*) FROM backup_codes b WHERE b.verification_id = v.id AND b.used_at IS NULL)::int AS remaining,"
    " (SELECT aaguid FROM webauthn_credentials c WHERE c.verification_id = v.id) AS aaguid"
)


class UserFactorRepository:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def for_user(self, user_id: str) -> list[UserFactor]:
        rows = await self.conn.fetch(
            f"SELECT {_COLUMNS}, {_REMAINING} FROM mfa_verifications v WHERE user_id = $1 ORDER BY created_at, id",
            user_id,
        )
        return [UserFactor(**r) for r in rows]

    async def types_of(self, user_ids: list[str]) -> dict[str, set[str]]:
        """The factor types each of these users has enrolled (users with none are left out)."""
        rows = await self.conn.fetch(
            "SELECT user_id, array_agg(DISTINCT type) AS types FROM mfa_verifications WHERE user_id = ANY($1::text[])"
            " GROUP BY user_id",
            user_ids,
        )
        return {r["user_id"]: set(r["types"]) for r in rows}

    async def get(self, user_id: str, verification_id: str) -> UserFactor | None:
        try:
            uuid.UUID(verification_id)
        except ValueError:
            return None
        row = await self.conn.fetchrow(
            f"SELECT {_COLUMNS}, {_REMAINING} FROM mfa_verifications v WHERE user_id = $1 AND id = $2::uuid",
            user_id,
            verification_id,
        )
        return UserFactor(**row) if row else None

    async def of_type(self, user_id: str, type_: str) -> UserFactor | None:
        row = await self.conn.fetchrow(
            f"SELECT {_COLUMNS}, {_REMAINING} FROM mfa_verifications v WHERE user_id = $1 AND type = $2"
            " ORDER BY created_at LIMIT 1",
            user_id,
            type_,
        )
        return UserFactor(**row) if row else None

    async def add(self, user_id: str, type_: str, *, secret_sealed: str | None = None, salt: bytes | None = None,
                  name: str | None = None, destination: str | None = None, primary: bool = True) -> UserFactor:
        """Enrol a factor. A ``primary`` one ends an opt-out made while the user had none
        (``users.mfa_skip_without_factor``): that opt-out was bound to no factor, so it must not
        outlive the user's first one, whichever flow or the admin enrolled it."""
        if primary:
            await self.conn.execute(
                "UPDATE users SET mfa_skip_on_sign_in = false, mfa_skip_without_factor = false"
                " WHERE id = $1 AND mfa_skip_without_factor",
                user_id,
            )
        row = await self.conn.fetchrow(
            "INSERT INTO mfa_verifications (id, user_id, type, secret_sealed, salt, name, destination)"
            f" VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {_COLUMNS.replace('v.id', 'id')}",
            uuid.uuid4(),
            user_id,
            type_,
            secret_sealed,
            salt,
            name,
            destination,
        )
        return UserFactor(**row)

    async def delete(self, verification_id: str) -> None:
        await self.conn.execute("DELETE FROM mfa_verifications WHERE id = $1::uuid", verification_id)

    async def delete_type(self, user_id: str, type_: str) -> None:
        await self.conn.execute("DELETE FROM mfa_verifications WHERE user_id = $1 AND type = $2", user_id, type_)

    async def rename(self, verification_id: str, name: str) -> None:
        await self.conn.execute("UPDATE mfa_verifications SET name = $2 WHERE id = $1::uuid", verification_id, name)

    async def advance_totp_step(self, user_id: str, verification_id: str, step: int, now: datetime) -> bool:
        """Accept a TOTP time-step only if it is newer than the last accepted one (no replay).

        One conditional UPDATE: of two concurrent submissions of one code, one wins. The user id
        is redundant with the verification id but routes the statement to one partition when
        the user tables are distributed by user (deploy/README.md, capacity plan).
        """
        status: str = await self.conn.execute(
            "UPDATE mfa_verifications SET last_step = $2, last_used_at = $3"
            " WHERE id = $1::uuid AND user_id = $4 AND (last_step IS NULL OR last_step < $2)",
            verification_id,
            step,
            now,
            user_id,
        )
        return status == "UPDATE 1"

    async def add_backup_codes(self, verification_id: str, digests: list[bytes]) -> None:
        await self.conn.executemany(
            "INSERT INTO backup_codes (verification_id, digest) VALUES ($1::uuid, $2)",
            [(verification_id, d) for d in digests],
        )

    async def spend_backup_code(self, verification_id: str, digest: bytes, now: datetime) -> bool:
        """Mark one unused code used; a single conditional UPDATE, so a code is spent once."""
        status: str = await self.conn.execute(
            "UPDATE backup_codes SET used_at = $3 WHERE verification_id = $1::uuid AND digest = $2 AND used_at IS NULL",
            verification_id,
            digest,
            now,
        )
        if status != "UPDATE 1":
            return False
        await self.conn.execute(
            "UPDATE mfa_verifications SET last_used_at = $2 WHERE id = $1::uuid", verification_id, now
        )
        return True

    async def mark_used(self, verification_id: str, now: datetime) -> None:
        await self.conn.execute(
            "UPDATE mfa_verifications SET last_used_at = $2 WHERE id = $1::uuid", verification_id, now
        )
