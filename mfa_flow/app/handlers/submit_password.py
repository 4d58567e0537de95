"""``submit_password``: the first factor. argon2 ran before the transaction (``FlowService``
puts its result in ``ClientEvent.password``)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from ... import logs, passwords
from ...domain import machine
from ...domain.errors import UserLocked
from ...domain.machine import Step
from ...factors.base import LockedFlow
from ..commands import ClientEvent, Decision, PasswordCheck
from ..outcomes import Outcomes

log = logs.get(__name__)


@dataclass(frozen=True)
class SubmitPassword:
    """A first-factor handler: the flow has no user until the password names one."""

    outcomes: Outcomes

    async def __call__(self, cmd: ClientEvent, locked: LockedFlow) -> Decision:
        user = await locked.uow.users.by_username(cmd.payload["username"], lock=True)
        if user is not None and user.locked_at(locked.now):
            # Locked: 429 whatever the password, so that guessing on goes nowhere.
            raise UserLocked(user.retry_after(locked.now))
        stored = user.password_hash if user else None
        before = cmd.password
        if isinstance(before, PasswordCheck) and before.password_hash == stored:
            checked = before.checked
        else:  # the flow moved between the short read and this transaction, or the user's hash did
            hasher = passwords.hasher(locked.settings.password_hash)
            checked = await asyncio.to_thread(hasher.check, user.password_algorithm if user else None, stored,
                                              cmd.payload["password"])
        if not checked.ok or user is None:
            step = Step("submit_password", "credentials_wrong", machine.FIRST_FACTOR)
            return await self.outcomes.count_wrong_proof(locked, user, step, "the username or password is wrong")
        if checked.rehashed is not None:
            # An imported digest, or argon2 at other parameters than the configured profile's: the
            # replacement commits with this sign-in's transition, or not at all.
            await locked.uow.users.update(user.id, {"password_hash": checked.rehashed,
                                                    "password_algorithm": passwords.ARGON2})
            log.info("password rehashed", user_id=user.id, was=user.password_algorithm,
                     profile=locked.settings.password_hash.describe())
        return await self.outcomes.first_factor_passed(locked, user, "submit_password", "credentials_ok", ["pwd"],
                                                       cmd.payload.get("device_token"))
