"""Passkey sign-in's configuration (``PUT /api/config/mfa`` ``passkey_sign_in``). Pure."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

REQUIRED = "required"
PREFERRED = "preferred"
USER_VERIFICATION = (REQUIRED, PREFERRED)
# The factor whose credentials sign in (its discoverable passkeys), and the words of the log.
FACTOR = "webauthn"
MFA_RULE = "done.passkey_mfa"  # a passkey with user verification counted as both factors
AMR = ("hwk", "user")  # RFC 8176: a hardware-bound key, and a user verified by the authenticator


@dataclass(frozen=True)
class PasskeySignIn:
    enabled: bool = False
    counts_as_mfa: bool = False
    user_verification: str = REQUIRED

    def __post_init__(self) -> None:
        if self.user_verification not in USER_VERIFICATION:
            raise ValueError(f"user_verification must be one of {', '.join(USER_VERIFICATION)},"
                             f" not {self.user_verification!r}")

    @classmethod
    def from_json(cls, body: dict[str, Any] | None) -> "PasskeySignIn":
        body = body or {}
        return cls(bool(body.get("enabled", False)), bool(body.get("counts_as_mfa", False)),
                   body.get("user_verification", REQUIRED))

    def to_json(self) -> dict[str, Any]:
        return {"enabled": self.enabled, "counts_as_mfa": self.counts_as_mfa,
                "user_verification": self.user_verification}

    def problem(self, primary: tuple[str, ...]) -> tuple[str, str] | None:
        """(field, why) when this setting cannot work with the enabled primary factors."""
        if not self.enabled:
            return None
        if FACTOR not in primary:
            return ("passkey_sign_in.enabled",
                    "passkey sign-in needs the webauthn factor enabled (passkeys are registered as that factor)")
        if not self.counts_as_mfa and not [f for f in primary if f != FACTOR]:
            return ("passkey_sign_in.counts_as_mfa",
                    "a passkey sign-in that does not count as MFA continues to a second factor of another kind;"
                    " enable one (totp, email_code or sms_code) or set counts_as_mfa")
        return None
