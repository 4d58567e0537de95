"""The one MFA configuration row."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class StoredConfig:
    """The row as stored; the service checks it against the machine (``MfaConfig.checked``)."""

    factors: tuple[str, ...]
    policy: str


class ConfigRepository:
    def __init__(self, conn: Any) -> None:
        self.conn = conn

    async def get(self) -> StoredConfig:
        row = await self.conn.fetchrow("SELECT factors, policy FROM mfa_config")
        return StoredConfig(tuple(row["factors"]), row["policy"])

    async def put(self, factors: tuple[str, ...], policy: str) -> None:
        await self.conn.execute(
            "UPDATE mfa_config SET factors = $1, policy = $2, updated_at = now()", list(factors), policy
        )
