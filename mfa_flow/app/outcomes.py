"""What outcomes of events do beyond the flow's own row, in one place: the rules after the first
factor (rule 1), completing a sign-in (the user's success, the sign-in history, the signed
result token, a remembered device), entering ``manage``, and counting a wrong proof against
the flow and the user. Runs inside the event's transaction; the handlers decide which outcome,
``Outcomes`` writes it."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from datetime import timedelta

from ..crypto import SecretBox
from ..domain import adaptive, devices, machine, policy
from ..domain.errors import WrongProof
from ..domain.flow import Flow, canonical_json
from ..domain.machine import FlowMachine, Step
from ..domain.users import User
from ..factors.base import FactorContext, LockedFlow
from ..factors.registry import Registry
from ..keyring import Keyring
from ..settings import Settings
from ..tokens import TRUSTED_DEVICE, acr_for
from . import devices as trusted_devices
from .commands import Decision


def config_digest(config: policy.MfaConfig) -> str:
    """A short digest of the MFA configuration a decision was taken under (for the log)."""
    described: dict[str, object] = {"factors": list(config.factors), "policy": config.policy}
    if config.trusted_devices.enabled:  # so that digests of configurations without it stay as they were
        described["trusted_devices"] = config.trusted_devices.to_json()
    if config.adaptive.enabled:  # likewise: configurations without adaptive MFA keep their digests
        described["adaptive"] = config.adaptive.to_json()
    return hashlib.sha256(canonical_json(described)).hexdigest()[:16]


def keep_signals(box: SecretBox, flow: Flow, signals: adaptive.Signals) -> None:
    """Keep a sign-in's signals on its flow, sealed, until it ends (all but the address)."""
    kept = signals.to_json()
    flow.context.signals = box.seal(canonical_json(kept).decode()) if kept else None


async def mfa_config(ctx: LockedFlow, machine: FlowMachine, *, share: bool = False) -> policy.MfaConfig:
    """The configuration in the event's transaction (``share``: locked against a change until
    it commits, for what is written under it, such as a trusted device)."""
    stored = await ctx.uow.config.get(share=share)
    return policy.MfaConfig.checked(machine, stored.factors, stored.policy, stored.trusted_devices, stored.adaptive)


async def user_factors(ctx: FactorContext, machine: FlowMachine) -> policy.UserFactors:
    """What rule 1 and the account's rules read of the flow's user: factors, prompts, opt-out."""
    user = ctx.user
    enrolled = await ctx.uow.user_factors.for_user(user.id)
    primary = frozenset(v.type for v in enrolled if v.type in machine.primary_factors)
    return policy.UserFactors(
        enrolled=primary,
        has_unused_backup_codes=any(v.type == policy.BACKUP_CODE and v.remaining for v in enrolled),
        prompted=user.prompted,
        last_used=user.last_used_factor,
        required=user.mfa_required,
        organization=user.required_by_organization,
        skip_on_sign_in=user.opted_out(has_factor=bool(primary)),
    )


class Outcomes:
    def __init__(self, settings: Settings, registry: Registry, keyring: Keyring) -> None:
        self.settings = settings
        self.registry = registry
        self.machine = registry.machine
        self.keyring = keyring

    async def first_factor_passed(self, locked: LockedFlow, user: User, event: str, guard: str,
                                  amr: list[str], device_token: str | None = None, sign_up: bool = False, *,
                                  signed_in_with: str | None = None, facts: dict[str, object] | None = None
                                  ) -> Decision:
        """The first factor named ``user``: rule 1 decides what follows. ``signed_in_with``: the
        factor whose credential was the first factor (a passkey); rule 1 then runs as if that
        factor were neither enabled nor the user's, so that the second step is a factor of
        another kind."""
        ctx = self.signed_in(locked, user, amr, signed_in_with)
        return await self.after_first_factor(ctx, event, guard, device_token, sign_up=sign_up, facts=facts)

    @staticmethod
    def signed_in(locked: LockedFlow, user: User, amr: list[str], signed_in_with: str | None = None
                  ) -> FactorContext:
        """The flow is ``user``'s from now on: the step's context with its user."""
        locked.flow.user_id = user.id
        locked.flow.context.username = user.username
        locked.flow.context.amr = amr
        locked.flow.context.signed_in_with = signed_in_with
        return locked.with_user(user)

    async def after_first_factor(self, ctx: FactorContext, event: str, guard: str,
                                 device_token: str | None = None, sign_up: bool = False, *,
                                 mfa_proven: bool = False, facts: dict[str, object] | None = None) -> Decision:
        """Rule 1, with the device token that came with the first factor, if any: the log row
        says what became of it (never the token). For an account flow, its step-up
        (``mfa_proven``: the result token that started it proved MFA with a factor); ``facts``
        go into the transition's data."""
        config = await mfa_config(ctx, self.machine)
        user = await user_factors(ctx, self.machine)
        digest = config_digest(config)  # the configuration as stored, whatever the first factor narrows
        used = ctx.flow.context.signed_in_with
        if used is not None:  # the credential that signed in cannot be the second step too
            config = replace(config, factors=tuple(f for f in config.factors if f != used),
                             primary=tuple(f for f in config.primary if f != used))
            user = replace(user, enrolled=user.enrolled - {used},
                           last_used=None if user.last_used == used else user.last_used)
        account = ctx.flow.context.purpose == policy.MANAGE
        verdict, device = devices.DISABLED, None
        if device_token is not None and config.trusted_devices.enabled:
            verdict, device = await trusted_devices.recognise(ctx.uow, device_token, ctx.user.id, ctx.now,
                                                              config.trusted_devices.days)
        trusted = verdict == devices.HONOURED
        signals = self.sign_in_signals(ctx)
        risk = await self.assess(ctx, config, user, signals)
        route = policy.after_first_factor(self.machine, config, user, purpose=ctx.flow.context.purpose,
                                          step_up=ctx.flow.context.step_up, trusted_device=trusted, sign_up=sign_up,
                                          mfa_proven=mfa_proven, risk=risk)
        ctx.flow.mode = route.mode
        ctx.flow.context.mfa_proven = account and mfa_proven
        ctx.flow.context.choices = route.choices
        ctx.flow.context.skippable = route.skippable
        ctx.flow.context.preferred = route.preferred
        # Offered to the client (the Flow's ``remember_device_days``) while a factor is still to
        # prove in a sign-in (an account flow signs nobody in: it has no device to remember).
        trust = config.trusted_devices
        offer = trust.enabled and route.to_state != machine.DONE and ctx.flow.context.purpose != policy.MANAGE
        ctx.flow.context.remember_days = trust.days if offer else None
        # The log names the rule, the policy by name, the exact configuration (digest) and
        # the per-flow or per-user setting that decided against the policy alone, if one did.
        data: dict[str, object] = {"rule": route.rule, "policy": config.policy, "config": digest,
                                   **(facts or {})}
        if route.override is not None:
            data["override"] = route.override
        if user.organization is not None:
            data["organization"] = user.organization
        if risk is not None:
            data["adaptive"] = risk.to_json()
        if account:
            data["purpose"] = policy.MANAGE
        if device_token is not None:
            if trusted and route.rule != policy.TRUSTED_DEVICE_RULE:
                verdict = devices.NOT_APPLICABLE
            data["trusted_device"] = verdict
            if device is not None:
                data["device_id"] = device.id
        if route.rule == policy.TRUSTED_DEVICE_RULE:
            assert device is not None
            await ctx.uow.devices.mark_used(device.id, ctx.now)
            await self.complete(ctx, factor=None, mfa_by=TRUSTED_DEVICE)
        elif route.to_state == machine.DONE:
            await self.complete(ctx, factor=None)
        elif route.to_state == machine.MANAGE:
            await self.enter_manage(ctx, factor=None)
        return Decision([Step(event, guard, route.to_state, data)], user=ctx.user)

    def sign_in_signals(self, ctx: FactorContext) -> adaptive.Signals:
        """Where this sign-in comes from: the first factor's request (the embedding backend's
        ``context``, else a trusted proxy's headers and the GeoIP database) before what the flow
        kept since its creation (the page's ``device_id``). A sign-in keeps them, sealed, until
        it ends (``complete`` writes them into the user's history), all but the address."""
        kept = ctx.flow.context.signals
        signals = (ctx.signals or adaptive.Signals()).merge(
            adaptive.Signals.parsed(json.loads(ctx.box.open(kept))) if kept else adaptive.Signals())
        if ctx.flow.context.purpose == policy.SIGN_IN:
            keep_signals(ctx.box, ctx.flow, signals)
        return signals

    async def assess(self, ctx: FactorContext, config: policy.MfaConfig, user: policy.UserFactors,
                     signals: adaptive.Signals) -> adaptive.Assessment | None:
        """Adaptive MFA's assessment of this sign-in, when it has a say: adaptive on, a sign-in
        (not an account flow), a user with a factor to verify. One statement reads the user's
        history (``store/sign_ins.py``)."""
        if not config.adaptive.enabled or ctx.flow.context.purpose != policy.SIGN_IN:
            return None
        if not any(f in user.enrolled for f in config.primary):
            return None
        burst = timedelta(minutes=config.adaptive.rule(adaptive.FAILURE_BURST)["minutes"])
        history = await ctx.uow.sign_ins.history(ctx.user.id, ctx.now, ctx.now - burst,
                                                 self.settings.sign_in_history_days)
        return adaptive.evaluate(config.adaptive, signals, history, ctx.now)

    async def enter_manage(self, ctx: FactorContext, factor: str | None, *, last_used: bool = True) -> None:
        """An account flow reaches ``manage``: after its first factor, after its step-up
        verification or a set-up of ``factor`` (a proof that resets their failure count, as a
        completed sign-in does; the user's last-used from now on unless ``last_used`` is false),
        or after new backup codes."""
        ctx.flow.mode = "manage"
        ctx.flow.context.choices = ()
        ctx.flow.context.skippable = False
        ctx.flow.context.preferred = None
        if factor is None:
            return
        if self.registry[factor].amr not in ctx.flow.context.amr:
            ctx.flow.context.amr.append(self.registry[factor].amr)
        primary = factor in self.machine.primary_factors
        await ctx.uow.users.record_success(ctx.user, factor if primary and last_used else None)

    async def complete(self, ctx: FactorContext, factor: str | None, *, remember_device: bool = False,
                       mfa_by: str | None = None) -> None:
        """The flow reaches ``done``: reset the user's failure count, record the result.

        ``remember_device``: the completing event asked to trust this device (it proved a
        second factor in this flow); honoured when trusted devices are enabled.
        ``mfa_by``: what stood in for a second factor this flow did not prove."""
        user = ctx.user
        last_used = factor if factor in self.machine.primary_factors else None
        # The user's sign-in history gains this sign-in, with the signals its first factor
        # kept, in the statement that records the success on the user (``store/sign_ins.py``).
        kept = ctx.flow.context.signals
        signals = adaptive.Signals.parsed(json.loads(ctx.box.open(kept))) if kept else adaptive.Signals()
        await ctx.uow.sign_ins.record(user, last_used, ctx.flow.id, ctx.now, signals)
        ctx.flow.context.signals = None
        amr = list(ctx.flow.context.amr)
        if factor is not None and self.registry[factor].amr not in amr:
            amr.append(self.registry[factor].amr)
        if len(amr) > 1 and "mfa" not in amr:
            amr.append("mfa")
        ctx.flow.context.amr = amr
        # The signed result lives on the flow row only, never in the transition log.
        # A passkey that was the first factor proves no second factor by its own method.
        first = self.first_factor_amr(ctx)
        token = await self.keyring.result_token(ctx.uow, ctx.flow.id, user.id, amr, ctx.now, mfa_by, first)
        ctx.flow.result = {"amr": amr, "acr": acr_for(amr, mfa_by, first), "token": token}
        if mfa_by is not None:
            ctx.flow.result["mfa_by"] = mfa_by
        if remember_device:
            # Locked, so that turning trusted devices off or shortening them (which revokes or
            # cuts the devices there are) waits for this device rather than miss it.
            trust = (await mfa_config(ctx, self.machine, share=True)).trusted_devices
            if trust.enabled:
                await trusted_devices.remember(ctx.uow, ctx.flow, user.id, trust, ctx.now)

    def first_factor_amr(self, ctx: FactorContext) -> tuple[str, ...]:
        factor = self.registry.get(ctx.flow.context.signed_in_with)
        return (factor.amr,) if factor is not None else ()

    async def count_wrong_proof(self, ctx: LockedFlow, user: User | None, step: Step, detail: str) -> Decision:
        """A wrong proof: counted against the flow and ``user`` (the flow's, or the one a wrong
        first factor named; None: it named nobody), then maybe the end of the flow."""
        ctx.flow.attempts_left = max(0, ctx.flow.attempts_left - 1)
        steps = [step]
        user_locked = False
        if user is not None:
            user_locked = await ctx.uow.users.record_failure(
                user, self.settings.lockout_threshold, timedelta(seconds=self.settings.lockout_seconds), ctx.now
            )
        if user_locked:  # a device must not outlast a lockout: whoever holds it is suspect too
            assert user is not None
            await trusted_devices.revoke_all(ctx.uow, user.id, "user_locked", ctx.now, ctx.flow.id)
        if user_locked or ctx.flow.attempts_left == 0:
            reason = "user_locked" if user_locked else "attempts_exhausted"
            steps.append(Step("lock", "attempts_exhausted", machine.FAILED, {"reason": reason}))
            detail += "; no attempts left, the sign-in failed" if not user_locked else (
                f"; too many failures, the user is locked for {self.settings.lockout_seconds} seconds"
            )
        error = WrongProof(detail, attempts_left=ctx.flow.attempts_left, state=steps[-1].to_state)
        return Decision(steps, error, user=user)
