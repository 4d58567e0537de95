"""``rename_factor``: in an account flow, give one of the user's passkeys a name."""

from __future__ import annotations

from typing import Any

from ...domain.machine import MANAGE, Step
from ...factors.base import FactorContext, JsonObject
from ..management import rename_verification
from ..rules import Decision, Rules


async def handle(rules: Rules, ctx: FactorContext, event: JsonObject, prepared: dict[str, Any]) -> Decision:
    renamed = await rename_verification(ctx.uow, rules.registry, ctx.the_user.id, event["verification_id"],
                                        event["name"])
    # The new name is the user's words, shown in the flow; the log says only which factor.
    return Decision([Step("rename_factor", "factor_of_user", MANAGE,
                          {"verification_id": renamed.id, "factor": renamed.type})])
