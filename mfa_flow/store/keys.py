"""Signing keys: one active per key type, retired ones published until their tokens expire."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

_COLUMNS = "kid, key_type, public_jwk, private_sealed, created_at, retired_at, removed_at"
_ACTIVE = "retired_at IS NULL AND removed_at IS NULL"


@dataclass
class StoredKey:
    kid: str
    key_type: str  # RSA, P-256 or Ed25519
    public_jwk: dict[str, Any]
    private_sealed: str | None
    created_at: datetime
    retired_at: datetime | None
    removed_at: datetime | None

    @property
    def status(self) -> str:
        return "removed" if self.removed_at else "retired" if self.retired_at else "active"


class SigningKeyRepository:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def active(self, key_type: str) -> StoredKey | None:
        row = await self.conn.fetchrow(f"SELECT {_COLUMNS} FROM signing_keys WHERE key_type = $1 AND {_ACTIVE}",
                                       key_type)
        return StoredKey(**row) if row else None

    async def add_if_none_active(self, kid: str, key_type: str, public_jwk: dict[str, Any], private_sealed: str) -> bool:
        """Insert a key as the active one of its type unless another is active already (a concurrent start)."""
        status: str = await self.conn.execute(
            "INSERT INTO signing_keys (kid, key_type, public_jwk, private_sealed) VALUES ($1, $2, $3, $4)"
            f" ON CONFLICT (key_type) WHERE {_ACTIVE} DO NOTHING",
            kid,
            key_type,
            public_jwk,
            private_sealed,
        )
        return status == "INSERT 0 1"

    async def retire_active(self, key_type: str, now: datetime) -> str | None:
        value: str | None = await self.conn.fetchval(
            f"UPDATE signing_keys SET retired_at = $1 WHERE key_type = $2 AND {_ACTIVE} RETURNING kid", now, key_type
        )
        return value

    async def remove(self, kid: str, now: datetime) -> bool:
        """Withdraw a key at once: unpublished, no longer signs, private half wiped."""
        status: str = await self.conn.execute(
            "UPDATE signing_keys SET removed_at = $2, private_sealed = NULL WHERE kid = $1 AND removed_at IS NULL",
            kid,
            now,
        )
        return status == "UPDATE 1"

    async def published(self, now: datetime, grace_seconds: int) -> list[StoredKey]:
        """Keys that verify tokens still in circulation: the active one and recently retired ones."""
        rows = await self.conn.fetch(
            f"SELECT {_COLUMNS} FROM signing_keys WHERE removed_at IS NULL"
            " AND (retired_at IS NULL OR retired_at > $1::timestamptz - make_interval(secs => $2)) ORDER BY created_at DESC",
            now,
            grace_seconds,
        )
        return [StoredKey(**r) for r in rows]

    async def every(self) -> list[StoredKey]:
        rows = await self.conn.fetch(f"SELECT {_COLUMNS} FROM signing_keys ORDER BY created_at")
        return [StoredKey(**r) for r in rows]
