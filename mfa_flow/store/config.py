"""The one MFA configuration row."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..domain.adaptive import AdaptiveConfig
from ..domain.devices import DeviceTrust
from ..domain.passkey_sign_in import PasskeySignIn


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

    async def get(self, *, share: bool = False) -> StoredConfig:
        """The configuration; ``share``: locked FOR SHARE until the transaction ends, so that a
        change of it (``put``, whose UPDATE waits for that lock) cannot commit in between and
        miss what this transaction writes under the configuration it read."""
        row = await self.conn.fetchrow(
            "SELECT factors, policy, trusted_devices_enabled, trusted_devices_days, adaptive FROM mfa_config"
            + (" FOR SHARE" if share else "")
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


# --- passkey sign-in (issue 27): its own columns, read and written on their own --------------

class PasskeySignInRepository:
    def __init__(self, conn: Any) -> None:
        self.conn = conn

    async def get(self) -> PasskeySignIn:
        row = await self.conn.fetchrow(
            "SELECT passkey_sign_in_enabled, passkey_sign_in_counts_as_mfa, passkey_sign_in_user_verification"
            " FROM mfa_config"
        )
        return PasskeySignIn(row[0], row[1], row[2])

    async def put(self, setting: PasskeySignIn) -> None:
        await self.conn.execute(
            "UPDATE mfa_config SET passkey_sign_in_enabled = $1, passkey_sign_in_counts_as_mfa = $2,"
            " passkey_sign_in_user_verification = $3, updated_at = now()",
            setting.enabled, setting.counts_as_mfa, setting.user_verification,
        )
