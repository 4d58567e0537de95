"""The one MFA configuration row."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..domain.adaptive import AdaptiveConfig
from ..domain.devices import DeviceTrust


@dataclass(frozen=True)
class StoredConfig:
    """The row as stored; the service checks it against the machine (``MfaConfig.checked``)."""

    factors: tuple[str, ...]
    policy: str
    trusted_devices: DeviceTrust = DeviceTrust()
    adaptive: AdaptiveConfig = AdaptiveConfig()


class ConfigRepository:
    def __init__(self, conn: Any) -> None:
        self.conn = conn

    async def get(self) -> StoredConfig:
        row = await self.conn.fetchrow(
            "SELECT factors, policy, trusted_devices_enabled, trusted_devices_days, adaptive FROM mfa_config"
        )
        trust = DeviceTrust(row["trusted_devices_enabled"], row["trusted_devices_days"])
        return StoredConfig(tuple(row["factors"]), row["policy"], trust, AdaptiveConfig.from_json(row["adaptive"]))

    async def put(self, factors: tuple[str, ...], policy: str, trusted_devices: DeviceTrust = DeviceTrust(),
                  adaptive: AdaptiveConfig = AdaptiveConfig()) -> None:
        await self.conn.execute(
            "UPDATE mfa_config SET factors = $1, policy = $2, trusted_devices_enabled = $3,"
            " trusted_devices_days = $4, adaptive = $5, updated_at = now()",
            list(factors), policy, trusted_devices.enabled, trusted_devices.days, adaptive.to_json(),
        )
