"""``remove_factor``: in an account flow, remove one of the user's factors, by the Management
API's own implementation (rule 4: with the last primary factor go the backup codes, and the
user is prompted again at the next sign-in; every trusted device is revoked)."""

from __future__ import annotations

from dataclasses import dataclass

from ...domain.machine import MANAGE, FlowMachine, Step
from ...factors.base import FactorContext
from ..commands import ClientEvent, Decision
from ..management import remove_verification


@dataclass(frozen=True)
class RemoveFactor:
    machine: FlowMachine

    async def __call__(self, cmd: ClientEvent, ctx: FactorContext) -> Decision:
        removed, revoked = await remove_verification(ctx.uow, self.machine.primary_factors, ctx.user.id,
                                                     cmd.payload["verification_id"], ctx.now, ctx.flow.id)
        data = {"verification_id": removed[0].id, "factor": removed[0].type,
                "also_removed": [{"verification_id": v.id, "factor": v.type} for v in removed[1:]],
                "devices_revoked": revoked}
        return Decision([Step("remove_factor", "factor_of_user", MANAGE, data)])
