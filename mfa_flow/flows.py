"""Applying events to flows: one event, one transaction.

``FlowService.apply`` is the only way a flow changes. It locks the flow row (serialising
events on one flow), checks version, expiry and lockout, lets the pure rules and the
factor decide the steps, runs them through the machine's table, and writes the flow, its
log rows and the one-time proofs it spent in one transaction. HTTP, WebSocket and the
sweeper all call it.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Awaitable, Callable

from . import logs, machine, metrics, passwords, policy, webhooks
from .config import Settings
from .crypto import SecretBox, new_token, token_digest
from .domain import Flow, Transition, canonical_json, iso, take
from .factors import FactorContext, FlowView, Proof, registry
from .keyring import Keyring
from .machine import Step
from .problems import Problem, conflict, not_found, unprocessable
from .store import Database
from .store.users import User, UsernameTaken

log = logs.get("mfa_flow.flows")


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def config_digest(config: policy.MfaConfig) -> str:
    """A short digest of the MFA configuration a decision was taken under (for the log)."""
    return hashlib.sha256(canonical_json({"factors": list(config.factors), "policy": config.policy})).hexdigest()[:16]


def locked_problem(user: User, now: datetime) -> Problem:
    seconds = max(1, int((user.locked_until - now).total_seconds() + 0.999))
    return Problem(
        429,
        "user-locked",
        "Too many failed attempts",
        f"too many failed attempts for this user; try again in {seconds} seconds",
        headers={"Retry-After": str(seconds)},
        retry_after=seconds,
    )


@dataclass
class Decision:
    """What an event handler decided: the steps to take and, maybe, a problem to answer."""

    steps: list[Step] = field(default_factory=list)
    problem: Problem | None = None


@dataclass(frozen=True)
class PasswordCheck:
    """A password verified before the event's transaction, against this stored hash."""

    password_hash: str | None
    ok: bool


class FlowService:
    def __init__(self, db: Database, settings: Settings, box: SecretBox):
        self.db = db
        self.settings = settings
        self.box = box
        self.factors = registry()
        self.keyring = Keyring(settings, box)
        self._handlers: dict[str, Callable[[FactorContext, dict], Awaitable[Decision]]] = {
            "submit_password": self._submit_password,
            "submit_registration": self._submit_registration,
            "select_factor": self._select_factor,
            "submit_totp": self._submit_proof,
            "submit_webauthn": self._submit_proof,
            "submit_backup_code": self._submit_proof,
            "acknowledge_backup_codes": self._acknowledge_backup_codes,
            "skip": self._skip,
            "switch_factor": self._switch_factor,
            "cancel": self._cancel,
        }

    # --- Reading -------------------------------------------------------------------------

    def allowed_events(self, flow: Flow) -> list[str]:
        allowed = machine.events_from(flow.state) - set(machine.SYSTEM_EVENTS)
        if not self.settings.sign_up:
            allowed.discard("submit_registration")
        if not (flow.mode == "setup" and flow.context.get("skippable")):
            allowed.discard("skip")
        if not policy.can_switch(flow.choices):
            allowed.discard("switch_factor")
        return [e for e in machine.CLIENT_EVENTS if e in allowed]

    def view(self, flow: Flow, owner: bool, auditor: bool = False) -> dict[str, Any]:
        """The Flow resource (schemas/flow.schema.json). Set-up secrets only for the flow's
        owner; the result token (a bearer credential) not for the read-only auditor."""
        factor_name = "backup_code" if flow.state == machine.BACKUP_CODES else flow.factor
        factor = self.factors.get(factor_name) if factor_name else None
        challenge = factor.challenge(FlowView(flow, self.settings, self.box, owner)) if factor else None
        terminal = machine.is_terminal(flow.state)
        return {
            "id": flow.id,
            "state": flow.state,
            "version": flow.version,
            "mode": flow.mode,
            "user_id": flow.user_id,
            "expires_at": iso(flow.expires_at),
            "allowed_events": self.allowed_events(flow),
            "factors": [] if terminal else list(flow.choices),
            "preferred_factor": None if terminal else flow.context.get("preferred"),
            "attempts_left": flow.attempts_left,
            "challenge": challenge,
            "result": {k: v for k, v in flow.result.items() if k != "token"} if auditor and flow.result else flow.result,
            "created_at": iso(flow.created_at),
            "updated_at": iso(flow.updated_at),
        }

    async def get(self, flow_id: str) -> Flow:
        """Read a flow; an overdue one is expired on the spot, so reads never show a stale state."""
        async with self.db.unit_of_work() as uow:
            flow = await uow.flows.get(flow_id)
        if flow is None:
            raise not_found(f"flow {flow_id}")
        if flow.is_overdue(utcnow()):
            flow = await self.expire(flow_id) or flow
        return flow

    # --- Creating --------------------------------------------------------------------------

    async def create(self, user_spec: dict | None, actor: str) -> tuple[Flow, str]:
        """A new flow in ``first_factor``; with ``user_spec`` (admin only) the first factor is
        asserted by the embedding backend and the flow starts after it."""
        now = utcnow()
        token = new_token("ft")
        flow = Flow(
            id=str(uuid.uuid4()),
            state=machine.FIRST_FACTOR,
            version=0,
            mode=None,
            user_id=None,
            expires_at=now + timedelta(seconds=self.settings.flow_ttl),
            attempts_left=self.settings.max_attempts,
            context={},
            result=None,
            chain_head="",
            created_at=now,
            updated_at=now,
            token_digest=token_digest(token),
        )
        started = time.perf_counter()
        async with self.db.unit_of_work() as uow:
            await uow.flows.add(flow)
            await uow.outbox.add([webhooks.flow_created(flow)])
            rows: list[Transition] = []
            if user_spec is not None:
                username = user_spec.get("username") or user_spec["id"]
                try:
                    user = await uow.users.get_or_add(user_spec["id"], username)
                except UsernameTaken:
                    raise conflict(f"the username {username!r} belongs to another user") from None
                if user.locked_at(now):
                    raise locked_problem(user, now)
                ctx = FactorContext(uow, flow, user, self.settings, self.box, now)
                flow.user_id = user.id
                flow.context["username"] = user.username
                flow.context["amr"] = []
                decision = await self._after_first_factor(ctx, "first_factor_asserted", "asserted_by_backend")
                rows = await self._take(ctx, decision.steps, actor)
            await uow.flows.save(flow)
            await uow.commit()
        self._record(flow, rows, started)
        return flow, token

    # --- Applying events --------------------------------------------------------------------

    async def apply(
        self,
        flow_id: str,
        event: dict,
        actor: str,
        expected_version: int | None = None,
        authorize: Callable[[Flow], None] | None = None,
    ) -> Flow:
        """Apply one client event. Raises a Problem for anything refused; a wrong proof is
        recorded (attempt counted) and committed before its problem is raised. ``authorize``
        sees the locked flow first and raises to refuse the caller (no second read needed)."""
        prepared = await self._prepare(event)
        started = time.perf_counter()
        async with self.db.unit_of_work() as uow:
            flow = await uow.flows.get(flow_id, lock=True)
            if flow is None:
                raise not_found(f"flow {flow_id}")
            if authorize is not None:
                authorize(flow)
            now = utcnow()
            if flow.is_overdue(now):
                rows = await self._take(FactorContext(uow, flow, None, self.settings, self.box, now),
                                        [Step("expire", "always", machine.EXPIRED)], "system")
                await uow.flows.save(flow)
                await uow.commit()
                self._record(flow, rows, started)
                raise self._finished_problem(flow)
            if machine.is_terminal(flow.state):
                raise self._finished_problem(flow)
            if expected_version is not None and expected_version != flow.version:
                raise conflict(
                    f"the flow is at version {flow.version}, not {expected_version}; read it again and retry",
                    slug="version-mismatch",
                    version=flow.version,
                )
            user = await uow.users.get(flow.user_id, lock=True) if flow.user_id else None
            if flow.user_id and user is None:
                # The user was deleted mid-sign-in: nothing can be proved for them any more.
                ctx = FactorContext(uow, flow, None, self.settings, self.box, now)
                rows = await self._take(ctx, [Step("cancel", "always", machine.CANCELLED, {"reason": "user_deleted"})],
                                        "system")
                await uow.flows.save(flow)
                await uow.commit()
                self._record(flow, rows, started)
                raise conflict("the user of this flow was deleted; the sign-in is cancelled", slug="flow-finished",
                               state=flow.state)
            if user is not None and user.locked_at(now):
                raise locked_problem(user, now)
            kind = event["type"]
            if kind not in self.allowed_events(flow):
                raise conflict(
                    f"{kind} is not allowed in state {flow.state}; allowed: {', '.join(self.allowed_events(flow))}",
                    slug="event-not-allowed",
                    state=flow.state,
                )
            ctx = FactorContext(uow, flow, user, self.settings, self.box, now)
            decision = await self._handlers[kind](ctx, event, **prepared)
            rows = await self._take(ctx, decision.steps, "admin" if actor == "admin" else "user")
            await uow.flows.save(flow)
            await uow.commit()
        self._record(flow, rows, started)
        if decision.problem is not None:
            raise decision.problem
        return flow

    async def expire(self, flow_id: str) -> Flow | None:
        """The ``expire`` system event, if the flow is still active and overdue."""
        started = time.perf_counter()
        async with self.db.unit_of_work() as uow:
            flow = await uow.flows.get(flow_id, lock=True)
            now = utcnow()
            if flow is None or not flow.is_overdue(now):
                return flow
            ctx = FactorContext(uow, flow, None, self.settings, self.box, now)
            rows = await self._take(ctx, [Step("expire", "always", machine.EXPIRED)], "system")
            await uow.flows.save(flow)
            await uow.commit()
        self._record(flow, rows, started)
        return flow

    async def expire_overdue(self, batch: int = 100) -> int:
        """The sweep (``serve`` and ``worker`` both run it): expire every overdue active flow,
        a batch at a time, and count it. Returns how many it expired."""
        total = 0
        while True:
            async with self.db.unit_of_work() as uow:
                overdue = await uow.flows.overdue(utcnow(), batch)
            for flow_id in overdue:
                await self.expire(flow_id)
            total += len(overdue)
            if len(overdue) < batch:
                break
        if total:
            metrics.FLOWS_EXPIRED_BY_SWEEP.inc(total)
            log.info("expiry sweep", expired=total)
        return total

    def _finished_problem(self, flow: Flow) -> Problem:
        if flow.state == machine.EXPIRED:
            return Problem(410, "flow-expired", "Flow expired", "the flow expired; start a new sign-in")
        return conflict(
            f"the flow is finished (state {flow.state}); start a new sign-in", slug="flow-finished", state=flow.state
        )

    # --- Taking steps -----------------------------------------------------------------------

    async def _take(self, ctx: FactorContext, steps: list[Step], actor: str) -> list[Transition]:
        """Run the steps through the machine and prepare the state the flow lands in."""
        rows = []
        for step in steps:
            rows.append(take(ctx.flow, step, actor, ctx.now))
        if rows and rows[-1].from_state != rows[-1].to_state:
            await self._enter(ctx)
        await ctx.uow.transitions.append(rows)
        await ctx.uow.outbox.add(webhooks.flow_messages(ctx.flow, rows, ctx.user))
        return rows

    async def _enter(self, ctx: FactorContext) -> None:
        state = ctx.flow.state
        if state == machine.BACKUP_CODES:
            await self.factors["backup_code"].enter_setup(ctx)
        elif state in machine.SETUP_STATE.values():
            await self.factors[ctx.flow.factor].enter_setup(ctx)
        elif state in machine.VERIFY_STATE.values():
            await self.factors[ctx.flow.factor].enter_verify(ctx)

    def _record(self, flow: Flow, rows: list[Transition], started: float) -> None:
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

    # --- Rules shared by several events ---------------------------------------------------

    async def _user_factors(self, ctx: FactorContext) -> policy.UserFactors:
        verifications = await ctx.uow.verifications.for_user(ctx.user.id)
        return policy.UserFactors(
            enrolled=frozenset(v.type for v in verifications if v.type in machine.PRIMARY_FACTORS),
            has_unused_backup_codes=any(v.type == "backup_code" and v.remaining for v in verifications),
            prompted=ctx.user.prompted,
            last_used=ctx.user.last_used_factor,
        )

    async def _after_first_factor(self, ctx: FactorContext, event: str, guard: str) -> Decision:
        config = await ctx.uow.config.get()
        route = policy.after_first_factor(config, await self._user_factors(ctx))
        ctx.flow.mode = route.mode
        ctx.flow.context.update(choices=list(route.choices), skippable=route.skippable, preferred=route.preferred)
        step = Step(event, guard, route.to_state, {"rule": route.rule, "policy": config_digest(config)})
        if route.to_state == machine.DONE:
            await self._complete(ctx, factor=None)
        return Decision([step])

    async def _complete(self, ctx: FactorContext, factor: str | None) -> None:
        """The flow reaches ``done``: reset the user's failure count, record the result."""
        last_used = factor if factor in machine.PRIMARY_FACTORS else None
        await ctx.uow.users.record_success(ctx.user.id, last_used)
        amr = list(ctx.flow.context.get("amr", []))
        if factor is not None and self.factors[factor].amr not in amr:
            amr.append(self.factors[factor].amr)
        if len(amr) > 1 and "mfa" not in amr:
            amr.append("mfa")
        ctx.flow.context["amr"] = amr
        # The signed result lives on the flow row only, never in the transition log.
        token = await self.keyring.result_token(ctx.uow, ctx.flow.id, ctx.user.id, amr, ctx.now)
        ctx.flow.result = {"amr": amr, "token": token}

    async def _wrong(self, ctx: FactorContext, step: Step, detail: str) -> Decision:
        """A wrong proof: counted against the flow and the user, then maybe the end of the flow."""
        ctx.flow.attempts_left = max(0, ctx.flow.attempts_left - 1)
        steps = [step]
        user_locked = False
        if ctx.user is not None:
            user_locked = await ctx.uow.users.record_failure(
                ctx.user, self.settings.lockout_threshold, timedelta(seconds=self.settings.lockout_seconds), ctx.now
            )
        if user_locked or ctx.flow.attempts_left == 0:
            reason = "user_locked" if user_locked else "attempts_exhausted"
            steps.append(Step("lock", "attempts_exhausted", machine.FAILED, {"reason": reason}))
            detail += "; no attempts left, the sign-in failed" if not user_locked else (
                f"; too many failures, the user is locked for {self.settings.lockout_seconds} seconds"
            )
        problem = Problem(
            422, "wrong-proof", "Wrong proof", detail, attempts_left=ctx.flow.attempts_left, state=steps[-1].to_state
        )
        return Decision(steps, problem)

    # --- Event handlers (one per client event) ----------------------------------------------

    async def _prepare(self, event: dict) -> dict[str, Any]:
        """Password work, done before the event's transaction: argon2 costs tens of
        milliseconds of CPU, and no row lock or pooled connection should wait on it."""
        if event["type"] == "submit_registration":
            return {"password_hash": await passwords.hash_password(event["password"])}
        if event["type"] != "submit_password":
            return {}
        async with self.db.unit_of_work() as uow:
            user = await uow.users.by_username(event["username"])
        if user is not None and user.locked_at(utcnow()):
            return {"checked": PasswordCheck(None, False)}  # locked: no guess is even tried
        stored = user.password_hash if user else None
        return {"checked": PasswordCheck(stored, await passwords.verify(stored, event["password"]))}

    async def _submit_password(self, ctx: FactorContext, event: dict, checked: "PasswordCheck") -> Decision:
        user = await ctx.uow.users.by_username(event["username"], lock=True)
        if user is not None and user.locked_at(ctx.now):
            # Locked: 429 whatever the password, so that guessing on goes nowhere.
            raise locked_problem(user, ctx.now)
        stored = user.password_hash if user else None
        ok = checked.ok if checked.password_hash == stored else await passwords.verify(stored, event["password"])
        if not ok:
            ctx.user = user
            step = Step("submit_password", "credentials_wrong", machine.FIRST_FACTOR)
            return await self._wrong(ctx, step, "the username or password is wrong")
        return await self._first_factor_passed(ctx, user, "submit_password", "credentials_ok", ["pwd"])

    async def _submit_registration(self, ctx: FactorContext, event: dict, password_hash: str) -> Decision:
        try:
            user = await ctx.uow.users.add(str(uuid.uuid4()), event["username"], password_hash)
        except UsernameTaken:
            raise conflict(f"the username {event['username']!r} is taken; choose another", slug="username-taken")
        return await self._first_factor_passed(ctx, user, "submit_registration", "registered", ["pwd"])

    async def _first_factor_passed(self, ctx, user: User, event: str, guard: str, amr: list[str]) -> Decision:
        ctx.user = user
        ctx.flow.user_id = user.id
        ctx.flow.context["username"] = user.username
        ctx.flow.context["amr"] = amr
        return await self._after_first_factor(ctx, event, guard)

    async def _select_factor(self, ctx: FactorContext, event: dict) -> Decision:
        factor = event["factor"]
        if factor not in ctx.flow.choices:
            raise unprocessable(
                f"factor {factor!r} is not offered in this flow; choose one of: {', '.join(ctx.flow.choices)}"
            )
        ctx.flow.context["preferred"] = factor
        to_state = policy.after_selection(ctx.flow.mode, factor)
        return Decision([Step("select_factor", "factor_offered", to_state, {"factor": factor})])

    async def _submit_proof(self, ctx: FactorContext, event: dict) -> Decision:
        factor_name = ctx.flow.factor
        factor = self.factors[factor_name]
        setting_up = ctx.flow.state in machine.SETUP_STATE.values()
        proof: Proof = await (factor.finish_setup(ctx, event) if setting_up else factor.finish_verify(ctx, event))
        if not proof.ok:
            step = Step(event["type"], "proof_wrong", ctx.flow.state, {"factor": factor_name, **proof.facts})
            return await self._wrong(ctx, step, proof.reason)
        if not setting_up:
            await self._complete(ctx, factor_name)
            rule = {"rule": "done.verified", "factor": factor_name}
            return Decision([Step(event["type"], "proof_ok", machine.DONE, {**rule, **proof.facts})])
        # A primary factor was set up: the set-up prompt has happened, the factor is the
        # user's last-used, and backup codes may follow (rule 2).
        await ctx.uow.users.mark_prompted(ctx.user.id)
        config = await ctx.uow.config.get()
        has_codes = await self._user_factors(ctx)
        route = policy.after_setup(config, has_codes.has_unused_backup_codes)
        amr = ctx.flow.context.setdefault("amr", [])
        if factor.amr not in amr:
            amr.append(factor.amr)
        if route.to_state == machine.DONE:
            await self._complete(ctx, factor_name)
        else:
            await ctx.uow.users.set_last_used(ctx.user.id, factor_name)
        data = {"rule": route.rule, "factor": factor_name, "enrolled": True, **proof.facts}
        return Decision([Step(event["type"], "proof_ok", route.to_state, data)])

    async def _acknowledge_backup_codes(self, ctx: FactorContext, event: dict) -> Decision:
        proof = await self.factors["backup_code"].finish_setup(ctx, event)
        await self._complete(ctx, None)
        data = {"rule": "done.backup_codes_saved", **proof.facts}
        return Decision([Step("acknowledge_backup_codes", "always", machine.DONE, data)])

    async def _skip(self, ctx: FactorContext, event: dict) -> Decision:
        await ctx.uow.users.mark_prompted(ctx.user.id)
        await self._complete(ctx, None)
        return Decision([Step("skip", "setup_skippable", machine.DONE, {"rule": "done.setup_skipped"})])

    async def _switch_factor(self, ctx: FactorContext, event: dict) -> Decision:
        data = {"from_factor": ctx.flow.factor}
        return Decision([Step("switch_factor", "other_factor_available", machine.FACTOR_SELECTION, data)])

    async def _cancel(self, ctx: FactorContext, event: dict) -> Decision:
        return Decision([Step("cancel", "always", machine.CANCELLED)])
