"""The Management API may issue a new set of backup codes, for a user with a primary factor."""

from __future__ import annotations

from ...domain.errors import RuleBroken
from ...domain.events import FactorEnrolled, FactorRemoved
from ..base import JsonObject, ManageContext
from .codes import issue_set


async def add(ctx: ManageContext) -> JsonObject:
    if not any(v.type in ctx.primary_factors for v in ctx.existing):
        raise RuleBroken("backup codes cannot stand alone: the user needs a primary factor first", field="type")
    set_id, codes = await issue_set(ctx.uow, ctx.user.id, ctx.box.pepper)
    replaced = [v for v in ctx.existing if v.type == "backup_code"]
    ctx.uow.record(*(FactorRemoved(ctx.user.id, v.type, v.id, ctx.now) for v in replaced))
    ctx.uow.record(FactorEnrolled(ctx.user.id, "backup_code", set_id, None, ctx.now))
    return {"id": set_id, "type": "backup_code", "codes": codes}
