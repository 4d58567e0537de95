"""Domain events: what happened, recorded by the code that made it happen. Pure: no I/O.

The unit of work collects them while a change is made and, in the same transaction, turns
them into outbox rows (``mfa_flow.webhooks.messages``) at commit; nothing re-derives them
from the flow afterwards. Each event names the flow it happened in (or none, for changes
made through the Management API): messages about one flow, or one user, keep their order.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from .machine import DONE, FAILED, is_terminal

if TYPE_CHECKING:
    from .flow import Flow, Transition
    from .users import User


@dataclass(frozen=True)
class FlowCreated:
    flow_id: str
    state: str
    expires_at: datetime
    at: datetime


@dataclass(frozen=True)
class FlowTransitioned:
    """A transition that changed the state (a rejected attempt changes none: it is in the
    audit log, and nothing an embedding app acts on happened)."""

    flow_id: str
    user_id: str | None
    seq: int
    event: str
    from_state: str
    to_state: str
    actor: str
    at: datetime


@dataclass(frozen=True)
class FlowEnded:
    """The flow reached a terminal state. ``amr`` and ``token`` for ``done`` only; ``reason``
    for ``failed``."""

    flow_id: str
    user_id: str | None
    state: str
    at: datetime
    amr: tuple[str, ...] = ()
    token: str | None = None
    reason: str | None = None


@dataclass(frozen=True)
class FactorEnrolled:
    user_id: str
    factor: str
    verification_id: str | None
    flow_id: str | None
    at: datetime


@dataclass(frozen=True)
class FactorRemoved:
    user_id: str
    factor: str
    verification_id: str
    at: datetime
    flow_id: str | None = None  # the account flow it was removed in, if any


@dataclass(frozen=True)
class UserLocked:
    user_id: str
    flow_id: str
    locked_until: datetime
    at: datetime


@dataclass(frozen=True)
class DeviceTrusted:
    """A sign-in remembered its device (``remember_device``); never the device token."""

    user_id: str
    device_id: str
    flow_id: str
    expires_at: datetime
    at: datetime


@dataclass(frozen=True)
class DevicesRevoked:
    """A user's trusted devices were revoked: one (``device_id``) or all of them (``device_id``
    None). ``reason``: admin, factor_removed, mfa_reset, user_locked, user (an account flow),
    password_changed (the admin set a new password), trusted_devices_disabled (the feature was
    turned off: every user's devices go)."""

    user_id: str
    device_id: str | None
    count: int
    reason: str
    at: datetime
    flow_id: str | None = None


@dataclass(frozen=True)
class UserUnlocked:
    """The admin ended a user's lockout (``POST /api/users/{id}/unlock``)."""

    user_id: str
    at: datetime


@dataclass(frozen=True)
class MfaReset:
    """The admin reset a user's MFA: every factor removed (each also a ``FactorRemoved``), the
    prompted mark cleared, trusted devices revoked."""

    user_id: str
    factors_removed: int
    at: datetime


@dataclass(frozen=True)
class CodeRequested:
    """A one-time code is to be delivered by the embedding app (the ``verification_code.requested``
    webhook). ``sealed`` is the destination and the code, already encrypted: the one webhook
    that carries a secret stores it only so, and erases it once delivered or expired."""

    flow_id: str
    user_id: str | None
    channel: str
    delivery_id: str
    expires_at: datetime
    sealed: str
    at: datetime


@dataclass(frozen=True)
class OrganizationMembership:
    """A user joined an organisation (``added``) or left it (``added`` false). ``reason`` of a
    removal: admin (``DELETE .../members/{user_id}``), organization_deleted, user_deleted."""

    organization_id: str
    user_id: str
    added: bool
    at: datetime
    reason: str = "admin"


@dataclass(frozen=True)
class AdaptiveMfaTriggered:
    """Adaptive MFA's rules fired on a sign-in (the first transition's ``data.adaptive.fired``:
    each rule with its numbers, never an address, a city or coordinates)."""

    flow_id: str
    user_id: str
    fired: tuple[dict[str, Any], ...]
    at: datetime


DomainEvent = (
    FlowCreated | FlowTransitioned | FlowEnded | FactorEnrolled | FactorRemoved | UserLocked | CodeRequested
    | DeviceTrusted | DevicesRevoked | UserUnlocked | MfaReset | OrganizationMembership | AdaptiveMfaTriggered
)


def transition_events(flow: "Flow", rows: "list[Transition]", user: "User | None") -> list[DomainEvent]:
    """The events a batch of transition rows causes, as they are taken.

    A rejected attempt (a row whose state does not change) causes none. A decision on which
    adaptive MFA's rules fired is ``flow.adaptive_mfa_triggered``. A set-up proved in
    the flow (``enrolled`` in the row's data) is an enrolment; the last wrong attempt's
    ``lock`` row ends the flow, and locks the user when its reason says so.
    """
    events: list[DomainEvent] = []
    for row in rows:
        if row.from_state == row.to_state:
            continue
        events.append(FlowTransitioned(flow.id, flow.user_id, row.seq, row.event, row.from_state, row.to_state,
                                       row.actor, row.at))
        fired = (row.data.get("adaptive") or {}).get("fired")
        if fired and flow.user_id:
            events.append(AdaptiveMfaTriggered(flow.id, flow.user_id, tuple(fired), row.at))
        if row.data.get("enrolled") and flow.user_id:
            events.append(FactorEnrolled(flow.user_id, row.data["factor"], row.data.get("verification_id"), flow.id,
                                         row.at))
        if not is_terminal(row.to_state):
            continue
        if row.to_state == DONE:
            result = flow.result or {}
            events.append(FlowEnded(flow.id, flow.user_id, DONE, row.at, tuple(result.get("amr", [])),
                                    result.get("token")))
        elif row.to_state == FAILED:
            events.append(FlowEnded(flow.id, flow.user_id, FAILED, row.at, reason=row.data.get("reason")))
            if row.data.get("reason") == "user_locked" and user is not None and user.locked_until is not None:
                events.append(UserLocked(user.id, flow.id, user.locked_until, row.at))
        else:
            events.append(FlowEnded(flow.id, flow.user_id, row.to_state, row.at))
    return events
