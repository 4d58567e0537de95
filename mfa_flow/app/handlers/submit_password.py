"""``submit_password``: the first factor. argon2 ran before the transaction (``prepare``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ... import passwords
from ...domain import machine
from ...domain.errors import UserLocked
from ...domain.machine import Step
from ...factors.base import FactorContext, JsonObject
from ..rules import Decision, Rules


@dataclass(frozen=True)
class PasswordCheck:
    """A password verified before the event's transaction, against this stored hash."""

    password_hash: str | None
    ok: bool


async def handle(rules: Rules, ctx: FactorContext, event: JsonObject, prepared: dict[str, Any]) -> Decision:
    # Missing only if the flow moved between the short read and this transaction: verify here.
    checked: PasswordCheck | None = prepared.get("checked")
    user = await ctx.uow.users.by_username(event["username"], lock=True)
    if user is not None and user.locked_at(ctx.now):
        # Locked: 429 whatever the password, so that guessing on goes nowhere.
        raise UserLocked(user.retry_after(ctx.now))
    stored = user.password_hash if user else None
    if checked is not None and checked.password_hash == stored:
        ok = checked.ok
    else:
        ok = await passwords.verify(stored, event["password"])
    if not ok or user is None:
        ctx.user = user
        step = Step("submit_password", "credentials_wrong", machine.FIRST_FACTOR)
        return await rules.wrong(ctx, step, "the username or password is wrong")
    return await rules.first_factor_passed(ctx, user, "submit_password", "credentials_ok", ["pwd"],
                                           event.get("device_token"))
