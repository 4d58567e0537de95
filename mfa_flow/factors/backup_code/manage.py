"""The Management API may issue a new set of backup codes, for a user with a primary factor."""

from __future__ import annotations

from ...domain.errors import RuleBroken
from ...domain.users import UserFactor
from ..base import JsonObject, ManageContext
from .codes import issue_set


def check_addable(existing: list[UserFactor], primary_factors: tuple[str, ...]) -> None:
    """Rule 5: a set of backup codes needs a primary factor beside it (the Management API's
    add and an account flow's ``regenerate_backup_codes`` alike)."""
    if not any(v.type in primary_factors for v in existing):
        raise RuleBroken("backup codes cannot stand alone: the user needs a primary factor first", field="type")


async def add(ctx: ManageContext) -> JsonObject:
    check_addable(ctx.existing, ctx.primary_factors)
    set_id, codes = await issue_set(ctx.uow, ctx.user.id, ctx.box.pepper, ctx.now)
    return {"id": set_id, "type": "backup_code", "codes": codes}
