"""Every log line of a request carries its request id (and the flow id, for a flow's routes),
bound in structlog's context variables for the request's task."""

from __future__ import annotations

import uuid
from typing import Awaitable, Callable

import structlog
from aiohttp import web

REQUEST_ID_HEADER = "X-Request-Id"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _request_id(request: web.Request) -> str:
    """The caller's id when it looks like one (a proxy's), else a new one."""
    given = request.headers.get(REQUEST_ID_HEADER, "")
    if 0 < len(given) <= 64 and given.isascii() and all(c.isalnum() or c in "-_." for c in given):
        return given
    return uuid.uuid4().hex


@web.middleware
async def request_context_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    request_id = _request_id(request)
    bound = {"request_id": request_id}
    flow_id = request.match_info.get("flow_id")
    if flow_id is not None and len(flow_id) <= 64 and flow_id.isprintable():
        bound["flow_id"] = flow_id
    with structlog.contextvars.bound_contextvars(**bound):
        response = await handler(request)
    if not response.prepared:
        response.headers[REQUEST_ID_HEADER] = request_id
    return response
