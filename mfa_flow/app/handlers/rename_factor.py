"""``rename_factor``: in an account flow, give one of the user's passkeys a name."""

from __future__ import annotations

from dataclasses import dataclass

from ...domain.machine import MANAGE, Step
from ...factors.base import FactorContext
from ...factors.registry import Registry
from ..commands import ClientEvent, Decision
from ..management import rename_verification


@dataclass(frozen=True)
class RenameFactor:
    registry: Registry

    async def __call__(self, cmd: ClientEvent, ctx: FactorContext) -> Decision:
        renamed = await rename_verification(ctx.uow, self.registry, ctx.user.id, cmd.payload["verification_id"],
                                            cmd.payload["name"])
        # The new name is the user's words, shown in the flow; the log says only which factor.
        return Decision([Step("rename_factor", "factor_of_user", MANAGE,
                              {"verification_id": renamed.id, "factor": renamed.type})])
