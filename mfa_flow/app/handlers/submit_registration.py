"""``submit_registration``: sign-up as the first factor (when enabled)."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass

from ... import passwords
from ...domain.errors import Conflict
from ...factors.base import LockedFlow
from ...store.errors import UsernameTaken
from ..commands import ClientEvent, Decision, PasswordHashed
from ..outcomes import Outcomes


@dataclass(frozen=True)
class SubmitRegistration:
    """A first-factor handler: the flow has no user until this one is made."""

    outcomes: Outcomes

    async def __call__(self, cmd: ClientEvent, locked: LockedFlow) -> Decision:
        username = cmd.payload["username"]
        if isinstance(cmd.password, PasswordHashed):
            password_hash = cmd.password.password_hash
        else:  # the flow moved between the short read and this transaction: hash here
            password_hash = await asyncio.to_thread(passwords.hasher(locked.settings.password_hash).hash,
                                                    cmd.payload["password"])
        try:
            user = await locked.uow.users.add(str(uuid.uuid4()), username, password_hash)
        except UsernameTaken:
            raise Conflict(f"the username {username!r} is taken; choose another", kind="username-taken",
                           field="username") from None
        return await self.outcomes.first_factor_passed(locked, user, "submit_registration", "registered", ["pwd"],
                                                       sign_up=True)
