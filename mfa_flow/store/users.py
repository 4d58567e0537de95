"""Users: credentials, contacts, the prompted mark, last-used factor and the lockout counter."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import asyncpg

from ..domain.users import User, UserSearch
from .errors import UsernameTaken
from .sign_ins import RECORD_FAILURE

# An organisation of the user's that requires MFA, or NULL: the first by id (UUID v7, so the
# oldest but for organisations made within one millisecond; the membership index's order, so no
# sort); read with every user, so that a sign-in's decision knows it without another round trip.
# It names the table (``users.id``), which every statement below reads or writes under its own name.
REQUIRED_BY_ORGANIZATION = (
    "(SELECT m.organization_id::text FROM organization_members m JOIN organizations o ON o.id = m.organization_id"
    " WHERE m.user_id = users.id AND o.require_mfa ORDER BY m.organization_id LIMIT 1) AS required_by_organization"
)
# The user's columns by name (a join's select list prefixes them), then the whole select list.
COLUMN_NAMES = ("id", "username", "password_hash", "password_algorithm", "email", "phone", "prompted",
                "last_used_factor", "consecutive_failures", "locked_until", "created_at", "mfa_required",
                "mfa_skip_on_sign_in", "mfa_skip_without_factor", "locale", "required_by_organization")
_COLUMNS = ", ".join(COLUMN_NAMES[:-1]) + ", " + REQUIRED_BY_ORGANIZATION
_GET_OR_ADD = (f"INSERT INTO users (id, username) VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET id = users.id"
               f" RETURNING {_COLUMNS}")

# A prefix p of x, as a range of an index on x COLLATE "C": p <= x < p || U+10FFFF (UTF-8 sorts
# by code point, and no character sorts above U+10FFFF). Written as a range, not LIKE, so that
# the index serves it in a generic plan too (a prepared statement's parameter is no constant).
_PREFIX = "{x} COLLATE \"C\" >= {p} AND {x} COLLATE \"C\" < {p} || U&'\\+10FFFF'"
_SEARCH = " OR ".join([
    _PREFIX.format(x="lower(username)", p="lower($3::text)"),
    _PREFIX.format(x="lower(email)", p="lower($3::text)"),
    _PREFIX.format(x="phone", p="$4::text"),  # NULL when the search cannot be a phone number: no match
])


# A search's best plan depends on how many users its prefix matches: a bitmap of the three
# prefix indexes for a few, a walk of the username index for many. A generic plan (asyncpg's
# prepared statements may get one after five runs) cannot know, walks the username index for
# every search and reads the whole table for a rare prefix; so a search is planned for its
# values every time (a fraction of a millisecond).
SEARCH_PLAN_MODE = "force_custom_plan"


def list_query(after: str | None, limit: int, search: UserSearch | None) -> tuple[str, list[object]]:
    """One page of users ordered by username (the unique index's order), after the username
    ``after`` (from the start when None), at most ``limit`` rows, matching ``search``. Four
    statements, each with only the conditions it needs, so that every one has an indexed plan."""
    conditions = ["username > $2" if after is not None else "$2::text IS NULL"]
    if search is not None:
        conditions.append(f"({_SEARCH})")
    args: list[object] = [limit, after]
    if search is not None:
        args += [search.text, search.phone]
    return f"SELECT {_COLUMNS} FROM users WHERE {' AND '.join(conditions)} ORDER BY username LIMIT $1", args


class UserRepository:
    def __init__(self, conn: Any) -> None:
        self.conn = conn

    async def add(self, user_id: str, username: str, password_hash: str | None, *, password_algorithm: str = "argon2",
                  email: str | None = None, phone: str | None = None) -> User:
        """A new user; ``UsernameTaken`` names the unique constraint a taken id, username, email
        or phone broke."""
        try:
            row = await self.conn.fetchrow(
                "INSERT INTO users (id, username, password_hash, password_algorithm, email, phone)"
                f" VALUES ($1, $2, $3, $4, $5, $6) RETURNING {_COLUMNS}",
                user_id,
                username,
                password_hash,
                password_algorithm,
                email,
                phone,
            )
        except asyncpg.UniqueViolationError as exc:
            raise UsernameTaken(exc.constraint_name) from None
        return User(**row)

    async def update(self, user_id: str, changes: dict[str, str | None]) -> User | None:
        """Set some of ``email``, ``phone``, ``password_hash`` and ``password_algorithm``; the user
        as it is then, or None when there is no such user. A taken email or phone raises
        ``UsernameTaken`` with the constraint's name."""
        columns = [c for c in ("email", "phone", "password_hash", "password_algorithm", "locale") if c in changes]
        if not columns:
            return await self.get(user_id)
        assignments = ", ".join(f"{c} = ${i}" for i, c in enumerate(columns, start=2))
        try:
            row = await self.conn.fetchrow(
                f"UPDATE users SET {assignments} WHERE id = $1 RETURNING {_COLUMNS}",
                user_id,
                *(changes[c] for c in columns),
            )
        except asyncpg.UniqueViolationError as exc:
            raise UsernameTaken(exc.constraint_name) from None
        return User(**row) if row else None

    async def page(self, after: str | None, limit: int, search: UserSearch | None) -> list[User]:
        """Runs in the unit of work's transaction: the plan mode lasts until it ends."""
        sql, args = list_query(after, limit, search)
        if search is not None:
            await self.conn.execute(f"SET LOCAL plan_cache_mode = {SEARCH_PLAN_MODE}")
        return [User(**row) for row in await self.conn.fetch(sql, *args)]

    async def get_or_add(self, user_id: str, username: str) -> User:
        """The user with this id, locked, created (without a password) if new; two callers
        racing to create one user both get it. A username another user has is ``UsernameTaken``
        (and the transaction is over: the caller refuses the request). One statement: the
        no-op update on a known id locks the row and returns it, as SELECT ... FOR UPDATE would."""
        try:
            row = await self.conn.fetchrow(_GET_OR_ADD, user_id, username)
        except asyncpg.UniqueViolationError:  # a new id, with a username that is another user's
            raise UsernameTaken("users_username_key") from None
        return User(**row)

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
        status: str = await self.conn.execute("DELETE FROM users WHERE id = $1", user_id)
        return status == "DELETE 1"

    async def mark_prompted(self, user_id: str, prompted: bool = True) -> None:
        await self.conn.execute("UPDATE users SET prompted = $2 WHERE id = $1", user_id, prompted)

    async def set_mfa_settings(self, user_id: str, required: bool | None, skip_on_sign_in: bool | None, *,
                               without_factor: bool = False) -> User | None:
        """Set the per-user MFA settings given (None leaves one as it is); the user as it is then.
        A ``skip_on_sign_in`` given is made ``without_factor`` or not (an opt-out made while the
        user had no primary factor, by someone who proved none)."""
        row = await self.conn.fetchrow(
            "UPDATE users SET mfa_required = COALESCE($2, mfa_required),"
            " mfa_skip_on_sign_in = COALESCE($3, mfa_skip_on_sign_in),"
            " mfa_skip_without_factor = CASE WHEN $3::boolean IS NULL THEN mfa_skip_without_factor ELSE $3 AND $4 END"
            f" WHERE id = $1 RETURNING {_COLUMNS}",
            user_id, required, skip_on_sign_in, without_factor,
        )
        return User(**row) if row else None

    async def unlock(self, user_id: str) -> None:
        """End a lockout and start counting failures afresh."""
        await self.conn.execute("UPDATE users SET consecutive_failures = 0, locked_until = NULL WHERE id = $1", user_id)

    async def forget_mfa(self, user_id: str) -> None:
        """After an MFA reset: not prompted yet, no last-used factor (the settings stay)."""
        await self.conn.execute("UPDATE users SET prompted = false, last_used_factor = NULL WHERE id = $1", user_id)

    async def record_success(self, user: User, last_used_factor: str | None) -> None:
        """A completed sign-in: reset the failure count; remember the primary factor used. The
        caller holds the user's row lock, so ``user`` is the row as it stands: when it already
        says all this (the usual sign-in), nothing is written."""
        if (user.consecutive_failures == 0 and user.locked_until is None
                and last_used_factor in (None, user.last_used_factor)):
            return
        await self.conn.execute(
            "UPDATE users SET consecutive_failures = 0, locked_until = NULL,"
            " last_used_factor = COALESCE($2, last_used_factor) WHERE id = $1",
            user.id,
            last_used_factor,
        )
        user.consecutive_failures, user.locked_until = 0, None
        user.last_used_factor = last_used_factor or user.last_used_factor

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
        # The same statement keeps the failure's time for adaptive MFA's failure_burst rule.
        await self.conn.execute(
            f"UPDATE users SET consecutive_failures = $2, locked_until = $3, {RECORD_FAILURE} WHERE id = $1",
            user.id,
            user.consecutive_failures,
            user.locked_until,
            now,
        )
        return locks
