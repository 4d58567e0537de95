"""Users and their factors, as the domain sees them. Pure: no I/O."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass
class User:
    id: str
    username: str
    password_hash: str | None
    prompted: bool
    last_used_factor: str | None
    consecutive_failures: int
    locked_until: datetime | None
    created_at: datetime
    mfa_required: bool = False  # treated as under the mandatory policy, whatever the policy
    mfa_skip_on_sign_in: bool = False  # opted out of verification at sign-in (where the policy allows)

    def locked_at(self, now: datetime) -> bool:
        return self.locked_until is not None and self.locked_until > now

    def retry_after(self, now: datetime) -> int:
        """Whole seconds until the lock ends (at least 1), for ``Retry-After``."""
        assert self.locked_until is not None
        return max(1, int((self.locked_until - now).total_seconds() + 0.999))


@dataclass
class UserFactor:
    """One of a user's factors (the REST resource is ``mfa-verifications``)."""

    id: str
    user_id: str
    type: str
    name: str | None
    secret_sealed: str | None
    last_step: int | None
    salt: bytes | None
    created_at: datetime
    last_used_at: datetime | None
    remaining: int | None = None  # backup codes only
    aaguid: str | None = None  # webauthn only
    destination: str | None = None  # email_code: the address; sms_code: the phone (E.164)
