"""Every error leaves as RFC 9457 application/problem+json.

This module is the only place where the domain's errors (``mfa_flow.domain.errors``) become
HTTP: each kind of error has its status and title here, its facts become extension members.
"""

from __future__ import annotations

import asyncio
from typing import Any, Awaitable, Callable

from aiohttp import web

from .. import jsoncodec, logs
from ..domain import errors
from ..request_writes import REQUEST_WRITES, Writes
from ..store.connections import is_connection_lost
from .keys import RESPONSE_STARTED

log = logs.get(__name__)


class HttpError(Exception):
    """The root of the HTTP layer's errors."""


class Problem(HttpError):
    """An HTTP problem document, raised by the HTTP layer and rendered by the middleware."""

    def __init__(self, status: int, slug: str, title: str, detail: str, headers: dict[str, str] | None = None,
                 **extra: Any) -> None:
        super().__init__(detail)
        self.status = status
        self.slug = slug
        self.title = title
        self.detail = detail
        self.headers = headers or {}
        self.extra = extra

    def body(self, instance: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"type": f"urn:mfa-flow:problem:{self.slug}", "title": self.title, "status": self.status}
        body["detail"] = self.detail
        if instance:
            body["instance"] = instance
        body.update(self.extra)
        return body


def invalid(detail: str, **extra: Any) -> Problem:
    return Problem(400, "invalid-request", "Invalid request", detail, **extra)


def not_found(what: str) -> Problem:
    return Problem(404, "not-found", "Not found", f"{what} does not exist")


# Status and title of each domain error (the most specific class listed wins).
_STATUS: dict[type[errors.DomainError], tuple[int, str]] = {
    errors.NotFound: (404, "Not found"),
    errors.RuleBroken: (422, "Request breaks a rule"),
    errors.WrongProof: (422, "Wrong proof"),
    errors.WrongAddress: (422, "Passkey used at another address"),
    errors.WebhookUrlRefused: (422, "Webhook URL refused"),
    errors.Conflict: (409, "Conflict"),
    errors.UserLocked: (429, "Too many failed attempts"),
    errors.RateLimited: (429, "Too many requests"),
    errors.FlowEventLimit: (429, "Too many events"),
    errors.LiveSubscriptionLimit: (429, "Too many live subscriptions"),
    errors.Busy: (503, "Busy"),
    errors.FlowExpired: (410, "Flow expired"),
    errors.InvalidInput: (400, "Invalid request"),
    errors.Unauthenticated: (401, "Unauthorized"),
    errors.Forbidden: (403, "Forbidden"),
    errors.DomainError: (400, "Invalid request"),
}


def from_domain(error: errors.DomainError) -> Problem:
    status, title = next(v for cls, v in _STATUS.items() if isinstance(error, cls))
    headers = None
    if isinstance(error, (errors.UserLocked, errors.RateLimited, errors.Busy)):
        headers = {"Retry-After": str(error.retry_after)}
    elif isinstance(error, errors.Unauthenticated):
        headers = {"WWW-Authenticate": "Bearer"}
    facts = dict(error.facts)
    if error.field is not None and status == 422:  # the setting to change, named for a program too
        facts.setdefault("field", error.field)
    return Problem(status, error.kind, title, error.detail, headers=headers, **facts)


def as_problem(error: Problem | errors.DomainError) -> Problem:
    return error if isinstance(error, Problem) else from_domain(error)


_AIOHTTP_SLUGS = {
    400: "invalid-request",
    401: "unauthorized",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    413: "body-too-large",
    415: "unsupported-media-type",
}


def problem_response(problem: Problem, request: web.Request | None = None) -> web.Response:
    body = problem.body(request.path if request is not None else None)
    response = web.Response(
        status=problem.status,
        body=jsoncodec.dumps_bytes(body),
        content_type="application/problem+json",
        charset="utf-8",
        headers=problem.headers,
    )
    if problem.status == 408:
        response.force_close()  # the rest of the body may still come: the connection is spent
    return response


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# A request that lost its database connection before it committed anything runs again
# on a fresh connection after each of these pauses; after that (or after a commit whose
# outcome is unknown) the answer is 503 with Retry-After. The pauses let a crowded server
# free a connection, or a pooled one come back, before the request gives up.
REPLAY_PAUSES_SECONDS = (0.05, 0.2, 0.5)


def database_unavailable() -> Problem:
    return Problem(
        503,
        "database-unavailable",
        "Database unavailable",
        "the database connection was lost; if this request changed something, read the resource"
        " again before you retry it",
        headers={"Retry-After": "1"},
        retry_after=1,
    )


async def mark_response_started(request: web.Request, response: web.StreamResponse) -> None:
    request[RESPONSE_STARTED] = True


def _why(exc: BaseException) -> str:
    """The error's type, and its cause's (a DatabaseUnavailable says why it could not connect)."""
    cause = exc.__cause__
    return type(exc).__name__ + (f" ({type(cause).__name__})" if cause is not None else "")


async def _handle(request: web.Request, handler: Handler) -> web.StreamResponse:
    writes = Writes()
    REQUEST_WRITES.set(writes)
    replays = 0
    while True:
        try:
            return await handler(request)
        except Exception as exc:
            if (
                not is_connection_lost(exc)
                or writes.commits
                or request.get(RESPONSE_STARTED)
                or replays >= len(REPLAY_PAUSES_SECONDS)
            ):
                raise
            log.warning("database connection lost; running the request again", path=request.path,
                        method=request.method, error=_why(exc), replay=replays + 1)
            await asyncio.sleep(REPLAY_PAUSES_SECONDS[replays])
            replays += 1


@web.middleware
async def problems_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        if any("\x00" in value for value in request.match_info.values()):
            # PostgreSQL text cannot hold NUL, so no id with one names anything here.
            raise Problem(404, "not-found", "Not found", f"no resource at {request.path!r}")
        return await _handle(request, handler)
    except (Problem, errors.DomainError) as error:
        if isinstance(error, errors.DomainFault):  # not a refusal: the server's fault
            return internal_error(request)
        return problem_response(as_problem(error), request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        detail = exc.text if exc.text and not exc.text.startswith(f"{exc.status}:") else exc.reason
        if exc.status == 413:
            detail = "the request body is too large (at most 64 KiB)"
        if exc.status == 405:
            detail = f"{request.method} is not allowed on {request.path}"
        if exc.status == 404:
            detail = f"no resource at {request.path}"
        slug = _AIOHTTP_SLUGS.get(exc.status, "http-error")
        headers = {k: v for k, v in exc.headers.items() if k.lower() in ("allow", "retry-after")}
        return problem_response(Problem(exc.status, slug, exc.reason, detail or "", headers=headers), request)
    except Exception as exc:
        if is_connection_lost(exc):
            log.warning("database connection lost", path=request.path, method=request.method, error=_why(exc))
            return problem_response(database_unavailable(), request)
        return internal_error(request)


def internal_error(request: web.Request) -> web.Response:
    """The answer to an error no client caused (called while it is handled: it is logged)."""
    log.exception("unhandled error", path=request.path, method=request.method)
    return problem_response(
        Problem(500, "internal-error", "Internal error", "the server failed; the error is logged"), request
    )
