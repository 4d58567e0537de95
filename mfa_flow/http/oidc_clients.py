"""/api/oidc/clients: the OpenID Connect clients (admin key). A secret is shown once, in the
answer that made it (creation, rotation, or a change to a method that uses one)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from .. import jsoncodec
from ..oidc.clients import Client
from .auth import require_admin
from .keys import OIDC
from .validation import read_json


def _shown(client: Client, secret: str | None = None) -> dict[str, Any]:
    view = client.as_json(datetime.now(UTC))
    if secret is not None:
        view["client_secret"] = secret
    return view


def _json(body: Any, status: int = 200, **headers: str) -> web.Response:
    return web.Response(body=jsoncodec.dumps_bytes(body), status=status, content_type="application/json",
                        headers=headers)


async def create_client(request: web.Request) -> web.Response:
    require_admin(request)
    body = await read_json(request, "NewOidcClient")
    client, secret = await request.app[OIDC].register(body)
    return _json(_shown(client, secret), 201, Location=f"/api/oidc/clients/{client.id}")


async def list_clients(request: web.Request) -> web.Response:
    require_admin(request)
    return _json({"items": [_shown(c) for c in await request.app[OIDC].clients()]})


async def get_client(request: web.Request) -> web.Response:
    require_admin(request)
    return _json(_shown(await request.app[OIDC].client(request.match_info["client_id"])))


async def update_client(request: web.Request) -> web.Response:
    require_admin(request)
    body = await read_json(request, "OidcClientPatch")
    client, secret = await request.app[OIDC].update(request.match_info["client_id"], body)
    return _json(_shown(client, secret))


async def delete_client(request: web.Request) -> web.Response:
    require_admin(request)
    await request.app[OIDC].delete(request.match_info["client_id"])
    return web.Response(status=204)


async def rotate_secret(request: web.Request) -> web.Response:
    require_admin(request)
    client, secret = await request.app[OIDC].rotate_secret(request.match_info["client_id"])
    return _json(_shown(client, secret))


def routes() -> list[web.RouteDef]:
    return [
        web.post("/api/oidc/clients", create_client),
        web.get("/api/oidc/clients", list_clients),
        web.get("/api/oidc/clients/{client_id}", get_client),
        web.patch("/api/oidc/clients/{client_id}", update_client),
        web.delete("/api/oidc/clients/{client_id}", delete_client),
        web.post("/api/oidc/clients/{client_id}/rotate-secret", rotate_secret),
    ]
