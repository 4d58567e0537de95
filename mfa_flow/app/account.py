"""What an account flow shows in ``manage`` (its ``challenge``): the user's factors, with the
ids that ``remove_factor`` and ``rename_factor`` name, the factors ``add_factor`` may set
up, whether the user is asked for a factor at sign-in and may opt out (``set_mfa_enabled``),
how many devices the user asked to be remembered, and the user's recent sign-ins. Written into the flow in the
transaction of every step that leaves it in ``manage``, so a read shows the account as that
step left it."""

from __future__ import annotations

from ..domain import policy
from ..domain.errors import DomainError
from ..domain.users import UserFactor
from ..factors.base import FactorContext
from ..factors.registry import Registry
from . import sign_ins
from .management import factor_view
from .outcomes import mfa_config, user_factors


async def show(registry: Registry, ctx: FactorContext) -> None:
    user = ctx.user
    machine = registry.machine
    existing = await ctx.uow.user_factors.for_user(user.id)
    config = await mfa_config(ctx, machine)
    addable = [f for f in config.primary if f in machine.setup_state and _addable(registry, f, existing)]
    ctx.flow.stage["account"] = {
        "factors": [factor_view(registry, v) for v in existing],
        "addable_factors": addable,
        "mfa_enabled": not user.opted_out(has_factor=any(v.type in machine.primary_factors for v in existing)),
        "opt_out_allowed": not policy.mandatory_for(config, await user_factors(ctx, machine)),
        "trusted_devices": len(await ctx.uow.devices.for_user(user.id)),
        "recent_sign_ins": await sign_ins.recent(ctx.uow, ctx.settings, user.id, ctx.now),
    }


def _addable(registry: Registry, factor: str, existing: list[UserFactor]) -> bool:
    try:
        registry[factor].check_addable(existing, registry.machine.primary_factors)
    except DomainError:
        return False
    return True
