"""A new set of backup codes, issued on entering ``backup_codes`` and shown there once."""

from __future__ import annotations

from ..base import FactorContext, FlowView, JsonObject, Proof
from .codes import issue_set

_STATE = "backup_codes"


async def enter(ctx: FactorContext) -> None:
    user = ctx.the_user
    # The set is stored on entering the state (codes shown once), so it counts from here.
    verification_id, codes = await issue_set(ctx.uow, user.id, ctx.box.pepper, ctx.now, ctx.flow.id)
    ctx.flow.stage["backup_codes_sealed"] = ctx.box.seal("\n".join(codes))
    ctx.flow.stage["backup_code_set"] = verification_id


def finish(ctx: FactorContext) -> Proof:
    # Acknowledged: leaving the state wipes its stage, so the codes are never shown again.
    return Proof(True, facts={"verification_id": ctx.flow.stage.get("backup_code_set")})


def challenge(view: FlowView) -> JsonObject | None:
    sealed = view.flow.stage.get("backup_codes_sealed")
    if view.flow.state != _STATE or not view.owner or not sealed:
        return None
    return {"codes": view.box.open(sealed).split("\n")}
