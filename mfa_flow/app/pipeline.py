"""The one way a flow changes: ``Pipeline.apply`` (one event, one transaction).

lock the flow row (serialising events on one flow) -> authorise the caller's principal ->
expiry -> finished? -> version -> the user (deleted? locked out?) -> is the event allowed
here? -> decide (the event's handler: pure rules, the factor, its row locks and CAS) ->
write (the steps through the machine's table, the state entered, the log rows, the domain
events) -> commit. HTTP, WebSocket and the sweeper all come through here.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from .. import logs, metrics
from ..crypto import SecretBox
from ..domain import machine
from ..domain.access import Principal, check_access
from ..domain.errors import Conflict, DomainError, FlowEventLimit, FlowExpired, NotFound, UserLocked
from ..domain.events import transition_events
from ..domain.flow import Flow, Transition, first_row_facts, take
from ..domain.machine import Step
from ..factors.base import CodeBudget, FactorContext, JsonObject
from ..factors.registry import Registry
from ..settings import Settings
from ..store import Database
from . import account
from .handlers import Handler
from .limits import AbuseLimits
from .queries import allowed_events
from .rules import Rules

log = logs.get(__name__)


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Written:
    flow: Flow
    rows: list[Transition]


class Pipeline:
    def __init__(self, db: Database, settings: Settings, box: SecretBox, registry: Registry, rules: Rules,
                 handlers: dict[str, Handler], limits: AbuseLimits | None = None) -> None:
        self.limits = limits
        self.db = db
        self.settings = settings
        self.box = box
        self.registry = registry
        self.machine = registry.machine
        self.rules = rules
        self.handlers = handlers

    def context(self, uow: Any, flow: Flow, now: datetime, client: str | None = None) -> FactorContext:
        return FactorContext(uow, flow, None, self.settings, self.box, now, self.code_budget(uow, client))

    def code_budget(self, uow: Any, client: str | None) -> CodeBudget | None:
        """The abuse budgets a code sent in this transaction spends: the client's address (None
        for the admin key), and the destination's."""
        limits = self.limits
        if limits is None:
            return None

        async def spend(destination: str) -> None:
            await limits.code_sent(client, destination, uow=uow)

        return spend

    async def apply(self, flow_id: str, event: JsonObject, who: Principal, expected_version: int | None,
                    prepared: dict[str, Any], client: str | None = None) -> Flow:
        """Apply one client event. Raises a domain error for anything refused; a wrong proof is
        recorded (attempt counted) and committed before its error is raised. ``client`` is the
        caller's address for the abuse limits (None: not counted)."""
        started = time.perf_counter()
        async with self.db.unit_of_work() as uow:
            flow, user = await uow.flows.get_locked_with_user(flow_id)  # one round trip for both locks
            if flow is None:
                raise NotFound(f"flow {flow_id}")
            check_access(who, flow, drive=True)
            now = utcnow()
            ctx = self.context(uow, flow, now, client)
            if flow.is_overdue(now):
                rows = await self.write(ctx, [Step("expire", "always", machine.EXPIRED)], "system")
                await uow.commit()
                self.record(flow, rows, started)
                raise self.finished(flow)
            if machine.is_terminal(flow.state):
                raise self.finished(flow)
            if expected_version is not None and expected_version != flow.version:
                raise Conflict(
                    f"the flow is at version {flow.version}, not {expected_version}; read it again and retry",
                    kind="version-mismatch",
                    version=flow.version,
                )
            if flow.user_id and user is None:
                # The user was deleted mid-sign-in: nothing can be proved for them any more.
                step = Step("cancel", "always", machine.CANCELLED, {"reason": "user_deleted"})
                rows = await self.write(ctx, [step], "system")
                await uow.commit()
                self.record(flow, rows, started)
                raise Conflict("the user of this flow was deleted; the sign-in is cancelled", kind="flow-finished",
                               state=flow.state)
            if user is not None and user.locked_at(now):
                raise UserLocked(user.retry_after(now))
            kind = event["type"]
            allowed = allowed_events(self.machine, self.settings, flow)
            if kind not in allowed:
                raise Conflict(f"{kind} is not allowed in state {flow.state}; allowed: {', '.join(allowed)}",
                               kind="event-not-allowed", state=flow.state)
            if 0 < self.settings.max_events_per_flow <= flow.version:  # a transition per event and step
                raise FlowEventLimit(self.settings.max_events_per_flow)
            ctx.user = user
            decision = await self.handlers[kind](self.rules, ctx, event, prepared)
            rows = await self.write(ctx, decision.steps, who.actor)
            await uow.commit()
        self.record(flow, rows, started)
        if decision.error is not None:
            raise decision.error
        return flow

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

    async def delivery_settled(self, uow: Any, flow: Flow | None, delivery_id: str,
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

    async def write(self, ctx: FactorContext, steps: list[Step], actor: str, new: bool = False) -> list[Transition]:
        """Run the steps through the machine, prepare the state the flow lands in, and write the
        flow, its log rows and its domain events (outbox rows at commit). A ``new`` flow's row
        is inserted as these steps leave it (one statement, rather than an insert and an update)."""
        rows = [take(self.machine, ctx.flow, first_row_facts(ctx.flow, step), actor, ctx.now) for step in steps]
        ctx.uow.record(*transition_events(ctx.flow, rows, ctx.user))
        if rows and rows[-1].from_state != rows[-1].to_state:
            await self._enter(ctx)
        if ctx.flow.state == machine.MANAGE:
            await account.show(self.rules, ctx)  # the account as this step left it
        if new:
            await ctx.uow.flows.add(ctx.flow)  # before its log rows, which refer to it
        else:
            await ctx.uow.flows.save(ctx.flow)
        await ctx.uow.transitions.append(rows)
        return rows

    async def _enter(self, ctx: FactorContext) -> None:
        state = ctx.flow.state
        factor = self.registry.of_state(state)
        if factor is None:
            return
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
