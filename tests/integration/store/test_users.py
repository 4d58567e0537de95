"""The user an embedding backend asserts: found or created in the flow's own transaction."""

from __future__ import annotations

import asyncio

import pytest

from mfa_flow.store import Database
from mfa_flow.store.errors import UsernameTaken


async def get_or_add(db: Database, user_id: str, username: str) -> str:
    async with db.unit_of_work() as uow:
        user = await uow.users.get_or_add(user_id, username)
        await uow.commit()
        return user.username


async def test_a_new_user_is_created_once_even_when_two_transactions_race(service):
    first, second = await asyncio.gather(get_or_add(service.db, "u-race", "race"), get_or_add(service.db, "u-race", "race"))
    assert first == second == "race"
    assert await get_or_add(service.db, "u-race", "another name") == "race"  # an existing user keeps its name


async def test_a_username_of_another_user_is_refused_and_nothing_is_written(service):
    """One statement finds or adds the user; a username another user has ends the transaction
    (its only caller refuses the request), and the new id is not stored."""
    await get_or_add(service.db, "u-first", "taken")
    with pytest.raises(UsernameTaken):
        async with service.db.unit_of_work() as uow:
            await uow.users.get_or_add("u-second", "taken")
    async with service.db.unit_of_work() as uow:
        assert await uow.users.get("u-second") is None
        assert (await uow.users.get("u-first")).username == "taken"
    assert await get_or_add(service.db, "u-second", "free") == "free"
