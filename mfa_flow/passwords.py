"""Password hashing with argon2id (argon2-cffi, RFC 9106 low-memory profile)."""

from __future__ import annotations

import asyncio

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_HASHER = PasswordHasher()
# Verified against when the username is unknown, so that a wrong username costs the same
# time as a wrong password and the two cannot be told apart.
_DUMMY_HASH = _HASHER.hash("mfa-flow: no such user")


def _verify(password_hash: str | None, password: str) -> bool:
    try:
        _HASHER.verify(password_hash or _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return False
    return password_hash is not None


async def verify(password_hash: str | None, password: str) -> bool:
    # argon2 takes tens of milliseconds of CPU: keep it off the event loop.
    return await asyncio.to_thread(_verify, password_hash, password)


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(_HASHER.hash, password)
