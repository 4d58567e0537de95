"""``skip``: a user-controlled set-up declined; the user is marked as prompted."""

from __future__ import annotations

from typing import Any

from ...domain import machine
from ...domain.machine import Step
from ...factors.base import FactorContext, JsonObject
from ..rules import Decision, Rules


async def handle(rules: Rules, ctx: FactorContext, event: JsonObject, prepared: dict[str, Any]) -> Decision:
    await ctx.uow.users.mark_prompted(ctx.the_user.id)
    await rules.complete(ctx, None)
    return Decision([Step("skip", "setup_skippable", machine.DONE, {"rule": "done.setup_skipped"})])
