"""Trusted devices ("remember this device"), as the domain sees them. Pure: no I/O.

A device that proved a second factor in a sign-in may be remembered: the client gets a device
token once, the service keeps only its digest. At a later sign-in of the same user the token
stands in for the verification step (``policy.after_first_factor``, rule
``done.trusted_device``) until the device expires or is revoked.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

DAYS_MIN, DAYS_MAX, DAYS_DEFAULT = 1, 365, 30
TOKEN_PREFIX = "dt"  # device tokens read "dt_<43 base64url characters>"

# What became of a device token presented at the first factor (named in the transition's data).
HONOURED = "honoured"  # it stood in for verification
NOT_APPLICABLE = "not_applicable"  # valid, but nothing to stand in for (set-up, step-up, no MFA asked)
UNKNOWN = "unknown"  # no such device (never issued, or revoked)
EXPIRED = "expired"
OTHER_USER = "other_user"  # a device of another user
DISABLED = "disabled"  # trusted devices are off in the configuration: no token is honoured


@dataclass(frozen=True)
class DeviceTrust:
    """The ``trusted_devices`` part of the MFA configuration."""

    enabled: bool = False
    days: int = DAYS_DEFAULT

    def __post_init__(self) -> None:
        if not DAYS_MIN <= self.days <= DAYS_MAX:
            raise ValueError(f"trusted_devices.days must be from {DAYS_MIN} to {DAYS_MAX}, not {self.days}")

    def to_json(self) -> dict[str, object]:
        return {"enabled": self.enabled, "days": self.days}


@dataclass(frozen=True)
class TrustedDevice:
    id: str
    user_id: str
    flow_id: str | None
    created_at: datetime
    expires_at: datetime
    last_used_at: datetime | None

    def verdict(self, user_id: str, now: datetime, days: int | None = None) -> str:
        """Whether this device, presented at ``user_id``'s sign-in at ``now``, may be honoured
        while devices are trusted for ``days``: never past its expiry, nor more than ``days``
        after it was trusted (a configuration cut shortens every device's expiry as it is
        stored, and this holds should a device be written as it commits)."""
        if self.user_id != user_id:
            return OTHER_USER
        if now >= self.expires_at or (days is not None and now >= self.created_at + timedelta(days=days)):
            return EXPIRED
        return HONOURED
