"""Every error leaves as RFC 9457 application/problem+json."""

from __future__ import annotations

import json

from aiohttp import web

from .. import logs
from ..problems import Problem

log = logs.get("mfa_flow.http")

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


@web.middleware
async def problems_middleware(request: web.Request, handler):
    try:
        if any("\x00" in value for value in request.match_info.values()):
            # PostgreSQL text cannot hold NUL, so no id with one names anything here.
            raise Problem(404, "not-found", "Not found", f"no resource at {request.path!r}")
        return await handler(request)
    except Problem as problem:
        return problem_response(problem, request)
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
        return problem_response(Problem(exc.status, slug, exc.reason, detail, headers=headers), request)
    except Exception:
        log.exception("unhandled error", path=request.path, method=request.method)
        return problem_response(
            Problem(500, "internal-error", "Internal error", "the server failed; the error is logged"), request
        )
