"""The service's signing keys: the active one signs, the published ones verify.

A key is created on first use. ``rotate`` retires the active key and adds a new one; the
retired key stays in the JWKS until every token it signed has expired (token lifetime plus
a minute of clock skew). ``remove`` withdraws a key at once (a suspected leak).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from .crypto import SecretBox
from .settings import Settings
from .store import UnitOfWork
from .store.keys import StoredKey
from .tokens import (
    SigningKey,
    TokenPolicy,
    check_subject_token,
    new_signing_key,
    published_jwk,
    result_claims,
    seal,
    sign_result,
    unseal,
)

CLOCK_SKEW_SECONDS = 60


class Keyring:
    def __init__(self, settings: Settings, box: SecretBox):
        self.box = box
        self.policy = TokenPolicy(settings.issuer, settings.token_audience, settings.token_ttl, settings.token_alg)
        self._unsealed: dict[str, SigningKey] = {}

    async def ensure_key(self, uow: UnitOfWork) -> StoredKey:
        """The active key, made now if there is none (two processes may race; one wins)."""
        stored = await uow.keys.active()
        if stored is None:
            fresh = new_signing_key()
            await uow.keys.add_if_none_active(fresh.kid, fresh.public_jwk, seal(fresh, self.box))
            stored = await uow.keys.active()
        assert stored is not None, "a key was just added, by us or a racing process"
        return stored

    async def signing_key(self, uow: UnitOfWork) -> SigningKey:
        stored = await self.ensure_key(uow)
        if stored.kid not in self._unsealed:
            assert stored.private_sealed is not None, "the active key keeps its private half"
            self._unsealed[stored.kid] = unseal(stored.kid, stored.private_sealed, self.box)
        return self._unsealed[stored.kid]

    async def result_token(self, uow: UnitOfWork, flow_id: str, user_id: str, amr: list[str], now: datetime,
                           mfa_by: str | None = None) -> str:
        key = await self.signing_key(uow)
        return sign_result(self.policy, key, result_claims(self.policy, flow_id, user_id, amr, now, mfa_by))

    async def subject_claims(self, uow: UnitOfWork, token: str, now: datetime, max_age: int) -> dict[str, Any]:
        """The claims of a result token presented to start an account flow, checked against the
        keys the JWKS publishes now (``tokens.TokenRefused`` if it does not hold)."""
        keys = await uow.keys.published(now, self.grace_seconds())
        return check_subject_token(token, [k.public_jwk for k in keys], self.policy, now, max_age)

    def grace_seconds(self) -> int:
        return self.policy.lifetime + CLOCK_SKEW_SECONDS

    async def jwks(self, uow: UnitOfWork, now: datetime) -> dict[str, Any]:
        keys = await uow.keys.published(now, self.grace_seconds())
        return {"keys": [published_jwk(k.public_jwk, self.policy.alg) for k in keys]}

    async def rotate(self, uow: UnitOfWork, now: datetime) -> tuple[str | None, str]:
        """Retire the active key (if any) and make a new one active. Returns (old kid, new kid)."""
        old = await uow.keys.retire_active(now)
        key = await self.signing_key(uow)
        return old, key.kid

    async def remove(self, uow: UnitOfWork, kid: str, now: datetime) -> bool:
        self._unsealed.pop(kid, None)
        return await uow.keys.remove(kid, now)

    async def every(self, uow: UnitOfWork) -> list[StoredKey]:
        return await uow.keys.every()

    async def every_public(self, uow: UnitOfWork) -> list[dict[str, Any]]:
        """All public keys ever used, for checking old checkpoints (not for tokens)."""
        return [published_jwk(k.public_jwk, self.policy.alg) for k in await uow.keys.every()]
