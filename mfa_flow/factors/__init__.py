"""Second factors. Each module has the same small shape:

- ``enter_setup(ctx)`` / ``enter_verify(ctx)``: the flow has just entered the factor's
  set-up or verification state; prepare what the client needs (kept in ``ctx.flow.context``).
- ``finish_setup(ctx, event)`` / ``finish_verify(ctx, event)``: check the proof the client
  sent and spend it; return a ``Proof``. Spending is a conditional UPDATE in the flow's own
  transaction, so a proof that loses a race is simply wrong.
- ``challenge(view)``: what the client is shown in the current state (secrets only to the
  flow's owner).

A factor keeps what one state needs in ``flow.stage``, which is wiped whenever the state
changes, so no set-up secret outlives the state that showed it.

Backup codes fit the same shape: their "set-up" is the ``backup_codes`` state, where a new
set is shown once and then acknowledged.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from ..config import Settings
    from ..crypto import SecretBox
    from ..domain import Flow
    from ..store import UnitOfWork
    from ..store.users import User


@dataclass
class FactorContext:
    uow: "UnitOfWork"
    flow: "Flow"
    user: "User"
    settings: "Settings"
    box: "SecretBox"
    now: datetime


@dataclass(frozen=True)
class FlowView:
    """What a factor needs to show a flow's challenge; ``owner`` is the flow-token holder."""

    flow: "Flow"
    settings: "Settings"
    box: "SecretBox"
    owner: bool


@dataclass(frozen=True)
class Proof:
    ok: bool
    reason: str = ""  # why a proof failed, in words fit for the client (never the proof itself)
    facts: dict[str, Any] = field(default_factory=dict)  # non-secret facts for the transition log


class Factor(Protocol):
    name: str
    amr: str  # RFC 8176 method reference

    async def enter_setup(self, ctx: FactorContext) -> None: ...
    async def finish_setup(self, ctx: FactorContext, event: dict) -> Proof: ...
    async def enter_verify(self, ctx: FactorContext) -> None: ...
    async def finish_verify(self, ctx: FactorContext, event: dict) -> Proof: ...
    def challenge(self, view: FlowView) -> dict | None: ...


def registry() -> dict[str, Factor]:
    from . import backup_codes, totp, webauthn

    return {"totp": totp.FACTOR, "webauthn": webauthn.FACTOR, "backup_code": backup_codes.FACTOR}
