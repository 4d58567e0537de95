"""Sign-in flows: start one, read one, apply an event to one, expire the overdue.

Every change goes through ``Pipeline`` (one event, one transaction); this service adds the
work done outside the transaction (argon2, before any row lock) and the reads. It builds none
of its parts: ``bootstrap.flow_service`` does.
"""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any, Awaitable, Callable

import structlog

from .. import logs, metrics
from ..crypto import SecretBox, new_token, token_digest
from ..domain import machine, policy
from ..domain.access import Principal, check_access
from ..domain.adaptive import Signals
from ..domain.errors import Conflict, NotFound, Unauthenticated, UserLocked
from ..domain.events import FlowCreated
from ..domain.flow import Flow, FlowContext, Transition, canonical_flow_id, new_flow_id
from ..domain.users import User
from ..factors.base import FactorContext, JsonObject
from ..factors.registry import Registry
from ..keyring import Keyring
from ..passwords import Checked, HashingPool
from ..settings import Settings
from ..store import Database, UnitOfWork
from ..store.errors import UsernameTaken
from ..tokens import TokenRefused, proves_mfa
from .codes import CodeDeliveries
from .commands import ClientEvent, PasswordCheck, PasswordHashed
from .outcomes import Outcomes, keep_signals, mfa_config
from .pipeline import Pipeline, utcnow
from .queries import allowed_events, flow_view
from .sign_ins import SignInHistory
from .signals import SignalSources

log = logs.get(__name__)

# Events that carry a password: argon2 runs for them, so they are checked before it does.
PASSWORD_EVENTS = ("submit_password", "submit_registration")


class FlowService:
    def __init__(self, db: Database, settings: Settings, box: SecretBox, registry: Registry, keyring: Keyring, *,
                 outcomes: Outcomes, hashing: HashingPool, pipeline: Pipeline, codes: CodeDeliveries,
                 signals: SignalSources, history: SignInHistory) -> None:
        self.db = db
        self.settings = settings
        self.box = box
        self.factors = registry
        self.machine = registry.machine
        self.keyring = keyring
        self.outcomes = outcomes
        self.hashing = hashing
        self.pipeline = pipeline
        self.codes = codes
        self.signals = signals
        self.history = history

    # --- Reading -------------------------------------------------------------------------

    def allowed_events(self, flow: Flow) -> list[str]:
        return allowed_events(self.machine, self.settings, flow)

    def view(self, flow: Flow, owner: bool, auditor: bool = False, masked: bool = False) -> dict[str, Any]:
        return flow_view(self.factors, self.settings, self.box, flow, owner, auditor, masked)

    async def get(self, flow_id: str) -> Flow:
        """Read a flow; an overdue one is expired on the spot, so reads never show a stale state."""
        async with self.db.unit_of_work() as uow:
            flow = await uow.flows.get(flow_id)
        if flow is None:
            raise NotFound(f"flow {flow_id}")
        if flow.is_overdue(utcnow()):
            flow = await self.expire(flow_id) or flow
        return flow

    async def recent(self, limit: int, before: str | None = None, state: str | None = None,
                     user_id: str | None = None) -> list[Flow]:
        """Flows newest first (the console's list), a page of ``limit`` after the flow ``before``."""
        async with self.db.unit_of_work() as uow:
            return await uow.flows.recent(limit, before, state, user_id)

    async def many(self, flow_ids: list[str]) -> list[Flow]:
        """The flows with these ids (those that exist), newest first."""
        checked = [i for i in (canonical_flow_id(f) for f in flow_ids) if i is not None]
        async with self.db.unit_of_work() as uow:
            return await uow.flows.many(checked)

    # --- Creating --------------------------------------------------------------------------

    def _new_flow(self, now: datetime, token: str, purpose: str = policy.SIGN_IN, step_up: bool = False) -> Flow:
        return Flow(
            id=new_flow_id(now),
            state=machine.FIRST_FACTOR,
            version=0,
            mode=None,
            user_id=None,
            expires_at=now + timedelta(seconds=self.settings.flow_ttl),
            attempts_left=self.settings.max_attempts,
            context=FlowContext(purpose=purpose, step_up=step_up),
            result=None,
            chain_head="",
            created_at=now,
            updated_at=now,
            token_digest=token_digest(token),
        )

    @staticmethod
    async def _asserted_user(uow: UnitOfWork, user_spec: JsonObject, now: datetime) -> User:
        """The user an embedding backend vouches for (created if new), locked; not a locked-out one."""
        username = user_spec.get("username") or user_spec["id"]
        try:
            user = await uow.users.get_or_add(user_spec["id"], username)
        except UsernameTaken:
            raise Conflict(f"the username {username!r} belongs to another user", field="user.username") from None
        if user.locked_at(now):
            raise UserLocked(user.retry_after(now))
        return user

    async def create(self, user_spec: JsonObject | None, who: Principal, device_token: str | None = None,
                     require_mfa: bool = False, *, oidc: JsonObject | None = None, locale: str | None = None,
                     also: Callable[[UnitOfWork, Flow], Awaitable[None]] | None = None,
                     signals: Signals | None = None, device_id: str | None = None) -> tuple[Flow, str]:
        """A new flow in ``first_factor``; with ``user_spec`` (admin only) the first factor is
        asserted by the embedding backend and the flow starts after it, with the user's
        ``device_token`` if the backend has one (a trusted device may stand in for verification).
        ``require_mfa`` makes it a step-up: a second factor now, whatever the policy, the
        user's opt-out or a trusted device. ``oidc``: the OpenID Connect request that started
        it (its first transition records it); ``locale``: the language of the page that asked
        for it (its codes are written in it when the user has none of their own); ``also``
        writes what goes with the new flow in the same transaction (the authorization).
        ``signals``: what the embedding backend asserts of where the sign-in comes from
        (``context``); ``device_id``: the page's id of its browser, kept (sealed) for the first factor."""
        now = utcnow()
        token = new_token("ft")
        flow = self._new_flow(now, token, step_up=require_mfa)
        flow.context.oidc = oidc
        flow.context.locale = locale
        if device_id is not None:
            keep_signals(self.box, flow, Signals(device_id=device_id))
        started = time.perf_counter()
        async with self.db.unit_of_work() as uow:
            uow.record(FlowCreated(flow.id, flow.state, flow.expires_at, flow.created_at))
            rows: list[Transition] = []
            if user_spec is not None:
                user = await self._asserted_user(uow, user_spec, now)
                ctx = self._started(uow, flow, user, now, client=None)  # the admin key: only the destination's budget
                ctx.signals = signals
                if require_mfa and not (await mfa_config(ctx, self.machine)).primary:
                    raise Conflict("require_mfa: no primary factor is enabled, so no second factor can be proven;"
                                   " enable one with PUT /api/config/mfa", kind="mfa-unavailable")
                decision = await self.outcomes.after_first_factor(ctx, "first_factor_asserted", "asserted_by_backend",
                                                               device_token)
                rows = await self.pipeline.write(ctx, decision.steps, who.role or "user", new=True)
            else:
                await self._offer_passkey_sign_in(uow, flow, now)
                await uow.flows.add(flow)
            if also is not None:
                await also(uow, flow)
            await uow.commit()
        return await self._created(flow, rows, started, who, asserted=user_spec is not None), token

    async def sign_in_options(self) -> dict[str, Any]:
        """What a sign-in page may offer before a flow exists (``GET /api/sign-in-options``)."""
        async with self.db.unit_of_work(readonly=True) as uow:
            setting = await uow.passkey_sign_in.get()
        return {"passkey_sign_in": setting.enabled, "sign_up": self.settings.sign_up}

    async def _offer_passkey_sign_in(self, uow: UnitOfWork, flow: Flow, now: datetime) -> None:
        """With passkey sign-in on, a new sign-in flow's first factor offers a passkey too."""
        setting = await uow.passkey_sign_in.get()
        if not setting.enabled:
            return
        for name in self.machine.sign_in_events.values():
            self.factors[name].offer_sign_in(self.pipeline.context(uow, flow, now), setting)

    async def create_account_flow(self, who: Principal, *, user_spec: JsonObject | None = None,
                                  subject_token: str | None = None, client: str | None = None,
                                  locale: str | None = None) -> tuple[Flow, str]:
        """An account flow (``purpose: manage``) for the user of a recent result token
        (``subject_token``), or for the user an embedding backend vouches for (``user_spec``,
        admin only). It starts after its first factor: in a step-up verification when the user
        has factors and the token did not prove MFA, else in ``manage``. ``client`` is the
        caller's address, whose budget a code sent for the step-up spends (None: the admin key);
        ``locale`` as for ``create``."""
        now = utcnow()
        token = new_token("ft")
        flow = self._new_flow(now, token, policy.MANAGE)
        flow.context.locale = locale
        started = time.perf_counter()
        async with self.db.unit_of_work() as uow:
            uow.record(FlowCreated(flow.id, flow.state, flow.expires_at, flow.created_at))
            if subject_token is not None:
                claims = await self._subject(uow, subject_token, now)
                user = await uow.users.get(claims["sub"], lock=True)
                if user is None:
                    raise Unauthenticated("the user of the subject token no longer exists",
                                          kind="invalid-subject-token")
                if user.locked_at(now):
                    raise UserLocked(user.retry_after(now))
                ctx = self._started(uow, flow, user, now, client)
                decision = await self.outcomes.after_first_factor(
                    ctx, "subject_token_presented", "recent_sign_in", mfa_proven=proves_mfa(claims),
                    facts={"subject_flow": str(claims.get("sid"))},
                )
            else:
                assert user_spec is not None, "an account flow needs a subject token or a user"
                ctx = self._started(uow, flow, await self._asserted_user(uow, user_spec, now), now, client)
                decision = await self.outcomes.after_first_factor(ctx, "first_factor_asserted", "asserted_by_backend")
            rows = await self.pipeline.write(ctx, decision.steps, who.role or "user", new=True)
            await uow.commit()
        return await self._created(flow, rows, started, who, asserted=user_spec is not None), token

    async def _subject(self, uow: UnitOfWork, subject_token: str, now: datetime) -> dict[str, Any]:
        max_age = self.settings.manage_max_age
        try:
            return await self.keyring.subject_claims(uow, subject_token, now, max_age)
        except TokenRefused as refused:
            kind = "subject-token-too-old" if refused.too_old else "invalid-subject-token"
            raise Unauthenticated(f"{refused}; sign in again to manage your account (a result token starts an"
                                  f" account flow within {max_age} seconds of its sign-in)", kind=kind) from None

    def _started(self, uow: UnitOfWork, flow: Flow, user: User, now: datetime, client: str | None) -> FactorContext:
        """The new flow's first factor holds for ``user``: the context its first step runs in."""
        return Outcomes.signed_in(self.pipeline.context(uow, flow, now, client), user, [])

    async def _created(self, flow: Flow, rows: list[Transition], started: float, who: Principal,
                       asserted: bool) -> Flow:
        """After the creating commit: the metrics and log line, and a code the first step queued
        goes out; the flow as that left it."""
        self.pipeline.record(flow, rows, started)
        flow = await self._deliver(flow)
        structlog.contextvars.bind_contextvars(flow_id=flow.id)  # the rest of this request's lines
        log.info("flow created", flow_id=flow.id, by=who.role or "anyone", asserted=asserted,
                 purpose=flow.context.purpose, step_up=flow.context.step_up)
        return flow

    # --- Applying events --------------------------------------------------------------------

    async def apply(self, flow_id: str, event: JsonObject, who: Principal,
                    expected_version: int | None = None, client: str | None = None,
                    signals: Signals | None = None) -> Flow:
        """Apply one client event (the body, ``type`` included) for ``who``; ``client`` is the
        caller's address for the abuse limits (None: not counted, as for the admin key);
        ``signals``: where the request comes from (``SignalSources.of_request``)."""
        return await self.handle(ClientEvent(flow_id, event["type"], event, who, expected_version, client, signals))

    async def handle(self, cmd: ClientEvent) -> Flow:
        """The use case of a client event: the password work first (outside any transaction),
        then ``Pipeline.apply`` (one transaction), then what it queued for sending."""
        flow = await self.pipeline.apply(replace(cmd, password=await self._prepare(cmd)))
        return await self._deliver(flow)

    async def _deliver(self, flow: Flow) -> Flow:
        """What the event queued for sending goes now, after its commit (``app/codes.py``);
        the flow as the outcome left it."""
        factor = self.factors.of_state(flow.state)
        if factor is None or not factor.awaits_delivery(flow):
            return flow
        _, moved = await self.codes.send_queued(flow.id)
        return moved or flow

    async def _prepare(self, cmd: ClientEvent) -> PasswordCheck | PasswordHashed | None:
        """Password work, done before the event's transaction but only for a caller who may
        drive this flow now: a short read (no lock) finds the flow, checks the caller's access
        and that the event is allowed; only then does argon2 run, on the bounded hashing pool.
        argon2 costs ~100 ms of CPU, and no row lock or pooled connection should wait on it,
        so the transaction that follows checks everything again under its lock (should the
        flow have moved in between, the handlers hash inside it instead: a rare race)."""
        if cmd.type not in PASSWORD_EVENTS:
            return None
        async with self.db.unit_of_work(readonly=True) as uow:
            flow = await uow.flows.get(cmd.flow_id)
            if flow is None:
                raise NotFound(f"flow {cmd.flow_id}")
            check_access(cmd.principal, flow, drive=True)
            if flow.is_overdue(utcnow()) or cmd.type not in self.allowed_events(flow):
                return None  # the transaction gives the precise refusal, with no hashing at all
            user = await uow.users.by_username(cmd.payload["username"]) if cmd.type == "submit_password" else None
        if cmd.type == "submit_registration":
            return PasswordHashed(await self.hashing.hash(cmd.payload["password"]))
        if user is not None and user.locked_at(utcnow()):
            return PasswordCheck(None, Checked(False))  # locked: no guess is even tried
        stored = user.password_hash if user else None
        checked = await self.hashing.check(user.password_algorithm if user else None, stored,
                                           cmd.payload["password"])
        return PasswordCheck(stored, checked)

    async def expire(self, flow_id: str) -> Flow | None:
        return await self.pipeline.expire(flow_id)

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

    async def transitions(self, flow_id: str) -> list[dict[str, Any]]:
        """A flow's log rows, oldest first."""
        async with self.db.unit_of_work() as uow:
            flow = await uow.flows.get(flow_id)
            if flow is None:
                raise NotFound(f"flow {flow_id}")
            rows: list[dict[str, Any]] = await uow.transitions.of_flow(flow_id)
        return rows
