"""``submit_registration``: sign-up as the first factor (when enabled)."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from ... import passwords
from ...domain.errors import Conflict
from ...factors.base import FactorContext, JsonObject
from ...store.errors import UsernameTaken
from ..rules import Decision, Rules


async def handle(rules: Rules, ctx: FactorContext, event: JsonObject, prepared: dict[str, Any]) -> Decision:
    # Missing only if the flow moved between the short read and this transaction: hash here.
    password_hash = prepared.get("password_hash") or await asyncio.to_thread(
        passwords.hasher(ctx.settings.password_hash).hash, event["password"])
    try:
        user = await ctx.uow.users.add(str(uuid.uuid4()), event["username"], password_hash)
    except UsernameTaken:
        raise Conflict(f"the username {event['username']!r} is taken; choose another", kind="username-taken",
                       field="username") from None
    return await rules.first_factor_passed(ctx, user, "submit_registration", "registered", ["pwd"], sign_up=True)
