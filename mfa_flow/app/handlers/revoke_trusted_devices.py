"""``revoke_trusted_devices``: in an account flow, the user withdraws the trust of every device
they asked to be remembered (the same revocation as the admin's, one ``mfa.device_revoked``)."""

from __future__ import annotations

from typing import Any

from ...domain.machine import MANAGE, Step
from ...factors.base import FactorContext, JsonObject
from .. import devices
from ..rules import Decision, Rules


async def handle(rules: Rules, ctx: FactorContext, event: JsonObject, prepared: dict[str, Any]) -> Decision:
    revoked = await devices.revoke_all(ctx.uow, ctx.the_user.id, "user", ctx.now, ctx.flow.id)
    return Decision([Step("revoke_trusted_devices", "always", MANAGE, {"revoked": revoked})])
