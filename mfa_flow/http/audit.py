"""The audit API: the whole log in its global order, signed checkpoints, and the JWKS."""

from __future__ import annotations

import json

from aiohttp import web

from ..audit.feed import transition_json
from ..audit.verify import format_cursor, parse_cursor
from .auth import require_reader
from .problems import invalid
from .validation import query_int

DEFAULT_LIMIT = 1000
MAX_LIMIT = 10000


def _limit(request: web.Request) -> int:
    limit = query_int(request, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
    assert limit is not None  # it has a default
    return limit


async def audit_transitions(request: web.Request) -> web.StreamResponse:
    """NDJSON, one transition per line, after ``after`` in the global order. Only rows below
    the oldest transaction still in flight are handed out, so resuming from the last cursor
    never misses a row that commits later. ``Next-Cursor`` says where to resume."""
    require_reader(request)
    try:
        after = parse_cursor(request.query.get("after", "0"))
    except ValueError as exc:
        raise invalid(str(exc)) from None
    limit = _limit(request)
    rows = await request.app["audit"].settled_rows(after, limit)
    body = "".join(json.dumps(transition_json(r), ensure_ascii=False) + "\n" for r in rows)
    next_cursor = rows[-1]["cursor"] if rows else format_cursor(after)
    return web.Response(
        text=body, content_type="application/x-ndjson", headers={"Next-Cursor": next_cursor}
    )


async def audit_checkpoints(request: web.Request) -> web.Response:
    """Signed checkpoints after checkpoint id ``after``, with every public key that may have
    signed one (keys stay here after they leave the JWKS)."""
    require_reader(request)
    after = query_int(request, "after", 0, 0, 10**18 - 1)
    return web.json_response(await request.app["audit"].checkpoints(after, _limit(request)))


async def jwks(request: web.Request) -> web.Response:
    return web.json_response(
        await request.app["audit"].jwks(),
        content_type="application/jwk-set+json",
        headers={"Cache-Control": "public, max-age=60"},
    )


def routes() -> list[web.RouteDef]:
    return [
        web.get("/api/audit/transitions", audit_transitions),
        web.get("/api/audit/checkpoints", audit_checkpoints),
        web.get("/.well-known/jwks.json", jwks),
    ]
