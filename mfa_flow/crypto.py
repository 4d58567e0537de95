"""Secrets at rest and one-way hashes of bearer tokens and backup codes."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from cryptography.fernet import Fernet, InvalidToken


class SecretBox:
    """Authenticated encryption (Fernet: AES-128-CBC + HMAC-SHA256) for TOTP seeds and the like."""

    def __init__(self, key: str):
        try:
            self._fernet = Fernet(key.encode())
        except (ValueError, TypeError):
            raise SystemExit(
                "MFA_FLOW_SECRET_KEY is not a valid key: it must be 32 url-safe base64-encoded bytes, "
                'as printed by python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"'
            ) from None
        # Backup codes are hashed with a pepper derived from the same key, so that a database
        # dump alone is not enough to brute-force their 50-bit space.
        self.pepper = hashlib.sha256(b"mfa-flow backup-code pepper\x00" + key.encode()).digest()

    def seal(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode()

    def open(self, sealed: str) -> str:
        try:
            return self._fernet.decrypt(sealed.encode()).decode()
        except InvalidToken:
            raise RuntimeError("a stored secret cannot be decrypted: MFA_FLOW_SECRET_KEY has changed") from None


def new_token(prefix: str) -> str:
    return f"{prefix}_{secrets.token_urlsafe(32)}"


def token_digest(token: str) -> bytes:
    """Bearer tokens carry 256 random bits, so one plain SHA-256 is enough to store them."""
    return hashlib.sha256(token.encode()).digest()


def keyed_digest(pepper: bytes, salt: bytes, value: str) -> bytes:
    return hmac.new(pepper, salt + value.encode(), hashlib.sha256).digest()


def same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())
