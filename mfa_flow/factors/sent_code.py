"""What the factors that send a one-time code (``email_code``, ``sms_code``) share: the code,
its digest, the resend rules, the states' rows and the steps themselves. Each factor's package
says only what differs: its channel, the field that names the destination, how that is
normalised and masked, and where the code goes.

A code is 6 random digits, lives ``MFA_FLOW_CODE_TTL`` seconds, and is kept only as a keyed
digest (HMAC-SHA-256 with the pepper derived from ``MFA_FLOW_SECRET_KEY``, salted with the
flow id) in the state's stage: a database dump alone does not give it away, even though a
million codes are few. A new code replaces the digest, so it voids the previous one; a right
code leaves the state, so it is spent once. Sending happens after the event's transaction
commits (see ``mfa_flow.app.codes``): the transaction only queues the message (sealed), so a
send that fails never undoes the step, and a crash between the two leaves the message queued
for the worker.
"""

from __future__ import annotations

import json
import math
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Callable

from ..crypto import keyed_digest, same
from ..domain.errors import Conflict, InvalidInput, RateLimited, RuleBroken
from ..domain.events import CodeRequested
from ..domain.flow import Flow, iso
from ..domain.machine import SAME, FactorStates, Row, Step
from ..domain.users import UserFactor
from .base import Factor, FactorContext, FlowView, JsonObject, LockedFlow, ManageContext, Proof, event_schema

if TYPE_CHECKING:
    from ..settings import Settings

NUMBER_TYPE_REFUSED = "number-type-refused"

DIGITS = 6
MAX_SENDS = 5  # codes a flow may send, all states together
WEBHOOK_TYPE = "verification_code.requested"
_ENTRY = re.compile(f"[0-9]{{{DIGITS}}}")  # ASCII digits only (str.isdigit() takes other scripts too)
DELIVERY_EVENT = "code_delivery"  # the system event that records a send's outcome

# One schema for both factors' send_code: in set-up it names the destination, in
# verification it asks for another code to the enrolled one.
SEND_CODE_SCHEMA = {"description": (
    "In email_code_setup / sms_code_setup: send a code to the `email` / `phone` named (normalised;\n"
    "a phone needs + and its country code). In email_code_verify / sms_code_verify: send another\n"
    "code to the enrolled destination (no field). 429 `rate-limited` with `Retry-After` when the\n"
    "resend gap (`limit: code_resend`, MFA_FLOW_CODE_RESEND), the cap of 5 a flow\n"
    "(`codes_per_flow`), the client's hourly budget (`codes_sent`, MFA_FLOW_RATE_CODES) or the\n"
    "destination's (`codes_per_destination`, MFA_FLOW_RATE_CODES_PER_DESTINATION) refuses it.\n"
), **event_schema(
    "send_code",
    {
        "email": {"type": "string", "minLength": 3, "maxLength": 320, "description": "email_code_setup: where to send"},
        "phone": {"type": "string", "minLength": 2, "maxLength": 32,
                  "description": "sms_code_setup: the phone, in international format (+ and the country code)"},
    },
    (),
)}


def new_code() -> str:
    """Six digits from the operating system's random source (about 20 bits)."""
    return f"{secrets.randbelow(10**DIGITS):0{DIGITS}d}"


def code_digest(pepper: bytes, flow_id: str, code: str) -> str:
    return keyed_digest(pepper, flow_id.encode(), code).hex()


def entered(code: str) -> str | None:
    """The code as typed, forgiving spaces and dashes; None when it cannot be a code."""
    cleaned = "".join(ch for ch in code if ch not in " -\t")
    return cleaned if _ENTRY.fullmatch(cleaned) else None


def destination_key(channel: str, destination: str) -> str:
    """What the per-destination budget counts: a digest, so no address sits with the counters."""
    import hashlib

    return hashlib.sha256(f"{channel}:{destination}".encode()).hexdigest()[:32]


@dataclass(frozen=True)
class Sends:
    """A flow's sends so far (from the ledger), as the resend rules read them."""

    count: int
    last_at: datetime | None
    last_failed: bool


def resend_refusal(sends: Sends, now: datetime, gap: int, flow_expires_at: datetime) -> RateLimited | None:
    """Why another code may not go now (429 with Retry-After), or None. At most ``MAX_SENDS`` a
    flow (then only a new sign-in helps: Retry-After is the flow's remaining life); no sooner
    than ``gap`` seconds after the last send, unless that send failed (nothing reached the
    user, so asking again at once is fair)."""
    if sends.count >= MAX_SENDS:
        left = max(1, math.ceil((flow_expires_at - now).total_seconds()))
        return RateLimited(
            f"this sign-in has sent {MAX_SENDS} codes, the most it may; start a new sign-in to get another",
            retry_after=left, limit="codes_per_flow",
        )
    if sends.last_at is not None and not sends.last_failed:
        wait = (sends.last_at + timedelta(seconds=gap) - now).total_seconds()
        if wait > 0:
            seconds = math.ceil(wait)
            return RateLimited(
                f"a code was sent less than {gap} seconds ago; ask for another in {seconds} seconds",
                retry_after=seconds, limit="code_resend",
            )
    return None


@dataclass(frozen=True)
class Channel:
    """What differs between the code factors."""

    factor: str  # the factor's name: email_code, sms_code
    channel: str  # the webhook's ``channel``: email, sms
    field: str  # the send_code field naming the destination in set-up: email, phone
    normalise: Callable[[str], str]  # raises ValueError with a message fit for the client
    mask: Callable[[str], str]
    smtp: bool  # sent over SMTP when MFA_FLOW_SMTP_URL is set (else by webhook)
    amr: str  # RFC 8176 method reference
    # The destination as one recipient: what the per-destination budget counts, so that
    # spellings of one mailbox (or phone) share one budget (the users table's comparison).
    canonical: Callable[[str], str] = str
    # Why no code may go to a (normalised) destination under these settings, or None: an SMS
    # code to a premium-rate number, say. Asked before any code is issued and at enrolment.
    refusal: Callable[[str, Settings], str | None] = lambda destination, settings: None

    @property
    def proof_event(self) -> str:
        return f"submit_{self.factor}"

    @property
    def setup_state(self) -> str:
        return f"{self.factor}_setup"

    @property
    def verify_state(self) -> str:
        return f"{self.factor}_verify"

    def states(self) -> FactorStates:
        own = (self.setup_state, self.verify_state)
        return FactorStates(
            name=self.factor, primary=True, proof_event=self.proof_event,
            setup_state=self.setup_state, verify_state=self.verify_state,
            rows=(
                Row("send_code", own, "code_sent", (SAME,)),
                # The outcome of a send, recorded by the service (actor system) so that
                # clients following the flow see it, and the log keeps it.
                Row(DELIVERY_EVENT, own, "code_delivered", (SAME,)),
                Row(DELIVERY_EVENT, own, "code_undelivered", (SAME,)),
            ),
            events=("send_code",),
            system_events=(DELIVERY_EVENT,),
        )

    def schemas(self) -> dict[str, JsonObject]:
        component = "".join(p.capitalize() for p in self.proof_event.split("_")) + "Event"
        code = {"type": "string", "minLength": 1, "maxLength": 32, "description": f"the {DIGITS} digits received"}
        return {component: event_schema(self.proof_event, {"code": code}, ("code",)), "SendCodeEvent": SEND_CODE_SCHEMA}


class SentCodeFactor(Factor):
    """The steps of a factor that sends codes; a subclass names its ``channel``."""

    channel: Channel

    # --- issuing a code (inside the event's transaction) -------------------------------------

    def _via(self, ctx: FactorContext) -> str:
        return "smtp" if self.channel.smtp and ctx.settings.smtp_url else "webhook"

    async def issue(self, ctx: FactorContext, destination: str) -> dict[str, Any]:
        """Issue a code for ``destination``: the rules first (429 when one refuses), then the
        digest in the stage and the message queued. Returns facts for the transition log."""
        stage, flow = ctx.flow.stage, ctx.flow
        self.check_destination(destination, ctx.settings)
        history = await ctx.uow.code_deliveries.history(flow.id)
        sends = Sends(history.count, history.last_at, history.last_status == "failed")
        refusal = resend_refusal(sends, ctx.now, ctx.settings.code_resend, flow.expires_at)
        if refusal is not None:
            raise refusal
        if ctx.code_budget is not None:
            await ctx.code_budget(destination_key(self.channel.channel, self.channel.canonical(destination)))
        code = new_code()
        expires_at = ctx.now + timedelta(seconds=ctx.settings.code_ttl)
        # A new code voids the earlier ones, and the copies still waiting to go with them.
        await ctx.uow.code_deliveries.void_earlier(flow.id, ctx.now)
        await ctx.uow.outbox.void_codes(flow.id)
        # The user's language picks the message's, else the language of the page that started
        # the flow (issue 27); sealed with the code it goes with.
        locale = (ctx.user.locale if ctx.user is not None else None) or flow.context.locale
        sealed = ctx.box.seal(json.dumps({"to": destination, "code": code, "locale": locale}))
        via = self._via(ctx)
        delivery = "queued"
        if via == "smtp":
            delivery_id = await ctx.uow.code_deliveries.add(flow.id, self.channel.channel, via, sealed, expires_at,
                                                            ctx.now)
        else:
            delivery_id = await ctx.uow.code_deliveries.add(flow.id, self.channel.channel, via, None, expires_at,
                                                            ctx.now)
            if await ctx.uow.outbox.subscribed(WEBHOOK_TYPE):
                ctx.record(CodeRequested(flow.id, flow.user_id, self.channel.channel, delivery_id, expires_at,
                                         sealed, ctx.now))
            else:  # nobody would send it: say so now rather than leave it queued for ever
                delivery = "failed"
                await ctx.uow.code_deliveries.settle(delivery_id, "failed", ctx.now,
                                                     f"no webhook endpoint subscribes to {WEBHOOK_TYPE}")
        stage.update({
            "code_digest": code_digest(ctx.box.pepper, flow.id, code),
            "code_expires_at": iso(expires_at),
            "destination": destination,
            "delivery_id": delivery_id,
            "delivery": delivery,
            "via": via,
            "sent_at": iso(ctx.now),
            "sends": sends.count + 1,
            "refused": None,
            "resend_at": iso(ctx.now if delivery == "failed" else ctx.now + timedelta(
                seconds=ctx.settings.code_resend)),
        })
        return {"factor": self.name, "via": via, "delivery": delivery, "sends": sends.count + 1}

    def check_destination(self, destination: str, settings: Settings) -> None:
        """422 when no code may go to ``destination`` (MFA_FLOW_SMS_NUMBER_TYPES): never the
        destination itself in the words."""
        if (refusal := self.channel.refusal(destination, settings)) is not None:
            raise RuleBroken(f"{self.channel.field}: {refusal}", kind=NUMBER_TYPE_REFUSED, field=self.channel.field)

    async def send_to_enrolled(self, ctx: FactorContext) -> dict[str, Any]:
        """The code of a verification, to the destination the user enrolled."""
        enrolled = await ctx.uow.user_factors.of_type(ctx.the_user.id, self.name)
        if enrolled is None or not enrolled.destination:
            raise Conflict(f"the user has no {self.channel.field} for {self.name} any more; switch factor or"
                           " start a new sign-in", kind="factor-missing")
        return await self.issue(ctx, enrolled.destination)

    async def enter_verify(self, ctx: FactorContext) -> None:
        # Entering verification sends a code at once. A refusal (a budget spent, the cap) must
        # not undo the step that led here: the challenge shows it failed and when to ask again.
        try:
            await self.send_to_enrolled(ctx)
        except RateLimited as refused:
            ctx.flow.stage.update({"delivery": "failed", "refused": refused.facts["limit"],
                                   "resend_at": iso(ctx.now + timedelta(seconds=refused.retry_after))})
        except Conflict:
            ctx.flow.stage.update({"delivery": "failed", "refused": "no_destination"})
        except RuleBroken as refused:  # enrolled before the number's type was refused
            if refused.kind != NUMBER_TYPE_REFUSED:
                raise
            ctx.flow.stage.update({"delivery": "failed", "refused": "number_type"})

    async def handle_event(self, ctx: FactorContext, event: JsonObject) -> Step:
        """``send_code``: in set-up, to the destination named; in verification, again."""
        field = self.channel.field
        other = "phone" if field == "email" else "email"
        if other in event:
            raise InvalidInput(f"{other}: {self.name} sends codes to an {field}, not to a {other}", field=other)
        if ctx.flow.state == self.channel.setup_state:
            if field not in event:
                raise InvalidInput(f"{field}: send_code in {ctx.flow.state} needs the {field} to send the code to",
                                   field=field)
            try:
                destination = self.channel.normalise(event[field])
            except ValueError as exc:
                raise InvalidInput(f"{field}: {exc}", field=field) from None
            facts = await self.issue(ctx, destination)
        else:
            if field in event:
                raise InvalidInput(f"{field}: the code goes to the enrolled {field}; send_code here takes none",
                                   field=field)
            facts = await self.send_to_enrolled(ctx)
        return Step("send_code", "code_sent", ctx.flow.state, facts)

    # --- checking a code ----------------------------------------------------------------------

    def check(self, ctx: FactorContext, code: str) -> Proof:
        stage = ctx.flow.stage
        if not stage.get("code_digest"):
            raise Conflict("no code has been sent in this state yet; ask for one with send_code",
                           kind="no-code-sent", state=ctx.flow.state)
        typed = entered(code)
        if typed is None or not same(code_digest(ctx.box.pepper, ctx.flow.id, typed), stage["code_digest"]):
            return Proof(False, "the code does not match the latest one sent")
        if ctx.now >= datetime.fromisoformat(stage["code_expires_at"]):
            return Proof(False, "the code expired; ask for a new one", {"expired": True})
        stage["code_digest"] = None  # spent (the state is left at once, but say so)
        return Proof(True)

    async def finish_setup(self, ctx: FactorContext, event: JsonObject) -> Proof:
        proof = self.check(ctx, event["code"])
        if not proof.ok:
            return proof
        user = ctx.the_user
        if await ctx.uow.user_factors.of_type(user.id, self.name) is not None:
            raise Conflict(f"a {self.name} factor was set up for this user meanwhile; start a new sign-in to use it",
                           kind="factor-exists")
        user_factor = await ctx.uow.user_factors.add(user.id, self.name, destination=ctx.flow.stage["destination"])
        await ctx.uow.user_factors.mark_used(user_factor.id, ctx.now)
        return Proof(True, facts={"verification_id": user_factor.id})

    async def finish_verify(self, ctx: FactorContext, event: JsonObject) -> Proof:
        proof = self.check(ctx, event["code"])
        if not proof.ok:
            return proof
        enrolled = await ctx.uow.user_factors.of_type(ctx.the_user.id, self.name)
        if enrolled is None:
            return Proof(False, f"the user has no {self.name} factor any more")
        await ctx.uow.user_factors.mark_used(enrolled.id, ctx.now)
        return Proof(True, facts={"verification_id": enrolled.id})

    # --- after the commit ----------------------------------------------------------------------

    def awaits_delivery(self, flow: Flow) -> bool:
        return flow.stage.get("delivery") == "queued" and flow.stage.get("via") == "smtp"

    def delivery_settled(self, ctx: LockedFlow, delivery_id: str, outcome: str) -> Step | None:
        stage = ctx.flow.stage
        if stage.get("delivery_id") != delivery_id or stage.get("delivery") != "queued":
            return None  # a newer code replaced it, or the state changed: nothing to show
        stage["delivery"] = outcome
        if outcome == "failed":
            stage["resend_at"] = iso(ctx.now)  # nothing reached the user: ask again at once
        guard = "code_delivered" if outcome == "sent" else "code_undelivered"
        return Step(DELIVERY_EVENT, guard, ctx.flow.state, {"factor": self.name, "delivery": outcome})

    # --- what the client sees -----------------------------------------------------------------

    def challenge(self, view: FlowView) -> JsonObject | None:
        """Where the code went (masked), how its delivery went, until when it works, and when
        another may be asked for; never the code. Generic on purpose, so that a page can draw
        any code factor: ``field`` is what set-up asks for before the first code."""
        stage = view.flow.stage
        destination = stage.get("destination")
        sends = int(stage.get("sends", 0))
        return {
            "channel": self.channel.channel,
            "field": self.channel.field,
            "to": self.channel.mask(destination) if destination else None,
            "delivery": stage.get("delivery"),
            "code_length": DIGITS,
            "expires_at": stage.get("code_expires_at") if stage.get("code_digest") else None,
            "resend_at": stage.get("resend_at") if sends < MAX_SENDS else None,
            "sends_left": MAX_SENDS - sends,
            "refused": stage.get("refused"),
        }

    # --- Management API -------------------------------------------------------------------------

    def describe(self, user_factor: UserFactor) -> JsonObject:
        return {self.channel.field: user_factor.destination}

    def masked(self, described: JsonObject) -> JsonObject:
        destination = described.get(self.channel.field)
        if not isinstance(destination, str) or not destination:
            return described
        return {**described, self.channel.field: self.channel.mask(destination)}

    async def add_by_admin(self, ctx: ManageContext) -> JsonObject:
        """The admin vouches that the address (or phone) is the user's: no code is sent."""
        from ..domain.events import FactorEnrolled

        field = self.channel.field
        if field not in ctx.body:
            raise InvalidInput(f"{field}: a {self.name} factor needs the user's {field}", field=field)
        try:
            destination = self.channel.normalise(ctx.body[field])
        except ValueError as exc:
            raise InvalidInput(f"{field}: {exc}", field=field) from None
        self.check_destination(destination, ctx.settings)
        if any(v.type == self.name for v in ctx.existing):
            raise Conflict(f"the user already has a {self.name} factor; delete it first", kind="factor-exists")
        user_factor = await ctx.uow.user_factors.add(ctx.user.id, self.name, destination=destination)
        ctx.uow.record(FactorEnrolled(ctx.user.id, self.name, user_factor.id, None, ctx.now))
        return {"user_factor": user_factor}


def factor_of(channel: Channel) -> SentCodeFactor:
    """The factor that sends codes over ``channel`` (each package makes its one)."""
    kind = type("".join(p.capitalize() for p in channel.factor.split("_")), (SentCodeFactor,), {
        "name": channel.factor, "amr": channel.amr, "channel": channel, "states": channel.states(),
        "schemas": channel.schemas(), "__module__": f"mfa_flow.factors.{channel.factor}",
    })
    factor: SentCodeFactor = kind()
    return factor
