"""Every error leaves as RFC 9457 application/problem+json.

This module is the only place where the domain's errors (``mfa_flow.domain.errors``) become
HTTP: each kind of error has its status and title here, its facts become extension members.
"""

from __future__ import annotations

import json
from typing import Any, Awaitable, Callable

from aiohttp import web

from .. import logs
from ..domain import errors

log = logs.get(__name__)


class Problem(Exception):
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
    errors.WebhookUrlRefused: (422, "Webhook URL refused"),
    errors.Conflict: (409, "Conflict"),
    errors.UserLocked: (429, "Too many failed attempts"),
    errors.FlowExpired: (410, "Flow expired"),
    errors.InvalidInput: (400, "Invalid request"),
    errors.Unauthenticated: (401, "Unauthorized"),
    errors.Forbidden: (403, "Forbidden"),
    errors.DomainError: (400, "Invalid request"),
}


def from_domain(error: errors.DomainError) -> Problem:
    status, title = next(v for cls, v in _STATUS.items() if isinstance(error, cls))
    headers = None
    if isinstance(error, errors.UserLocked):
        headers = {"Retry-After": str(error.retry_after)}
    elif isinstance(error, errors.Unauthenticated):
        headers = {"WWW-Authenticate": "Bearer"}
    return Problem(status, error.kind, title, error.detail, headers=headers, **error.facts)


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
        text=json.dumps(body),
        content_type="application/problem+json",
        headers=problem.headers,
    )
    if problem.status == 408:
        response.force_close()  # the rest of the body may still come: the connection is spent
    return response


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def problems_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        if any("\x00" in value for value in request.match_info.values()):
            # PostgreSQL text cannot hold NUL, so no id with one names anything here.
            raise Problem(404, "not-found", "Not found", f"no resource at {request.path!r}")
        return await handler(request)
    except (Problem, errors.DomainError) as error:
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
    except Exception:
        log.exception("unhandled error", path=request.path, method=request.method)
        return problem_response(
            Problem(500, "internal-error", "Internal error", "the server failed; the error is logged"), request
        )
