"""Users: credentials, the prompted mark, last-used factor and the lockout counter."""

from __future__ import annotations

from datetime import datetime, timedelta

import asyncpg

from ..domain.errors import UsernameTaken
from ..domain.users import User

_COLUMNS = (
    "id, username, password_hash, prompted, last_used_factor, consecutive_failures, locked_until, created_at,"
    " mfa_required, mfa_skip_on_sign_in"
)


class UserRepository:
    def __init__(self, conn):
        self.conn = conn

    async def add(self, user_id: str, username: str, password_hash: str | None) -> User:
        try:
            row = await self.conn.fetchrow(
                f"INSERT INTO users (id, username, password_hash) VALUES ($1, $2, $3) RETURNING {_COLUMNS}",
                user_id,
                username,
                password_hash,
            )
        except asyncpg.UniqueViolationError as exc:
            raise UsernameTaken(exc.constraint_name) from None
        return User(**row)

    async def get_or_add(self, user_id: str, username: str) -> User:
        """The user with this id, locked, created (without a password) if new; two callers
        racing to create one user both get it."""
        try:
            async with self.conn.transaction():  # a savepoint: a taken username must not end ours
                await self.conn.execute(
                    "INSERT INTO users (id, username) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING", user_id, username
                )
        except asyncpg.UniqueViolationError as exc:
            raise UsernameTaken(exc.constraint_name) from None
        user = await self.get(user_id, lock=True)
        assert user is not None  # inserted or already there, and locked
        return user

    async def get(self, user_id: str, lock: bool = False) -> User | None:
        row = await self.conn.fetchrow(
            f"SELECT {_COLUMNS} FROM users WHERE id = $1" + (" FOR UPDATE" if lock else ""), user_id
        )
        return User(**row) if row else None

    async def by_username(self, username: str, lock: bool = False) -> User | None:
        row = await self.conn.fetchrow(
            f"SELECT {_COLUMNS} FROM users WHERE username = $1" + (" FOR UPDATE" if lock else ""), username
        )
        return User(**row) if row else None

    async def delete(self, user_id: str) -> bool:
        return await self.conn.execute("DELETE FROM users WHERE id = $1", user_id) == "DELETE 1"

    async def mark_prompted(self, user_id: str, prompted: bool = True) -> None:
        await self.conn.execute("UPDATE users SET prompted = $2 WHERE id = $1", user_id, prompted)

    async def record_success(self, user_id: str, last_used_factor: str | None) -> None:
        """A completed sign-in: reset the failure count; remember the primary factor used."""
        await self.conn.execute(
            "UPDATE users SET consecutive_failures = 0, locked_until = NULL,"
            " last_used_factor = COALESCE($2, last_used_factor) WHERE id = $1",
            user_id,
            last_used_factor,
        )

    async def set_last_used(self, user_id: str, factor: str) -> None:
        await self.conn.execute("UPDATE users SET last_used_factor = $2 WHERE id = $1", user_id, factor)

    async def record_failure(self, user: User, threshold: int, lock_for: timedelta, now: datetime) -> bool:
        """Count a failed proof; at the threshold lock the user and start counting afresh.

        The caller holds the user's row lock. Returns True when this failure locked the user.
        """
        failures = user.consecutive_failures + 1
        locks = failures >= threshold
        user.consecutive_failures = 0 if locks else failures
        user.locked_until = now + lock_for if locks else user.locked_until
        await self.conn.execute(
            "UPDATE users SET consecutive_failures = $2, locked_until = $3 WHERE id = $1",
            user.id,
            user.consecutive_failures,
            user.locked_until,
        )
        return locks
