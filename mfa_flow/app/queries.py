"""What a client sees of a flow: the events it may send, and the Flow resource."""

from __future__ import annotations

from typing import Any

from ..crypto import SecretBox
from ..domain import machine, policy
from ..domain.flow import Flow, iso
from ..domain.machine import FlowMachine
from ..factors.base import FlowView
from ..factors.registry import Registry
from ..settings import Settings


def allowed_events(flow_machine: FlowMachine, settings: Settings, flow: Flow) -> list[str]:
    allowed = set(flow_machine.events_from(flow.state).difference(flow_machine.system_events))
    if not settings.sign_up:
        allowed.discard("submit_registration")
    if not (flow.mode == "setup" and flow.context.skippable):
        allowed.discard("skip")
    if not policy.can_switch(flow.choices):
        allowed.discard("switch_factor")
    if flow.state == machine.FIRST_FACTOR and not flow.stage:
        allowed.difference_update(flow_machine.sign_in_events)  # no passkey was offered at the flow's start
    return [e for e in flow_machine.client_events if e in allowed]


def flow_view(registry: Registry, settings: Settings, box: SecretBox, flow: Flow, owner: bool,
              auditor: bool = False, masked: bool = False) -> dict[str, Any]:
    """The Flow resource (schemas/flow.schema.json). Set-up secrets only for the flow's
    owner; the result token (a bearer credential) not for the read-only auditor; the user's
    email addresses and phone numbers ``masked`` for every reader but the flow's owner and
    the admin."""
    factor = registry.of_state(flow.state)
    challenge = factor.challenge(FlowView(flow, settings, box, owner)) if factor else None
    if flow.state == machine.MANAGE:
        challenge = flow.stage.get("account")  # the user's factors: no secret in it
        if masked and challenge:
            challenge = {**challenge, "factors": [_masked(registry, f) for f in challenge.get("factors", [])]}
            if "recent_sign_ins" in challenge:  # for others than the person and the admin: when and which country
                challenge["recent_sign_ins"] = [{**s, "region": None, "city": None}
                                                for s in challenge["recent_sign_ins"]]
    if flow.state == machine.FIRST_FACTOR and flow.stage:  # the first factors a factor offers (a passkey)
        view = FlowView(flow, settings, box, owner)
        offers = [registry[name].sign_in_challenge(view) for name in registry.machine.sign_in_events.values()]
        challenge = {k: v for offer in offers if offer for k, v in offer.items()} or None
    terminal = machine.is_terminal(flow.state)
    return {
        "id": flow.id,
        "state": flow.state,
        "version": flow.version,
        "mode": flow.mode,
        "user_id": flow.user_id,
        # Known once the first factor held (never a name typed for an unknown or wrong account).
        "username": flow.context.username if flow.user_id else None,
        "purpose": flow.context.purpose,
        "require_mfa": flow.context.step_up,
        "expires_at": iso(flow.expires_at),
        "allowed_events": allowed_events(registry.machine, settings, flow),
        "factors": [] if terminal else list(flow.choices),
        "preferred_factor": None if terminal else flow.context.preferred,
        "remember_device_days": None if terminal else flow.context.remember_days,
        "attempts_left": flow.attempts_left,
        "challenge": challenge,
        "result": _result(flow, owner, auditor),
        "created_at": iso(flow.created_at),
        "updated_at": iso(flow.updated_at),
    }


def _masked(registry: Registry, described: dict[str, Any]) -> dict[str, Any]:
    factor = registry.get(described.get("type", ""))
    return factor.masked(described) if factor is not None else described


def _result(flow: Flow, owner: bool, auditor: bool) -> dict[str, Any] | None:
    """The result: bearer credentials (the result token) not for the read-only auditor; what
    is shown once (a new device token) only to the flow-token holder, in the answer to the
    event that made it."""
    if flow.result is None:
        return None
    if auditor:
        return {k: v for k, v in flow.result.items() if k != "token"}
    return {**flow.result, **flow.shown_once} if owner else flow.result
