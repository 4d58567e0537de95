"""What can go wrong, in the domain's words. Pure: no I/O, no HTTP.

The domain and the services raise these; only ``mfa_flow.http`` turns them into RFC 9457
problem documents (status, title, ``type``). Each error carries what a client needs to act:
its ``kind`` (the problem type's slug), a ``detail`` in words that never echo a secret, and
facts such as ``attempts_left``, ``retry_after``, ``state`` or ``version``.
"""

from __future__ import annotations

from typing import Any, ClassVar


class DomainError(Exception):
    """The root of the domain's and the services' errors: every refusal a client can cause,
    and (``DomainFault``) the domain's rules broken by what no client sent."""

    default_kind: ClassVar[str] = "invalid-request"

    def __init__(self, detail: str, *, kind: str | None = None, field: str | None = None, **facts: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.kind = kind or self.default_kind
        self.field = field  # the request field at fault, when there is one
        self.facts = facts  # extension members of the problem document


class DomainFault(DomainError):
    """A rule of the domain broken by what the client did not send: an edge the machine's table
    does not have, a stored configuration that no longer holds. The service turns one a client
    caused into a refusal (``PolicyError`` of a configuration sent becomes ``RuleBroken``); one
    that gets through is the server's fault, answered as any unexpected error (500, logged)."""


class InvalidInput(DomainError):
    """The request is malformed (a 400 in HTTP)."""

    default_kind = "invalid-request"


class NotFound(DomainError):
    default_kind = "not-found"

    def __init__(self, what: str) -> None:
        super().__init__(f"{what} does not exist")


class RuleBroken(DomainError):
    """Well-formed, but against a rule (backup codes alone, a factor not offered...)."""

    default_kind = "unprocessable"


class Conflict(DomainError):
    """The resource's state does not allow it (a version moved on, a name is taken...)."""

    default_kind = "conflict"


class WrongProof(DomainError):
    """A wrong password, code or passkey answer; counted, and committed before this is raised."""

    default_kind = "wrong-proof"

    def __init__(self, detail: str, *, attempts_left: int, state: str) -> None:
        super().__init__(detail, attempts_left=attempts_left, state=state)


class WrongAddress(DomainError):
    """A passkey answered at a web address the service's settings do not name (another origin
    or RP ID): the operator's settings to change (``setting``), not a wrong proof, so no attempt
    is counted and nothing is recorded."""

    default_kind = "passkey-address-mismatch"

    def __init__(self, detail: str, *, setting: str, **facts: Any) -> None:
        super().__init__(detail, setting=setting, **facts)


class UserLocked(DomainError):
    default_kind = "user-locked"

    def __init__(self, retry_after: int) -> None:
        super().__init__(
            f"too many failed attempts for this user; try again in {retry_after} seconds", retry_after=retry_after
        )
        self.retry_after = retry_after


class Busy(DomainError):
    """Too much work is waiting (the password-hashing queue is full): try again shortly."""

    default_kind = "busy"

    def __init__(self, detail: str, retry_after: int) -> None:
        super().__init__(detail, retry_after=retry_after)
        self.retry_after = retry_after


class RateLimited(DomainError):
    """An abuse limit's budget is spent (flows, password attempts or codes per address or username)."""

    default_kind = "rate-limited"

    def __init__(self, detail: str, *, retry_after: int, limit: str) -> None:
        super().__init__(detail, retry_after=retry_after, limit=limit)
        self.retry_after = retry_after


class FlowEventLimit(DomainError):
    """A flow took the most events it may (``MFA_FLOW_MAX_EVENTS_PER_FLOW``): a new sign-in starts afresh."""

    default_kind = "flow-event-limit"

    def __init__(self, limit: int) -> None:
        super().__init__(f"this flow took {limit} events, the most a flow may; start a new sign-in")


class LiveSubscriptionLimit(DomainError):
    """A flow has the most live subscriptions (WebSocket, SSE, long-poll) one process keeps for it."""

    default_kind = "live-subscription-limit"

    def __init__(self, limit: int) -> None:
        super().__init__(f"this flow has {limit} live subscriptions open already, the most it may; close one"
                         " (one WebSocket or event stream per page is enough)")


class FlowExpired(DomainError):
    default_kind = "flow-expired"

    def __init__(self) -> None:
        super().__init__("the flow expired; start a new sign-in")


class WebhookUrlRefused(DomainError):
    default_kind = "webhook-url-refused"


class Unauthenticated(DomainError):
    """No credential, where one is needed."""

    default_kind = "unauthorized"


class Forbidden(DomainError):
    """A credential that does not allow this."""

    default_kind = "forbidden"
