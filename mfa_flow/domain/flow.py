"""The flow aggregate and what a transition changes in it. Pure: no I/O."""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from uuid_utils.compat import uuid7

from .machine import FlowMachine, Step, is_terminal


@dataclass
class FlowContext:
    """What a flow carries between events, typed. Stored as the flow row's JSON ``context``
    with these very keys, so flows written before this type existed read the same.

    ``stage`` belongs to the factor of the current state alone (set-up secrets, challenges):
    no other module reads it, and it is wiped whenever the state changes, so no set-up
    secret outlives the state that showed it."""

    username: str | None = None
    amr: list[str] = field(default_factory=list)
    choices: tuple[str, ...] = ()
    skippable: bool = False
    preferred: str | None = None
    stage: dict[str, Any] = field(default_factory=dict)
    purpose: str = "sign_in"  # what the flow is for: "sign_in", or "manage" (an account flow)
    step_up: bool = False  # the embedding app asked for a second factor now (``require_mfa``)
    remember_days: int | None = None  # trusted devices were on at the first factor: for how many days
    # The OpenID Connect request that started this flow: {"client_id", "acr_values"}; its first
    # transition records it (``first_row_facts``).
    oidc: dict[str, Any] | None = None
    # The factor whose credential was the first factor (a passkey sign-in: ``webauthn``), so
    # that its method is not counted as a second factor too (stored only when set).
    signed_in_with: str | None = None
    # An account flow whose subject token proved MFA with a factor (rule ``manage.mfa_proven``):
    # it proved a factor, as one whose ``amr`` holds a factor proved or set up in it did.
    mfa_proven: bool = False
    # What is known of where this sign-in comes from (adaptive MFA's signals: country, region,
    # city, position, device), sealed, from the flow's creation until it ends: the first factor
    # reads it, the sign-in history takes it at ``done``, and a flow that ends clears it.
    signals: str | None = None
    # The language of the page (or app) that started the flow (issue 27): a code sent in it is
    # written in the user's own locale, else in this one (stored only when set).
    locale: str | None = None

    @property
    def factor_proven(self) -> bool:
        """Whether this flow (an account flow) rests on a factor proven for it: the sign-in
        behind its subject token proved one, or the flow verified or set one up (its ``amr``
        starts empty and gains a factor's method only then)."""
        return self.mfa_proven or bool(self.amr)

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> "FlowContext":
        data = data or {}
        return cls(
            username=data.get("username"),
            amr=list(data.get("amr", [])),
            choices=tuple(data.get("choices", ())),
            skippable=bool(data.get("skippable", False)),
            preferred=data.get("preferred"),
            stage=dict(data.get("stage", {})),
            purpose=data.get("purpose", "sign_in"),
            step_up=bool(data.get("step_up", False)),
            remember_days=data.get("remember_days"),
            oidc=data.get("oidc"),
            signed_in_with=data.get("signed_in_with"),
            mfa_proven=bool(data.get("mfa_proven", False)),
            signals=data.get("signals"),
            locale=data.get("locale"),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "username": self.username,
            "amr": list(self.amr),
            "choices": list(self.choices),
            "skippable": self.skippable,
            "preferred": self.preferred,
            "stage": self.stage,
            "purpose": self.purpose,
            "step_up": self.step_up,
            "remember_days": self.remember_days,
            **({"oidc": self.oidc} if self.oidc is not None else {}),
            **({"signed_in_with": self.signed_in_with} if self.signed_in_with is not None else {}),
            **({"mfa_proven": True} if self.mfa_proven else {}),
            **({"signals": self.signals} if self.signals is not None else {}),
            **({"locale": self.locale} if self.locale is not None else {}),
        }


@dataclass
class Flow:
    """One sign-in attempt, as stored. ``context`` holds what the current state needs."""

    id: str
    state: str
    version: int
    mode: str | None
    user_id: str | None
    expires_at: datetime
    attempts_left: int
    context: FlowContext
    result: dict[str, Any] | None
    chain_head: str  # hash of the newest transition row ("" before the first)
    created_at: datetime
    updated_at: datetime
    token_digest: bytes = b""
    # What the answer to the current event shows its flow-token holder once and nothing
    # stores (a new device token): never written to the flow row, the log or a webhook.
    shown_once: dict[str, Any] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.context, FlowContext):  # as read from storage or built in a test
            self.context = FlowContext.from_json(self.context)

    @property
    def choices(self) -> tuple[str, ...]:
        return self.context.choices

    @property
    def stage(self) -> dict[str, Any]:
        """Scratch space of the current state (set-up secrets, challenges); wiped on every change."""
        return self.context.stage

    def is_overdue(self, now: datetime) -> bool:
        return not is_terminal(self.state) and now >= self.expires_at


@dataclass(frozen=True)
class Transition:
    """One row of a flow's append-only log."""

    flow_id: str
    seq: int
    event: str
    from_state: str
    to_state: str
    at: datetime
    actor: str
    data: dict[str, Any]
    prev_hash: str
    hash: str = ""

    def canonical(self) -> bytes:
        return canonical_json(
            {
                "flow_id": self.flow_id,
                "seq": self.seq,
                "event": self.event,
                "from_state": self.from_state,
                "to_state": self.to_state,
                "at": iso(self.at),
                "actor": self.actor,
                "data": self.data,
            }
        )


def canonical_json(value: Any) -> bytes:
    """Sorted keys, no spaces, UTF-8: the byte string the audit chain hashes."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def iso(at: datetime) -> str:
    """Microsecond UTC timestamps, the precision PostgreSQL keeps, so a row re-hashes the same:
    ``YYYY-MM-DDTHH:MM:SS.ffffffZ``. Every read and push of a flow writes a few, so the common
    case (already UTC, a four-digit year) takes the C ``isoformat`` rather than ``strftime``:
    the same characters, in a third less time."""
    if at.tzinfo is not UTC:
        at = at.astimezone(UTC)
    if at.year < 1000:  # strftime and isoformat pad such years differently: keep strftime's
        return at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return at.isoformat(timespec="microseconds")[:-6] + "Z"  # drop "+00:00"


def chain_hash(prev_hash: str, row: Transition) -> str:
    """hash = SHA-256(prev_hash || canonical JSON of the row), prev_hash as lowercase hex."""
    return hashlib.sha256(prev_hash.encode() + row.canonical()).hexdigest()


def take(machine: FlowMachine, flow: Flow, step: Step, actor: str, now: datetime) -> Transition:
    """Move ``flow`` along ``step`` (through the machine's table) and return the log row."""
    from_state = flow.state
    to_state = machine.advance(from_state, step)
    flow.version += 1
    if to_state != from_state:
        flow.context.stage = {}
    flow.state = to_state
    flow.updated_at = now
    row = Transition(
        flow_id=flow.id,
        seq=flow.version,
        event=step.event,
        from_state=from_state,
        to_state=to_state,
        at=now,
        actor=actor,
        data={"guard": step.guard, **step.data},
        prev_hash=flow.chain_head,
    )
    row = Transition(**{**row.__dict__, "hash": chain_hash(flow.chain_head, row)})
    flow.chain_head = row.hash
    return row


def first_row_facts(flow: Flow, step: Step) -> Step:
    """The flow's first step, with what started the flow that its first log row records (the
    OpenID Connect client and the acr it asked for); any other step as it is."""
    if flow.version != 0 or flow.context.oidc is None:
        return step
    return replace(step, data={**step.data, "oidc": flow.context.oidc})


def canonical_id(value: str) -> str | None:
    """A UUID id (a flow's, an organisation's) in its one written form (lowercase, hyphenated),
    or None if it is none."""
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return None


canonical_flow_id = canonical_id


def new_flow_id(now: datetime) -> str:
    """A new flow's id: a UUIDv7 (RFC 9562) of its creation time, so that ids grow with time and
    each new flow's rows land at the right edge of the flows and transitions indexes, pages
    that are in memory already, rather than on a random page among millions. Flows made before
    keep their random (v4) ids; every id is read the same way (``canonical_flow_id``)."""
    return time_ordered_id(now)


def time_ordered_id(now: datetime) -> str:
    """A UUIDv7 of ``now``: the ids of rows that are mostly read recent (flows, organisations)."""
    return str(uuid7(nanoseconds=int(now.timestamp() * 1_000_000) * 1000))
