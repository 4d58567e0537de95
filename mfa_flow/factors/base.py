"""The one interface every factor implements (``mfa_flow/factors/<name>/``).

A factor package owns everything about its method, in the same files for each:

- ``__init__.py``: ``FACTOR``, its states and rows of the machine's table (``FactorStates``)
  and the JSON Schemas of its events' payloads;
- ``setup.py`` / ``verify.py``: ``enter_*`` prepares what the client needs when the flow enters
  the factor's set-up or verification state (kept in ``flow.stage``); ``finish_*`` checks the
  proof the client sent and spends it, returning a ``Proof``. Spending is a conditional
  UPDATE in the flow's own transaction, so a proof that loses a race is simply wrong;
- ``manage.py``: what the Management API shows of the factor and whether an admin may add it.

``challenge(view)`` is what the client is shown in the current state (secrets only to the
flow's owner). A factor keeps what one state needs in ``flow.stage``, which is wiped whenever
the state changes, and reads no other factor's keys. Adding a factor means adding a package
and naming it in ``registry.FACTORS``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Awaitable, Callable, ClassVar

from ..domain.errors import RuleBroken
from ..domain.events import DomainEvent
from ..domain.flow import Flow
from ..domain.machine import FactorStates, Step
from ..domain.users import User, UserFactor

if TYPE_CHECKING:
    from ..crypto import SecretBox
    from ..domain.adaptive import Signals
    from ..domain.passkey_sign_in import PasskeySignIn
    from ..settings import Settings
    from ..store import UnitOfWork

JsonObject = dict[str, Any]
# Spends the abuse budgets of one code sent to a destination (its digest names it); raises
# ``RateLimited`` when one is spent.
CodeBudget = Callable[[str], Awaitable[None]]


@dataclass
class LockedFlow:
    """What a step sees before the flow has a user (its first factor, a passkey sign-in) or
    without reading one (a system step: expiry, a delivery's outcome): the event's
    transaction, the flow locked by its first statement, now."""

    uow: "UnitOfWork"
    flow: Flow
    settings: "Settings"
    box: "SecretBox"
    now: datetime
    code_budget: CodeBudget | None = None  # for factors that send codes (None: no budget applies)
    # Where the request that carries the event comes from (adaptive MFA's signals), when known.
    signals: "Signals | None" = None

    def with_user(self, user: User) -> "FactorContext":
        """The same step once the flow's user is known (and locked)."""
        return FactorContext(self.uow, self.flow, self.settings, self.box, self.now, self.code_budget, self.signals,
                             user=user)

    def record(self, *events: DomainEvent) -> None:
        self.uow.record(*events)


@dataclass
class FactorContext(LockedFlow):
    """What a factor step sees: the event's transaction, the locked flow and its locked user
    (never None: every state after the first factor has one), now."""

    user: User = field(kw_only=True)

    @property
    def the_user(self) -> User:
        """The flow's user (the same as ``user``; kept for the factors that say so)."""
        return self.user


@dataclass(frozen=True)
class FlowView:
    """What a factor needs to show a flow's challenge; ``owner`` is the flow-token holder."""

    flow: Flow
    settings: "Settings"
    box: "SecretBox"
    owner: bool


@dataclass(frozen=True)
class Proof:
    ok: bool
    reason: str = ""  # why a proof failed, in words fit for the client (never the proof itself)
    facts: JsonObject = field(default_factory=dict)  # non-secret facts for the transition log


@dataclass
class SignIn:
    """What a first factor of a factor's own proved (a passkey): ``user`` when the credential
    is known (even if refused, so that the failure counts against its user), and whether the
    authenticator verified the user."""

    ok: bool
    user: User | None = None
    reason: str = ""
    user_verified: bool = False
    facts: JsonObject = field(default_factory=dict)


@dataclass
class ManageContext:
    """What a Management API change of a user's factors sees (the user's row is locked)."""

    uow: "UnitOfWork"
    user: User
    existing: list[UserFactor]
    settings: "Settings"
    box: "SecretBox"
    now: datetime
    primary_factors: tuple[str, ...]
    body: JsonObject = field(default_factory=dict)  # the request (``type`` and the factor's own fields)


class Factor:
    """The interface, with the defaults a factor without that step needs."""

    name: ClassVar[str]
    amr: ClassVar[str]  # RFC 8176 method reference
    states: ClassVar[FactorStates]
    schemas: ClassVar[dict[str, JsonObject]] = {}  # event component name -> JSON Schema of its payload

    async def enter_setup(self, ctx: FactorContext) -> None:
        return None

    async def finish_setup(self, ctx: FactorContext, event: JsonObject) -> Proof:
        raise NotImplementedError(f"{self.name} has no set-up step")

    async def enter_verify(self, ctx: FactorContext) -> None:
        return None

    async def finish_verify(self, ctx: FactorContext, event: JsonObject) -> Proof:
        raise NotImplementedError(f"{self.name} has no verification step")

    def challenge(self, view: FlowView) -> JsonObject | None:
        return None

    async def handle_event(self, ctx: FactorContext, event: JsonObject) -> Step:
        """One of the factor's own events beyond its proof (``states.events``; ``send_code`` of
        a code factor, say): the step it takes, along a row the factor declared in
        ``states.rows``. Raise a domain error to refuse it."""
        raise NotImplementedError(f"{self.name} has no event {event.get('type')!r}")

    # --- a first factor of its own (``states.sign_in_event``: passkey sign-in) ----------------

    def offer_sign_in(self, ctx: LockedFlow, setting: "PasskeySignIn") -> None:
        """Prepare, in a new flow's ``first_factor`` stage, what the client needs to sign in."""
        raise NotImplementedError(f"{self.name} is no first factor")

    async def finish_sign_in(self, ctx: LockedFlow, event: JsonObject, setting: "PasskeySignIn") -> SignIn:
        """Check the sign-in event's proof: who signed in, or why not (a fresh offer either way)."""
        raise NotImplementedError(f"{self.name} is no first factor")

    def sign_in_challenge(self, view: FlowView) -> JsonObject | None:
        """What ``first_factor``'s challenge shows of the offer (None: nothing offered)."""
        return None

    def awaits_delivery(self, flow: Flow) -> bool:
        """Whether the flow's current state queued something for the service to send right
        after the event commits (an email code over SMTP)."""
        return False

    def delivery_settled(self, ctx: LockedFlow, delivery_id: str, outcome: str) -> Step | None:
        """A delivery the factor asked for went out (``sent``) or could not (``failed``): the
        system step that shows it in the flow, or None when it no longer matters."""
        return None

    # --- Management API ------------------------------------------------------------------------

    def describe(self, user_factor: UserFactor) -> JsonObject:
        """Fields of the factor's ``MfaVerification`` beyond the common ones."""
        return {}

    def masked(self, described: JsonObject) -> JsonObject:
        """A ``describe`` result as a reader who may not learn the user's contact details sees
        it (the auditor, in an account flow): an address or a phone number masked."""
        return described

    def check_addable(self, existing: list[UserFactor], primary_factors: tuple[str, ...]) -> None:
        """Raise a domain error if the user, with the factors ``existing``, may not have one more
        of this factor (one authenticator app per user; backup codes need a primary factor):
        the Management API's add and an account flow's ``add_factor`` ask the same question."""
        return None

    async def add_by_admin(self, ctx: ManageContext) -> JsonObject:
        """Add the factor for ``ctx.user``; returns its view (with what is shown once)."""
        raise RuleBroken(
            f"{self.name} factors are registered by the user in a sign-in flow, not through the Management API",
            field="type",
        )

    def renamable(self) -> bool:
        return False


def event_schema(event: str, properties: JsonObject, required: tuple[str, ...]) -> JsonObject:
    """The JSON Schema of one client event's body: ``type`` is ``event``, and ``expected_version``
    may come with any event."""
    return {
        "type": "object",
        "additionalProperties": False,
        "required": ["type", *required],
        "properties": {
            "type": {"const": event},
            **properties,
            "expected_version": {"$ref": "#/components/schemas/ExpectedVersion"},
        },
    }
