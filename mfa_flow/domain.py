"""The flow aggregate and what a transition changes in it. Pure: no I/O."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from . import machine
from .machine import Step


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
    context: dict[str, Any]
    result: dict[str, Any] | None
    chain_head: str  # hash of the newest transition row ("" before the first)
    created_at: datetime
    updated_at: datetime
    token_digest: bytes = b""

    @property
    def choices(self) -> tuple[str, ...]:
        return tuple(self.context.get("choices", ()))

    @property
    def stage(self) -> dict[str, Any]:
        """Scratch space of the current state (set-up secrets, challenges); wiped on every change."""
        return self.context.setdefault("stage", {})

    @property
    def factor(self) -> str | None:
        """The factor the current state sets up or verifies."""
        return machine.FACTOR_OF_STATE.get(self.state)

    def is_overdue(self, now: datetime) -> bool:
        return not machine.is_terminal(self.state) and now >= self.expires_at


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
    """Microsecond UTC timestamps, the precision PostgreSQL keeps, so a row re-hashes the same."""
    return at.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def chain_hash(prev_hash: str, row: Transition) -> str:
    """hash = SHA-256(prev_hash || canonical JSON of the row), prev_hash as lowercase hex."""
    return hashlib.sha256(prev_hash.encode() + row.canonical()).hexdigest()


def take(flow: Flow, step: Step, actor: str, now: datetime) -> Transition:
    """Move ``flow`` along ``step`` (through the machine's table) and return the log row."""
    from_state = flow.state
    to_state = machine.advance(from_state, step)
    flow.version += 1
    if to_state != from_state:
        flow.context["stage"] = {}
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

