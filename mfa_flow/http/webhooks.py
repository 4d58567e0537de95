"""/api/webhooks: endpoints, their secrets and their deliveries (admin key)."""

from __future__ import annotations

from aiohttp import web

from .auth import require_admin
from .keys import WEBHOOKS
from .problems import invalid
from .validation import query_int, read_json

MAX_LIMIT = 500
STATUSES = ("pending", "succeeded", "failed")


async def create_webhook(request: web.Request) -> web.Response:
    require_admin(request)
    body = await read_json(request, "NewWebhook")
    created = await request.app[WEBHOOKS].create(body)
    return web.json_response(created, status=201, headers={"Location": f"/api/webhooks/{created['id']}"})


async def list_webhooks(request: web.Request) -> web.Response:
    require_admin(request)
    return web.json_response(await request.app[WEBHOOKS].list())


async def get_webhook(request: web.Request) -> web.Response:
    require_admin(request)
    return web.json_response(await request.app[WEBHOOKS].get(request.match_info["webhook_id"]))


async def update_webhook(request: web.Request) -> web.Response:
    require_admin(request)
    body = await read_json(request, "WebhookPatch")
    return web.json_response(await request.app[WEBHOOKS].update(request.match_info["webhook_id"], body))


async def delete_webhook(request: web.Request) -> web.Response:
    require_admin(request)
    await request.app[WEBHOOKS].delete(request.match_info["webhook_id"])
    return web.Response(status=204)


async def rotate_secret(request: web.Request) -> web.Response:
    require_admin(request)
    return web.json_response(await request.app[WEBHOOKS].rotate_secret(request.match_info["webhook_id"]))


async def list_deliveries(request: web.Request) -> web.Response:
    require_admin(request)
    status = request.query.get("status")
    if status is not None and status not in STATUSES:
        raise invalid(f"status must be one of: {', '.join(STATUSES)}")
    limit = query_int(request, "limit", 100, 1, MAX_LIMIT)
    cursor = query_int(request, "cursor", None, 1, 2**63 - 1)
    page = await request.app[WEBHOOKS].deliveries(request.match_info["webhook_id"], status, cursor, limit)
    return web.json_response(page)


async def retry_delivery(request: web.Request) -> web.Response:
    require_admin(request)
    m = request.match_info
    return web.json_response(await request.app[WEBHOOKS].retry(m["webhook_id"], m["delivery_id"]))


def routes() -> list[web.RouteDef]:
    return [
        web.post("/api/webhooks", create_webhook),
        web.get("/api/webhooks", list_webhooks),
        web.get("/api/webhooks/{webhook_id}", get_webhook),
        web.patch("/api/webhooks/{webhook_id}", update_webhook),
        web.delete("/api/webhooks/{webhook_id}", delete_webhook),
        web.post("/api/webhooks/{webhook_id}/rotate-secret", rotate_secret),
        web.get("/api/webhooks/{webhook_id}/deliveries", list_deliveries),
        web.post("/api/webhooks/{webhook_id}/deliveries/{delivery_id}/retry", retry_delivery),
    ]
