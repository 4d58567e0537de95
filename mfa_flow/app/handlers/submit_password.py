"""``submit_password``: the first factor. argon2 ran before the transaction (``prepare``)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from ... import logs, passwords
from ...domain import machine
from ...domain.errors import UserLocked
from ...domain.machine import Step
from ...factors.base import FactorContext, JsonObject
from ..rules import Decision, Rules

log = logs.get(__name__)


@dataclass(frozen=True)
class PasswordCheck:
    """A password checked before the event's transaction, against this stored hash."""

    password_hash: str | None
    checked: passwords.Checked


async def handle(rules: Rules, ctx: FactorContext, event: JsonObject, prepared: dict[str, Any]) -> Decision:
    # Missing only if the flow moved between the short read and this transaction: verify here.
    before: PasswordCheck | None = prepared.get("checked")
    user = await ctx.uow.users.by_username(event["username"], lock=True)
    if user is not None and user.locked_at(ctx.now):
        # Locked: 429 whatever the password, so that guessing on goes nowhere.
        raise UserLocked(user.retry_after(ctx.now))
    stored = user.password_hash if user else None
    if before is not None and before.password_hash == stored:
        checked = before.checked
    else:
        hasher = passwords.hasher(ctx.settings.password_hash)
        checked = await asyncio.to_thread(hasher.check, user.password_algorithm if user else None, stored,
                                          event["password"])
    if not checked.ok or user is None:
        ctx.user = user
        step = Step("submit_password", "credentials_wrong", machine.FIRST_FACTOR)
        return await rules.wrong(ctx, step, "the username or password is wrong")
    if checked.rehashed is not None:
        # An imported digest, or argon2 at other parameters than the configured profile's: the
        # replacement commits with this sign-in's transition, or not at all.
        await ctx.uow.users.update(user.id, {"password_hash": checked.rehashed, "password_algorithm": passwords.ARGON2})
        log.info("password rehashed", user_id=user.id, was=user.password_algorithm,
                 profile=ctx.settings.password_hash.describe())
    return await rules.first_factor_passed(ctx, user, "submit_password", "credentials_ok", ["pwd"],
                                           event.get("device_token"))
