"""``revoke_trusted_devices``: in an account flow, the user withdraws the trust of every device
they asked to be remembered (the same revocation as the admin's, one ``mfa.device_revoked``)."""

from __future__ import annotations

from ...domain.machine import MANAGE, Step
from ...factors.base import FactorContext
from .. import devices
from ..commands import ClientEvent, Decision


async def handle(cmd: ClientEvent, ctx: FactorContext) -> Decision:
    revoked = await devices.revoke_all(ctx.uow, ctx.user.id, "user", ctx.now, ctx.flow.id)
    return Decision([Step("revoke_trusted_devices", "always", MANAGE, {"revoked": revoked})])
