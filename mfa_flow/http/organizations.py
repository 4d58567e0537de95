"""/api/organizations: organisations and their members (admin key)."""

from __future__ import annotations

from aiohttp import web

from ..app.organizations import Organizations
from .auth import require_admin
from .keys import MANAGEMENT
from .management import DEFAULT_PAGE, MAX_PAGE
from .validation import query_int, read_json


def _service(request: web.Request) -> Organizations:
    return request.app[MANAGEMENT].organizations


async def create_organization(request: web.Request) -> web.Response:
    require_admin(request)
    body = await read_json(request, "NewOrganization")
    created = await _service(request).create(body)
    return web.json_response(created, status=201, headers={"Location": f"/api/organizations/{created['id']}"})


async def list_organizations(request: web.Request) -> web.Response:
    require_admin(request)
    limit = query_int(request, "limit", DEFAULT_PAGE, 1, MAX_PAGE)
    return web.json_response(await _service(request).list(request.query.get("after"), limit))


async def get_organization(request: web.Request) -> web.Response:
    require_admin(request)
    return web.json_response(await _service(request).get(request.match_info["organization_id"]))


async def change_organization(request: web.Request) -> web.Response:
    require_admin(request)
    body = await read_json(request, "OrganizationPatch")
    return web.json_response(await _service(request).change(request.match_info["organization_id"], body))


async def delete_organization(request: web.Request) -> web.Response:
    require_admin(request)
    await _service(request).delete(request.match_info["organization_id"])
    return web.Response(status=204)


async def list_members(request: web.Request) -> web.Response:
    require_admin(request)
    limit = query_int(request, "limit", DEFAULT_PAGE, 1, MAX_PAGE)
    return web.json_response(
        await _service(request).members(request.match_info["organization_id"], request.query.get("after"), limit)
    )


async def add_member(request: web.Request) -> web.Response:
    require_admin(request)
    m = request.match_info
    membership, added = await _service(request).add_member(m["organization_id"], m["user_id"])
    return web.json_response(membership, status=201 if added else 200)


async def remove_member(request: web.Request) -> web.Response:
    require_admin(request)
    m = request.match_info
    await _service(request).remove_member(m["organization_id"], m["user_id"])
    return web.Response(status=204)


def routes() -> list[web.RouteDef]:
    return [
        web.post("/api/organizations", create_organization),
        web.get("/api/organizations", list_organizations),
        web.get("/api/organizations/{organization_id}", get_organization),
        web.patch("/api/organizations/{organization_id}", change_organization),
        web.delete("/api/organizations/{organization_id}", delete_organization),
        web.get("/api/organizations/{organization_id}/members", list_members),
        web.put("/api/organizations/{organization_id}/members/{user_id}", add_member),
        web.delete("/api/organizations/{organization_id}/members/{user_id}", remove_member),
    ]
