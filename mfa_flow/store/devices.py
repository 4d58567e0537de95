"""Trusted devices (table trusted_devices): only the digest of each device token is stored."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from ..domain.devices import TrustedDevice

_COLUMNS = "id::text AS id, user_id, flow_id::text AS flow_id, created_at, expires_at, last_used_at"


class TrustedDeviceRepository:
    def __init__(self, conn: Any) -> None:
        self.conn = conn

    async def add(self, user_id: str, digest: bytes, flow_id: str, now: datetime, expires_at: datetime) -> TrustedDevice:
        row = await self.conn.fetchrow(
            "INSERT INTO trusted_devices (id, user_id, token_digest, flow_id, created_at, expires_at)"
            f" VALUES ($1, $2, $3, $4::uuid, $5, $6) RETURNING {_COLUMNS}",
            uuid.uuid4(), user_id, digest, flow_id, now, expires_at,
        )
        return TrustedDevice(**row)

    async def by_digest(self, digest: bytes) -> TrustedDevice | None:
        row = await self.conn.fetchrow(f"SELECT {_COLUMNS} FROM trusted_devices WHERE token_digest = $1", digest)
        return TrustedDevice(**row) if row else None

    async def for_user(self, user_id: str) -> list[TrustedDevice]:
        rows = await self.conn.fetch(
            f"SELECT {_COLUMNS} FROM trusted_devices WHERE user_id = $1 ORDER BY created_at, id", user_id
        )
        return [TrustedDevice(**r) for r in rows]

    async def mark_used(self, device_id: str, now: datetime) -> None:
        await self.conn.execute("UPDATE trusted_devices SET last_used_at = $2 WHERE id = $1::uuid", device_id, now)

    async def delete(self, user_id: str, device_id: str) -> bool:
        try:
            uuid.UUID(device_id)
        except ValueError:
            return False
        status = await self.conn.execute(
            "DELETE FROM trusted_devices WHERE user_id = $1 AND id = $2::uuid", user_id, device_id
        )
        return bool(status == "DELETE 1")

    async def delete_all(self, user_id: str) -> int:
        status = await self.conn.execute("DELETE FROM trusted_devices WHERE user_id = $1", user_id)
        return int(status.split()[-1])

    async def delete_every(self) -> list[tuple[str, int]]:
        """Delete every device of every user; (user, how many) for each user that had any."""
        rows = await self.conn.fetch(
            "WITH gone AS (DELETE FROM trusted_devices RETURNING user_id)"
            " SELECT user_id, count(*)::int AS count FROM gone GROUP BY user_id ORDER BY user_id"
        )
        return [(r["user_id"], r["count"]) for r in rows]

    async def shorten(self, days: int) -> int:
        """Cut every device's expiry to ``days`` after it was trusted, where that is sooner;
        how many were cut."""
        status = await self.conn.execute(
            "UPDATE trusted_devices SET expires_at = created_at + make_interval(days => $1)"
            " WHERE expires_at > created_at + make_interval(days => $1)",
            days,
        )
        return int(status.split()[-1])

    async def delete_expired(self, now: datetime) -> int:
        status = await self.conn.execute("DELETE FROM trusted_devices WHERE expires_at <= $1", now)
        return int(status.split()[-1])
