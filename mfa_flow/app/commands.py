"""The command a client event becomes, and what its handler answers.

``ClientEvent`` is everything the caller sent, typed, with the password work done before the
event's transaction (argon2 runs with no row lock held); a handler (``app/handlers``) turns
it into a ``Decision`` inside that transaction, on the locked flow.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Awaitable, Callable

from .. import passwords
from ..domain.access import Principal
from ..domain.adaptive import Signals
from ..domain.errors import DomainError
from ..domain.machine import Step
from ..domain.users import User
from ..factors.base import FactorContext, JsonObject, LockedFlow


@dataclass(frozen=True)
class PasswordCheck:
    """A password checked before the event's transaction, against this stored hash."""

    password_hash: str | None
    checked: passwords.Checked


@dataclass(frozen=True)
class PasswordHashed:
    """A new password (sign-up), hashed before the event's transaction."""

    password_hash: str


@dataclass(frozen=True)
class ClientEvent:
    """One client event for one flow. ``payload`` is the event's body as the schema checked it
    (``type`` included, ``expected_version`` not); ``client`` the caller's address for the
    abuse limits (None: not counted, as for the admin key); ``signals`` where the request comes
    from; ``password`` the argon2 work done before the transaction (None: none was, or the flow
    moved in between: the handler hashes inside the transaction then)."""

    flow_id: str
    type: str
    payload: JsonObject
    principal: Principal
    expected_version: int | None = None
    client: str | None = None
    signals: Signals | None = None
    password: PasswordCheck | PasswordHashed | None = None


@dataclass
class Decision:
    """What an event handler decided: the steps to take and, maybe, an error to answer once
    the steps are committed (a wrong proof is recorded, then refused). ``user``: the user a
    first-factor handler named (signed in, or whose failure counts), whose context the steps
    are written in from then on."""

    steps: list[Step] = field(default_factory=list)
    error: DomainError | None = None
    user: User | None = None


# Two kinds of handler. Before the first factor a flow has no user: its events' handlers get
# the locked flow alone (and name the user in their Decision). Every other event's handler
# gets the flow with its user, never None.
FirstFactorHandler = Callable[[ClientEvent, LockedFlow], Awaitable[Decision]]
Handler = Callable[[ClientEvent, FactorContext], Awaitable[Decision]]
