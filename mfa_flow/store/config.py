"""The one MFA configuration row."""

from __future__ import annotations

from ..policy import MfaConfig


class ConfigRepository:
    def __init__(self, conn):
        self.conn = conn

    async def get(self) -> MfaConfig:
        row = await self.conn.fetchrow("SELECT factors, policy FROM mfa_config")
        return MfaConfig(tuple(row["factors"]), row["policy"])

    async def put(self, config: MfaConfig) -> None:
        await self.conn.execute(
            "UPDATE mfa_config SET factors = $1, policy = $2, updated_at = now()", list(config.factors), config.policy
        )
