"""The one way a flow changes: ``Pipeline.apply`` (one event, one transaction).

lock the flow row (serialising events on one flow) -> authorise the caller's principal ->
expiry -> finished? -> version -> the user (deleted? locked out?) -> is the event allowed
here? -> the step's context (the locked flow, with its user once it has one) -> decide (the
event's handler: pure rules, the factor, its row locks and CAS; ``Outcomes`` for what an
outcome writes beyond the flow) -> write (the steps through the machine's table, the state entered, the log rows, the domain
events) -> commit. HTTP, WebSocket and the sweeper all come through here.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from .. import logs, metrics
from ..crypto import SecretBox
from ..domain import machine
from ..domain.access import check_access
from ..domain.adaptive import Signals
from ..domain.errors import Conflict, DomainError, FlowEventLimit, FlowExpired, NotFound, UserLocked
from ..domain.events import transition_events
from ..domain.flow import Flow, Transition, first_row_facts, take
from ..domain.machine import Step
from ..factors.base import CodeBudget, FactorContext, LockedFlow
from ..factors.registry import Registry
from ..settings import Settings
from ..store import Database
from . import account
from .commands import ClientEvent, FirstFactorHandler, Handler
from .handlers import Handlers
from .limits import AbuseLimits
from .queries import allowed_events

if TYPE_CHECKING:
    from ..store import UnitOfWork

log = logs.get(__name__)


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Written:
    flow: Flow
    rows: list[Transition]


class Pipeline:
    def __init__(self, db: Database, settings: Settings, box: SecretBox, registry: Registry, handlers: Handlers,
                 limits: AbuseLimits | None = None) -> None:
        self.limits = limits
        self.db = db
        self.settings = settings
        self.box = box
        self.registry = registry
        self.machine = registry.machine
        self.handlers = handlers

    def context(self, uow: "UnitOfWork", flow: Flow, now: datetime, client: str | None = None,
                signals: Signals | None = None) -> LockedFlow:
        """The step's context on ``flow``, locked by ``uow``'s first statement (``with_user``
        once its user is known)."""
        return LockedFlow(uow, flow, self.settings, self.box, now, self.code_budget(uow, client), signals)

    def code_budget(self, uow: "UnitOfWork", client: str | None) -> CodeBudget | None:
        """The abuse budgets a code sent in this transaction spends: the client's address (None
        for the admin key), and the destination's."""
        limits = self.limits
        if limits is None:
            return None

        async def spend(destination: str) -> None:
            await limits.code_sent(client, destination, uow=uow)

        return spend

    async def apply(self, cmd: ClientEvent) -> Flow:
        """Apply one client event. Raises a domain error for anything refused; a wrong proof is
        recorded (attempt counted) and committed before its error is raised."""
        started = time.perf_counter()
        async with self.db.unit_of_work() as uow:
            flow, user = await uow.flows.get_locked_with_user(cmd.flow_id)  # one round trip for both locks
            if flow is None:
                raise NotFound(f"flow {cmd.flow_id}")
            check_access(cmd.principal, flow, drive=True)
            now = utcnow()
            locked = self.context(uow, flow, now, cmd.client, cmd.signals)
            if flow.is_overdue(now):
                rows = await self.write(locked, [Step("expire", "always", machine.EXPIRED)], "system")
                await uow.commit()
                self.record(flow, rows, started)
                raise self.finished(flow)
            if machine.is_terminal(flow.state):
                raise self.finished(flow)
            if cmd.expected_version is not None and cmd.expected_version != flow.version:
                raise Conflict(
                    f"the flow is at version {flow.version}, not {cmd.expected_version}; read it again and retry",
                    kind="version-mismatch",
                    version=flow.version,
                )
            if flow.user_id and user is None:
                # The user was deleted mid-sign-in: nothing can be proved for them any more.
                step = Step("cancel", "always", machine.CANCELLED, {"reason": "user_deleted"})
                rows = await self.write(locked, [step], "system")
                await uow.commit()
                self.record(flow, rows, started)
                raise Conflict("the user of this flow was deleted; the sign-in is cancelled", kind="flow-finished",
                               state=flow.state)
            if user is not None and user.locked_at(now):
                raise UserLocked(user.retry_after(now))
            allowed = allowed_events(self.machine, self.settings, flow)
            if cmd.type not in allowed:
                raise Conflict(f"{cmd.type} is not allowed in state {flow.state}; allowed: {', '.join(allowed)}",
                               kind="event-not-allowed", state=flow.state)
            if 0 < self.settings.max_events_per_flow <= flow.version:  # a transition per event and step
                raise FlowEventLimit(self.settings.max_events_per_flow)
            ctx: LockedFlow
            if user is not None:
                ctx = locked.with_user(user)
                decision = await self.handler(cmd, ctx)(cmd, ctx)
            else:
                decision = await self.first_factor_handler(cmd, locked)(cmd, locked)
                ctx = locked.with_user(decision.user) if decision.user is not None else locked
            rows = await self.write(ctx, decision.steps, cmd.principal.actor)
            await uow.commit()
        self.record(flow, rows, started)
        if decision.error is not None:
            raise decision.error
        return flow

    def handler(self, cmd: ClientEvent, ctx: FactorContext) -> Handler:
        handler = self.handlers.with_user.get(cmd.type)
        if handler is None:  # a first factor's event: the table allows none once the flow has a user
            raise Conflict(f"{cmd.type} is a first factor's event, and the flow already has its user",
                           kind="event-not-allowed", state=ctx.flow.state)
        return handler

    def first_factor_handler(self, cmd: ClientEvent, locked: LockedFlow) -> FirstFactorHandler:
        handler = self.handlers.first_factor.get(cmd.type)
        if handler is None:  # every state but first_factor has a user: the table allows no other
            raise Conflict(f"{cmd.type} needs the flow's user, and the flow has none yet",
                           kind="event-not-allowed", state=locked.flow.state)
        return handler

    async def expire(self, flow_id: str) -> Flow | None:
        """The ``expire`` system event, if the flow is still active and overdue."""
        started = time.perf_counter()
        async with self.db.unit_of_work() as uow:
            flow = await uow.flows.get(flow_id, lock=True)
            now = utcnow()
            if flow is None or not flow.is_overdue(now):
                return flow
            rows = await self.write(self.context(uow, flow, now), [Step("expire", "always", machine.EXPIRED)],
                                    "system")
            await uow.commit()
        self.record(flow, rows, started)
        return flow

    async def delivery_settled(self, uow: "UnitOfWork", flow: Flow | None, delivery_id: str,
                               outcome: str) -> tuple[Flow, list[Transition]] | None:
        """The system step that shows a delivery's outcome in the flow (``code_delivery``), in
        ``uow``'s transaction, when the flow still waits for that delivery; the caller commits
        (then ``record``s the rows).

        ``flow`` must have been locked by the transaction's first statement, before the delivery
        is recorded: the log's global order is the order in which transactions took their ids,
        and one that wrote (so took its id) before waiting for the flow's lock would append the
        flow's next row below a row another transaction appended meanwhile (see
        ``TransitionLog.append``)."""
        now = utcnow()
        if flow is None or machine.is_terminal(flow.state) or flow.is_overdue(now):
            return None
        factor = self.registry.of_state(flow.state)
        ctx = self.context(uow, flow, now)
        step = factor.delivery_settled(ctx, delivery_id, outcome) if factor is not None else None
        if step is None:
            return None
        return flow, await self.write(ctx, [step], "system")

    def finished(self, flow: Flow) -> DomainError:
        if flow.state == machine.EXPIRED:
            return FlowExpired()
        return Conflict(f"the flow is finished (state {flow.state}); start a new sign-in", kind="flow-finished",
                        state=flow.state)

    # --- writing ------------------------------------------------------------------------------

    async def write(self, ctx: LockedFlow, steps: list[Step], actor: str, new: bool = False) -> list[Transition]:
        """Run the steps through the machine, prepare the state the flow lands in, and write the
        flow, its log rows and its domain events (outbox rows at commit). A ``new`` flow's row
        is inserted as these steps leave it (one statement, rather than an insert and an update).
        ``ctx`` has the flow's user (a ``FactorContext``) unless the steps are a system step's
        or a first factor's that named nobody."""
        user = ctx.user if isinstance(ctx, FactorContext) else None
        rows = [take(self.machine, ctx.flow, first_row_facts(ctx.flow, step), actor, ctx.now) for step in steps]
        if machine.is_terminal(ctx.flow.state):
            ctx.flow.context.signals = None  # where the sign-in came from is kept no longer than the flow runs
        ctx.uow.record(*transition_events(ctx.flow, rows, user))
        if rows and rows[-1].from_state != rows[-1].to_state:
            await self._enter(ctx)
        if ctx.flow.state == machine.MANAGE:
            assert isinstance(ctx, FactorContext), "manage shows the flow's user's account"
            await account.show(self.registry, ctx)  # the account as this step left it
        if new:
            await ctx.uow.flows.add(ctx.flow)  # before its log rows, which refer to it
        else:
            await ctx.uow.flows.save(ctx.flow)
        await ctx.uow.transitions.append(rows)
        return rows

    async def _enter(self, ctx: LockedFlow) -> None:
        state = ctx.flow.state
        factor = self.registry.of_state(state)
        if factor is None:
            return
        assert isinstance(ctx, FactorContext), f"{state} is a factor's state: the flow has a user"
        if self.machine.setting_up(state) or state in self.machine.follow_up:
            await factor.enter_setup(ctx)
        else:
            await factor.enter_verify(ctx)

    def record(self, flow: Flow, rows: list[Transition], started: float) -> None:
        took = time.perf_counter() - started
        if rows:
            metrics.TRANSITION_SECONDS.observe(took)
        for row in rows:
            metrics.TRANSITIONS.labels(row.event).inc()
            # The log line's "event" is the flow event itself, so that lines read as the log does.
            log.info(
                row.event,
                kind="transition",
                flow_id=flow.id,
                seq=row.seq,
                **{"from": row.from_state, "to": row.to_state},
                actor=row.actor,
                duration_ms=round(took * 1000, 2),
            )
