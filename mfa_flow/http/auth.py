"""Who is calling: the admin key, the auditor key, or a flow's own token."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from aiohttp import web

from ..crypto import same, token_digest
from ..domain.access import ADMIN, AUDITOR, FLOW_TOKEN, Principal, check_access
from ..domain.flow import Flow
from .keys import SETTINGS
from .problems import Problem

__all__ = ["ADMIN", "AUDITOR", "FLOW_TOKEN", "Caller", "caller", "check_flow_access", "forbidden",
           "require_admin", "require_reader", "unauthorized"]


@dataclass(frozen=True)
class Caller:
    """The credential a request carries, as parsed from its headers."""

    role: str | None  # admin, auditor, flow, or None for anyone
    token: str | None = None

    @cached_property  # asked several times per request; the digest is worked out once
    def principal(self) -> Principal:
        """What the domain's access rule needs: the role, and a flow token's digest only."""
        digest = token_digest(self.token) if self.role == FLOW_TOKEN and self.token else None
        return Principal(self.role, digest)

    def owns(self, flow: Flow) -> bool:
        return self.principal.owns(flow)

    def masked(self, flow: Flow | None = None) -> bool:
        """Whether the user's email addresses and phone numbers are masked in what this caller
        reads of ``flow``: for every reader but the flow's own token and the admin."""
        return not (self.role == ADMIN or (flow is not None and self.owns(flow)))


def unauthorized(detail: str) -> Problem:
    return Problem(401, "unauthorized", "Unauthorized", detail, headers={"WWW-Authenticate": "Bearer"})


def forbidden(detail: str) -> Problem:
    return Problem(403, "forbidden", "Forbidden", detail)


def caller(request: web.Request, query_token: bool = False) -> Caller:
    header = request.headers.get("Authorization")
    token = None
    if header:
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise unauthorized("the Authorization header must be 'Bearer <key or flow token>'")
        token = value.strip()
    elif query_token:
        token = request.query.get("token")
    if not token:
        return Caller(None)
    if not token.isascii() or not token.isprintable():
        raise unauthorized("the key or token is not valid")
    settings = request.app[SETTINGS]
    if same(token, settings.admin_key):
        return Caller(ADMIN, token)
    if same(token, settings.auditor_key):
        return Caller(AUDITOR, token)
    if token.startswith("ft_"):
        return Caller(FLOW_TOKEN, token)
    raise unauthorized("the key or token is not valid")


def require_metrics_key(request: web.Request, metrics_key: str | None, readers: tuple[str, ...] = ()) -> None:
    """``/metrics`` (of ``serve`` and of ``worker``) is never open: it wants MFA_FLOW_METRICS_KEY
    as a Bearer token and, when none is set, the admin or the auditor key (``readers``). A
    scraper with the metrics key gets no other power; a refused scrape costs no database read."""
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    value = value.strip()
    keys = (metrics_key,) if metrics_key else tuple(key for key in readers if key)
    if scheme.lower() == "bearer" and value and value.isascii() and any(same(value, key) for key in keys):
        return
    if metrics_key:
        raise unauthorized("/metrics needs the metrics key (MFA_FLOW_METRICS_KEY) as a Bearer token")
    raise unauthorized("/metrics needs the admin or auditor key as a Bearer token (or the metrics key,"
                       " once MFA_FLOW_METRICS_KEY is set)")


def require_admin(request: web.Request) -> Caller:
    who = caller(request)
    if who.role is None:
        raise unauthorized("this endpoint needs the admin key as a Bearer token")
    if who.role != ADMIN:
        raise forbidden("this endpoint needs the admin key")
    return who


def require_reader(request: web.Request) -> Caller:
    who = caller(request)
    if who.role is None:
        raise unauthorized("this endpoint needs the admin or auditor key as a Bearer token")
    if who.role not in (ADMIN, AUDITOR):
        raise forbidden("this endpoint needs the admin or auditor key")
    return who


async def whoami(request: web.Request) -> web.Response:
    """Which credential the request carries (the console shows the admin or the read-only view)."""
    who = caller(request)
    if who.role is None:
        raise unauthorized("send a key or a flow token as a Bearer token")
    return web.json_response({"role": who.role})


def routes() -> list[web.RouteDef]:
    return [web.get("/api/whoami", whoami)]


def check_flow_access(who: Caller, flow: Flow | None, drive: bool) -> None:
    """Reading a flow: its token, admin, auditor. Driving it: its token or admin (the domain's rule)."""
    check_access(who.principal, flow, drive)
