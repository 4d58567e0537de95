"""Organisations and their members. Whether a user must use MFA because of an organisation is
read with the user (``users.REQUIRED_BY_ORGANIZATION``), not here: a sign-in pays no extra
round trip for it."""

from __future__ import annotations

from datetime import datetime

import asyncpg

from ..domain.organizations import Organization
from ..domain.users import User
from . import users
from .errors import OrganizationNameTaken

_COLUMNS = "id::text AS id, name, require_mfa, created_at"


class OrganizationRepository:
    def __init__(self, conn: asyncpg.Connection):
        self.conn = conn

    async def add(self, organization_id: str, name: str, require_mfa: bool, now: datetime) -> Organization:
        try:
            row = await self.conn.fetchrow(
                f"INSERT INTO organizations (id, name, require_mfa, created_at) VALUES ($1::uuid, $2, $3, $4)"
                f" RETURNING {_COLUMNS}",
                organization_id, name, require_mfa, now,
            )
        except asyncpg.UniqueViolationError:
            raise OrganizationNameTaken(name) from None
        return Organization(**row)

    async def get(self, organization_id: str, lock: bool = False) -> Organization | None:
        row = await self.conn.fetchrow(
            f"SELECT {_COLUMNS} FROM organizations WHERE id = $1::uuid" + (" FOR UPDATE" if lock else ""),
            organization_id,
        )
        return Organization(**row) if row else None

    async def update(self, organization_id: str, name: str | None, require_mfa: bool | None) -> Organization | None:
        """Set the name and/or ``require_mfa`` (None leaves one as it is); the organisation as it
        is then, or None when there is none with this id."""
        try:
            row = await self.conn.fetchrow(
                "UPDATE organizations SET name = COALESCE($2, name), require_mfa = COALESCE($3, require_mfa)"
                f" WHERE id = $1::uuid RETURNING {_COLUMNS}",
                organization_id, name, require_mfa,
            )
        except asyncpg.UniqueViolationError:
            raise OrganizationNameTaken(name) from None
        return Organization(**row) if row else None

    async def page(self, after: tuple[datetime, str] | None, limit: int) -> list[Organization]:
        """At most ``limit`` organisations in creation order (``created_at``, then the id), after
        the position ``after`` (from the start when None)."""
        if after is None:
            rows = await self.conn.fetch(f"SELECT {_COLUMNS} FROM organizations ORDER BY created_at, id LIMIT $1", limit)
        else:
            rows = await self.conn.fetch(
                f"SELECT {_COLUMNS} FROM organizations WHERE (created_at, id) > ($2, $3::uuid)"
                " ORDER BY created_at, id LIMIT $1",
                limit, *after,
            )
        return [Organization(**row) for row in rows]

    async def delete(self, organization_id: str) -> list[str]:
        """Delete a locked organisation and its memberships; the ids of the users who were members."""
        members = await self.conn.fetch(
            "DELETE FROM organization_members WHERE organization_id = $1::uuid RETURNING user_id", organization_id
        )
        await self.conn.execute("DELETE FROM organizations WHERE id = $1::uuid", organization_id)
        return sorted(r["user_id"] for r in members)

    async def add_member(self, organization_id: str, user_id: str, now: datetime) -> bool:
        """Make the user a member; False when they were one already."""
        return await self.conn.fetchval(
            "INSERT INTO organization_members (organization_id, user_id, added_at) VALUES ($1::uuid, $2, $3)"
            " ON CONFLICT DO NOTHING RETURNING true",
            organization_id, user_id, now,
        ) is not None

    async def remove_member(self, organization_id: str, user_id: str) -> bool:
        """End a membership; False when there was none."""
        return await self.conn.execute(
            "DELETE FROM organization_members WHERE organization_id = $1::uuid AND user_id = $2",
            organization_id, user_id,
        ) == "DELETE 1"

    async def leave_all(self, user_id: str) -> list[str]:
        """End every membership of the user (before the user is deleted); the organisations' ids."""
        rows = await self.conn.fetch(
            "DELETE FROM organization_members WHERE user_id = $1 RETURNING organization_id::text", user_id
        )
        return sorted(r["organization_id"] for r in rows)

    async def of_users(self, user_ids: list[str]) -> dict[str, list[Organization]]:
        """Each user's organisations, by name (one statement for a page of users)."""
        rows = await self.conn.fetch(
            "SELECT m.user_id, o.id::text AS id, o.name, o.require_mfa, o.created_at"
            " FROM organization_members m JOIN organizations o ON o.id = m.organization_id"
            " WHERE m.user_id = ANY($1::text[]) ORDER BY lower(o.name)",
            user_ids,
        )
        found: dict[str, list[Organization]] = {}
        for row in rows:
            values = dict(row)
            found.setdefault(values.pop("user_id"), []).append(Organization(**values))
        return found

    async def members(self, organization_id: str, after: str | None, limit: int) -> list[User]:
        """At most ``limit`` members, ordered by username, after the username ``after``."""
        rows = await self.conn.fetch(
            f"SELECT {users._COLUMNS} FROM organization_members om JOIN users ON users.id = om.user_id"
            " WHERE om.organization_id = $1::uuid AND ($2::text IS NULL OR users.username > $2)"
            " ORDER BY users.username LIMIT $3",
            organization_id, after, limit,
        )
        return [User(**row) for row in rows]
