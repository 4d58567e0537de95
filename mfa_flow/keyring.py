"""The service's signing keys: one active key per key type signs, the published ones verify.

The three key types (RSA, P-256, Ed25519; ``tokens.KEY_TYPES``) are made at start, so the
JWKS always holds a key for every algorithm a token may name. ``rotate`` retires the active
keys and adds new ones; a retired key stays in the JWKS until every token it signed has
expired (token lifetime plus a minute of clock skew). ``remove`` withdraws a key at once (a
suspected leak).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from .crypto import SecretBox
from .settings import Settings
from .store import UnitOfWork
from .store.keys import StoredKey
from .tokens import (
    ED25519,
    KEY_TYPE_OF_ALG,
    KEY_TYPES,
    SigningKey,
    TokenPolicy,
    check_subject_token,
    key_type_of_jwk,
    new_signing_key,
    published_jwk,
    result_claims,
    seal,
    sign_jwt,
    sign_result,
    unseal,
)

CLOCK_SKEW_SECONDS = 60


class Keyring:
    def __init__(self, settings: Settings, box: SecretBox):
        self.box = box
        self.policy = TokenPolicy(settings.issuer, settings.token_audience, settings.token_ttl, settings.token_alg)
        self._unsealed: dict[str, SigningKey] = {}

    async def ensure_key(self, uow: UnitOfWork, key_type: str = ED25519) -> StoredKey:
        """The active key of ``key_type``, made now if there is none (two processes may race; one wins)."""
        stored = await uow.keys.active(key_type)
        if stored is None:
            fresh = new_signing_key(key_type)
            await uow.keys.add_if_none_active(fresh.kid, key_type, fresh.public_jwk, seal(fresh, self.box))
            stored = await uow.keys.active(key_type)
        assert stored is not None, "a key was just added, by us or a racing process"
        return stored

    async def ensure_keys(self, uow: UnitOfWork) -> None:
        """An active key of every type, so that the JWKS has one for each algorithm from the start."""
        for key_type in KEY_TYPES:
            await self.signing_key(uow, key_type)

    async def signing_key(self, uow: UnitOfWork, key_type: str = ED25519) -> SigningKey:
        """The active key of ``key_type`` (Ed25519: the one that signs the audit's checkpoints)."""
        stored = await self.ensure_key(uow, key_type)
        if stored.kid not in self._unsealed:
            assert stored.private_sealed is not None, "the active key keeps its private half"
            self._unsealed[stored.kid] = unseal(stored.kid, stored.private_sealed, self.box)
        return self._unsealed[stored.kid]

    async def sign(self, uow: UnitOfWork, alg: str, claims: dict[str, Any]) -> str:
        """A JWT over ``claims`` signed with ``alg`` by the active key of its type."""
        return sign_jwt(alg, await self.signing_key(uow, KEY_TYPE_OF_ALG[alg]), claims)

    async def result_token(self, uow: UnitOfWork, flow_id: str, user_id: str, amr: list[str], now: datetime,
                           mfa_by: str | None = None, first_factor: tuple[str, ...] = ()) -> str:
        key = await self.signing_key(uow, KEY_TYPE_OF_ALG[self.policy.alg])
        claims = result_claims(self.policy, flow_id, user_id, amr, now, mfa_by, first_factor)
        return sign_result(self.policy, key, claims)

    async def subject_claims(self, uow: UnitOfWork, token: str, now: datetime, max_age: int) -> dict[str, Any]:
        """The claims of a result token presented to start an account flow, checked against the
        keys the JWKS publishes now (``tokens.TokenRefused`` if it does not hold)."""
        keys = await uow.keys.published(now, self.grace_seconds())
        return check_subject_token(token, [k.public_jwk for k in keys], self.policy, now, max_age)

    def grace_seconds(self) -> int:
        return self.policy.lifetime + CLOCK_SKEW_SECONDS

    async def jwks(self, uow: UnitOfWork, now: datetime) -> dict[str, Any]:
        keys = await uow.keys.published(now, self.grace_seconds())
        return {"keys": [published_jwk(k.public_jwk) for k in keys]}

    async def rotate(self, uow: UnitOfWork, now: datetime) -> list[tuple[str, str | None, str]]:
        """Retire every active key and make a new one of each type: (key type, old kid, new kid)."""
        rotated = []
        for key_type in KEY_TYPES:
            old = await uow.keys.retire_active(key_type, now)
            key = await self.signing_key(uow, key_type)
            rotated.append((key_type, old, key.kid))
        return rotated

    async def remove(self, uow: UnitOfWork, kid: str, now: datetime) -> bool:
        self._unsealed.pop(kid, None)
        return await uow.keys.remove(kid, now)

    async def every(self, uow: UnitOfWork) -> list[StoredKey]:
        return await uow.keys.every()

    async def every_public(self, uow: UnitOfWork) -> list[dict[str, Any]]:
        """Every Ed25519 public key ever used, for checking old checkpoints (not for tokens)."""
        return [{**k.public_jwk, "use": "sig", "alg": "Ed25519"} for k in await uow.keys.every()
                if key_type_of_jwk(k.public_jwk) == ED25519]
