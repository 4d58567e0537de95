"""GET /api/users/{user_id}/sign-ins: a user's sign-in history (admin)."""

from __future__ import annotations

from aiohttp import web

from .auth import require_admin
from .keys import FLOWS
from .management import DEFAULT_PAGE, MAX_PAGE
from .validation import query_int


async def list_sign_ins(request: web.Request) -> web.Response:
    require_admin(request)
    limit = query_int(request, "limit", DEFAULT_PAGE, 1, MAX_PAGE)
    assert limit is not None  # it has a default
    page = await request.app[FLOWS].history.page(request.match_info["user_id"], request.query.get("after"), limit)
    return web.json_response(page)


def routes() -> list[web.RouteDef]:
    return [web.get("/api/users/{user_id}/sign-ins", list_sign_ins)]
