"""Who may read and drive a flow: a rule over data (the caller's principal), no HTTP. Pure."""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from .errors import Forbidden, Unauthenticated
from .flow import Flow

ADMIN, AUDITOR, FLOW_TOKEN = "admin", "auditor", "flow"


@dataclass(frozen=True)
class Principal:
    """Who is calling: ``role`` is admin, auditor, flow (a flow token) or None for anyone;
    ``token_digest`` is the digest of a flow token (never the token itself)."""

    role: str | None
    token_digest: bytes | None = None

    def owns(self, flow: Flow) -> bool:
        return (
            self.role == FLOW_TOKEN
            and self.token_digest is not None
            and hmac.compare_digest(self.token_digest, flow.token_digest)
        )

    @property
    def actor(self) -> str:
        """How the transition log names this caller."""
        return "admin" if self.role == ADMIN else "user"


ANYONE = Principal(None)
SYSTEM = Principal("system")


def check_access(who: Principal, flow: Flow | None, drive: bool) -> None:
    """Reading a flow: its token, admin, auditor. Driving it: its token or admin."""
    if who.role is None:
        raise Unauthenticated("send the flow token (or an API key) as a Bearer token")
    if who.role in (ADMIN, "system") or (flow is not None and who.owns(flow)):
        return
    if who.role == AUDITOR and not drive:
        return
    if who.role == AUDITOR:
        raise Forbidden("the auditor key may read flows but not drive them")
    raise Forbidden("this flow token belongs to another flow")
