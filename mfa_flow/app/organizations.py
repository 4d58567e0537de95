"""Organisations (the Management API, admin key): create, rename, delete, ``require_mfa``, and
their members. A member of an organisation that requires MFA is treated as ``mfa.required``:
the rules read that with the user (``User.required_by_organization``), nothing here decides it.

Joining and leaving are webhooks (``organization.member_added``, ``organization.member_removed``)
written in the change's own transaction. A membership change locks the user's row, as a sign-in
does: the two are serialised, so a sign-in decides on a membership that committed or on none.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from .. import logs
from ..domain.errors import Conflict, InvalidInput, NotFound
from ..domain.events import OrganizationMembership
from ..domain.flow import time_ordered_id
from ..domain.organizations import Organization, canonical_id, checked_name, cursor_position, page_cursor
from ..domain.users import User, cursor_username
from ..domain.users import page_cursor as user_cursor
from ..store import Database, UnitOfWork
from ..store.errors import OrganizationNameTaken

log = logs.get(__name__)

UserViews = Callable[[UnitOfWork, list[User]], Awaitable[list[dict[str, Any]]]]


def _taken(name: str) -> Conflict:
    return Conflict(f"an organization named {name!r} exists already (names are unique, whatever their case)",
                    kind="organization-exists", field="name")


class Organizations:
    def __init__(self, db: Database, user_views: UserViews) -> None:
        self.db = db
        self.user_views = user_views  # the User resources of a page of users (the Management API's)

    async def _get(self, uow: UnitOfWork, organization_id: str, lock: bool = False) -> Organization:
        checked = canonical_id(organization_id)
        found = await uow.organizations.get(checked, lock=lock) if checked is not None else None
        if found is None:
            raise NotFound(f"organization {organization_id}")
        return found

    async def create(self, body: dict[str, Any]) -> dict[str, Any]:
        name = checked_name(body["name"])
        now = _now()
        async with self.db.unit_of_work() as uow:
            try:
                organization = await uow.organizations.add(time_ordered_id(now), name, body.get("require_mfa", False),
                                                           now)
            except OrganizationNameTaken:
                raise _taken(name) from None
            await uow.commit()
        log.info("organization added", kind="admin", organization_id=organization.id,
                 require_mfa=organization.require_mfa)
        return organization.to_json()

    async def list(self, after: str | None, limit: int) -> dict[str, Any]:
        """A page in creation order, with the cursor of the next page (None at the end)."""
        last = cursor_position(after) if after is not None else None
        async with self.db.unit_of_work(readonly=True) as uow:
            found = await uow.organizations.page(last, limit + 1)
        more = len(found) > limit
        found = found[:limit]
        return {"items": [o.to_json() for o in found], "next": page_cursor(found[-1]) if more else None}

    async def get(self, organization_id: str) -> dict[str, Any]:
        async with self.db.unit_of_work(readonly=True) as uow:
            return (await self._get(uow, organization_id)).to_json()

    async def change(self, organization_id: str, body: dict[str, Any]) -> dict[str, Any]:
        """``PATCH``: ``name`` and/or ``require_mfa`` (those left out stay)."""
        if not body:
            raise InvalidInput("body: give name, require_mfa or both (nothing to change)")
        name = checked_name(body["name"]) if "name" in body else None
        async with self.db.unit_of_work() as uow:
            checked = canonical_id(organization_id)
            try:
                organization = (await uow.organizations.update(checked, name, body.get("require_mfa"))
                                if checked is not None else None)
            except OrganizationNameTaken:
                raise _taken(name or "") from None
            if organization is None:
                raise NotFound(f"organization {organization_id}")
            await uow.commit()
        log.info("organization changed", kind="admin", organization_id=organization.id, changed=sorted(body),
                 require_mfa=organization.require_mfa)
        return organization.to_json()

    async def delete(self, organization_id: str) -> None:
        """Delete the organisation; each of its members leaves it (``organization.member_removed``,
        reason ``organization_deleted``)."""
        async with self.db.unit_of_work() as uow:
            organization = await self._get(uow, organization_id, lock=True)
            members = await uow.organizations.delete(organization.id)
            now = _now()
            uow.record(*(OrganizationMembership(organization.id, user_id, False, now, "organization_deleted")
                         for user_id in members))
            await uow.commit()
        log.info("organization deleted", kind="admin", organization_id=organization.id, members=len(members))

    async def add_member(self, organization_id: str, user_id: str) -> tuple[dict[str, Any], bool]:
        """Make the user a member; the membership, and whether it is new (a user who is a member
        already stays one: no second webhook)."""
        async with self.db.unit_of_work() as uow:
            user = await uow.users.get(user_id, lock=True)  # first: as a sign-in takes the user's row
            if user is None:
                raise NotFound(f"user {user_id}")
            organization = await self._get(uow, organization_id)
            now = _now()
            added = await uow.organizations.add_member(organization.id, user_id, now)
            if added:
                uow.record(OrganizationMembership(organization.id, user_id, True, now))
            await uow.commit()
        if added:
            log.info("organization member added", kind="admin", organization_id=organization.id, user_id=user_id)
        return {"organization_id": organization.id, "user_id": user_id}, added

    async def remove_member(self, organization_id: str, user_id: str) -> None:
        async with self.db.unit_of_work() as uow:
            user = await uow.users.get(user_id, lock=True)
            if user is None:
                raise NotFound(f"user {user_id}")
            organization = await self._get(uow, organization_id)
            if not await uow.organizations.remove_member(organization.id, user_id):
                raise NotFound(f"membership of user {user_id} in organization {organization.id}")
            uow.record(OrganizationMembership(organization.id, user_id, False, _now()))
            await uow.commit()
        log.info("organization member removed", kind="admin", organization_id=organization.id, user_id=user_id)

    async def members(self, organization_id: str, after: str | None, limit: int) -> dict[str, Any]:
        """A page of the members (User resources) ordered by username, as ``GET /api/users`` pages."""
        last = cursor_username(after) if after is not None else None
        async with self.db.unit_of_work(readonly=True) as uow:
            organization = await self._get(uow, organization_id)
            found = await uow.organizations.members(organization.id, last, limit + 1)
            more = len(found) > limit
            found = found[:limit]
            items = await self.user_views(uow, found)
        return {"items": items, "next": user_cursor(found[-1].username) if more else None}


def _now() -> datetime:
    return datetime.now(UTC)
