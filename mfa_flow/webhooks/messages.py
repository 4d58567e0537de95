"""Webhook messages: the outbox rows that domain events become, and the bytes a receiver gets.

Pure: the unit of work calls ``to_messages`` on the events it collected, inside the change's
own transaction (so a message exists if and only if its change committed), and the worker
calls ``body`` at each attempt.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Iterable

from .. import texts
from ..domain import events
from ..domain.flow import iso

if TYPE_CHECKING:
    from ..settings import Settings

EVENT_TYPES = (
    "flow.created",
    "flow.transitioned",
    "flow.completed",
    "flow.failed",
    "flow.expired",
    "flow.cancelled",
    "mfa.factor_enrolled",
    "mfa.factor_removed",
    "user.locked",
    "verification_code.requested",
    "mfa.device_trusted",
    "mfa.device_revoked",
    "user.unlocked",
    "mfa.reset",
    "organization.member_added",
    "organization.member_removed",
    "flow.adaptive_mfa_triggered",
)
ALL_EVENTS = "*"
CODE_REQUESTED = "verification_code.requested"
# Types that carry a secret: delivered only to endpoints that name them, never through "*".
SECRET_TYPES = (CODE_REQUESTED,)

# The message type that announces each terminal state (besides flow.transitioned).
_ENDED = {"done": "flow.completed", "failed": "flow.failed", "expired": "flow.expired", "cancelled": "flow.cancelled"}


@dataclass(frozen=True)
class Message:
    """One outbox row. ``id`` is the ``webhook-id`` of every attempt to every endpoint.
    Messages with one ``ordering_key`` (a flow, or a user for Management API changes)
    reach each endpoint in the order they were written."""

    id: str
    type: str
    ordering_key: str
    data: dict[str, Any]
    occurred_at: datetime


def _message(type_: str, key: str, data: dict[str, Any], at: datetime) -> Message:
    return Message(f"msg_{uuid.uuid4().hex}", type_, key, data, at)


def to_message(event: events.DomainEvent) -> Message:
    """The outbox row of one domain event."""
    if isinstance(event, events.FlowCreated):
        data: dict[str, Any] = {"flow_id": event.flow_id, "state": event.state, "expires_at": iso(event.expires_at)}
        return _message("flow.created", f"flow:{event.flow_id}", data, event.at)
    if isinstance(event, events.FlowTransitioned):
        data = {"flow_id": event.flow_id, "user_id": event.user_id, "seq": event.seq, "event": event.event,
                "from_state": event.from_state, "to_state": event.to_state, "actor": event.actor, "at": iso(event.at)}
        return _message("flow.transitioned", f"flow:{event.flow_id}", data, event.at)
    if isinstance(event, events.FlowEnded):
        data = {"flow_id": event.flow_id, "user_id": event.user_id}
        if event.state == "done":
            data["amr"] = list(event.amr)
            if event.token:
                data["token"] = event.token
        elif event.state == "failed":
            data["reason"] = event.reason
        return _message(_ENDED[event.state], f"flow:{event.flow_id}", data, event.at)
    if isinstance(event, events.FactorEnrolled):
        key = f"flow:{event.flow_id}" if event.flow_id else f"user:{event.user_id}"
        data = {"user_id": event.user_id, "type": event.factor, "verification_id": event.verification_id,
                "flow_id": event.flow_id}
        return _message("mfa.factor_enrolled", key, data, event.at)
    if isinstance(event, events.FactorRemoved):
        key = f"flow:{event.flow_id}" if event.flow_id else f"user:{event.user_id}"
        data = {"user_id": event.user_id, "type": event.factor, "verification_id": event.verification_id,
                "flow_id": event.flow_id}
        return _message("mfa.factor_removed", key, data, event.at)
    if isinstance(event, events.CodeRequested):
        # Stored with the destination and the code sealed; the worker opens them for the body.
        data = {"flow_id": event.flow_id, "user_id": event.user_id, "channel": event.channel,
                "delivery_id": event.delivery_id, "expires_at": iso(event.expires_at), "sealed": event.sealed}
        return _message(CODE_REQUESTED, f"flow:{event.flow_id}", data, event.at)
    if isinstance(event, events.DeviceTrusted):
        data = {"user_id": event.user_id, "device_id": event.device_id, "flow_id": event.flow_id,
                "expires_at": iso(event.expires_at)}
        return _message("mfa.device_trusted", f"user:{event.user_id}", data, event.at)
    if isinstance(event, events.DevicesRevoked):
        data = {"user_id": event.user_id, "reason": event.reason, "count": event.count, "flow_id": event.flow_id}
        data.update({"device_id": event.device_id} if event.device_id else {"all": True})
        # Keyed by user, as mfa.device_trusted is: one user's device messages keep their order.
        return _message("mfa.device_revoked", f"user:{event.user_id}", data, event.at)
    if isinstance(event, events.UserUnlocked):
        return _message("user.unlocked", f"user:{event.user_id}", {"user_id": event.user_id}, event.at)
    if isinstance(event, events.AdaptiveMfaTriggered):
        data = {"flow_id": event.flow_id, "user_id": event.user_id, "fired": [dict(f) for f in event.fired]}
        return _message("flow.adaptive_mfa_triggered", f"flow:{event.flow_id}", data, event.at)
    if isinstance(event, events.MfaReset):
        data = {"user_id": event.user_id, "factors_removed": event.factors_removed}
        return _message("mfa.reset", f"user:{event.user_id}", data, event.at)
    if isinstance(event, events.OrganizationMembership):
        data = {"organization_id": event.organization_id, "user_id": event.user_id}
        if not event.added:
            data["reason"] = event.reason
        # Keyed by user: one user's joins and leaves keep their order.
        kind = "organization.member_added" if event.added else "organization.member_removed"
        return _message(kind, f"user:{event.user_id}", data, event.at)
    data = {"user_id": event.user_id, "flow_id": event.flow_id, "locked_until": iso(event.locked_until)}
    return _message("user.locked", f"flow:{event.flow_id}", data, event.at)


def to_messages(domain_events: Iterable[events.DomainEvent]) -> list[Message]:
    return [to_message(e) for e in domain_events]


def code_request_data(stored: dict[str, Any], opened: dict[str, Any], settings: Settings | None = None
                      ) -> dict[str, Any]:
    """The ``data`` a receiver gets for ``verification_code.requested``: the stored fields with
    the sealed part opened (``to`` and ``code``), the bookkeeping left out; and, in the user's
    language (``locale``), the ``text`` to send (an SMS text, say) with the code in it."""
    locale = texts.chosen(opened.get("locale"), settings.default_locale if settings else "en")
    minutes = max(1, round(settings.code_ttl / 60)) if settings else 10
    product = settings.issuer if settings else "mfa-flow"
    message = texts.text(locale, "sms.text", code=opened["code"], product=product,
                         lifetime=texts.text(locale, "email.lifetime", count=minutes))
    return {"flow_id": stored["flow_id"], "user_id": stored["user_id"], "channel": stored["channel"],
            "to": opened["to"], "code": opened["code"], "expires_at": stored["expires_at"],
            "locale": locale, "text": message}


def body(type_: str, occurred_at: datetime, data_json: str) -> bytes:
    """The request body: the same bytes on every attempt (``data`` as stored)."""
    return f'{{"type":{json.dumps(type_)},"timestamp":{json.dumps(iso(occurred_at))},"data":{data_json}}}'.encode()
