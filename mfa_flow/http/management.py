"""/api/config and /api/users: the Management API (admin key)."""

from __future__ import annotations

from urllib.parse import quote

from aiohttp import web

from .auth import require_admin
from .keys import MANAGEMENT
from .problems import invalid
from .validation import query_int, read_json

# GET /api/users: page sizes, and the longest search text (no username, email or phone is longer).
DEFAULT_PAGE, MAX_PAGE, MAX_SEARCH = 50, 200, 320


async def get_config(request: web.Request) -> web.Response:
    require_admin(request)
    return web.json_response(await request.app[MANAGEMENT].get_config())


async def put_config(request: web.Request) -> web.Response:
    require_admin(request)
    body = await read_json(request, "MfaConfig")
    return web.json_response(await request.app[MANAGEMENT].put_config(body))


async def create_user(request: web.Request) -> web.Response:
    require_admin(request)
    body = await read_json(request, "NewUser")
    user = await request.app[MANAGEMENT].add_user(body)
    return web.json_response(user, status=201, headers={"Location": f"/api/users/{quote(user['id'], safe='')}"})


async def list_users(request: web.Request) -> web.Response:
    require_admin(request)
    search, after = request.query.get("search"), request.query.get("after")
    if search is not None and (len(search) > MAX_SEARCH or any(c < " " or c == "\x7f" for c in search)):
        raise invalid(f"search must be at most {MAX_SEARCH} characters, without control characters")
    limit = query_int(request, "limit", DEFAULT_PAGE, 1, MAX_PAGE)
    return web.json_response(await request.app[MANAGEMENT].list_users(search or None, after, limit))


async def change_user(request: web.Request) -> web.Response:
    require_admin(request)
    body = await read_json(request, "UserPatch")
    return web.json_response(await request.app[MANAGEMENT].change_user(request.match_info["user_id"], body))


async def get_user(request: web.Request) -> web.Response:
    require_admin(request)
    return web.json_response(await request.app[MANAGEMENT].get_user(request.match_info["user_id"]))


async def delete_user(request: web.Request) -> web.Response:
    require_admin(request)
    await request.app[MANAGEMENT].delete_user(request.match_info["user_id"])
    return web.Response(status=204)


async def unlock_user(request: web.Request) -> web.Response:
    require_admin(request)
    return web.json_response(await request.app[MANAGEMENT].unlock_user(request.match_info["user_id"]))


async def reset_mfa(request: web.Request) -> web.Response:
    require_admin(request)
    return web.json_response(await request.app[MANAGEMENT].reset_mfa(request.match_info["user_id"]))


async def list_factors(request: web.Request) -> web.Response:
    require_admin(request)
    return web.json_response(await request.app[MANAGEMENT].list_factors(request.match_info["user_id"]))


async def add_factor(request: web.Request) -> web.Response:
    require_admin(request)
    body = await read_json(request, "NewVerification")
    created = await request.app[MANAGEMENT].add_factor(request.match_info["user_id"], body)
    return web.json_response(created, status=201)


async def rename_factor(request: web.Request) -> web.Response:
    require_admin(request)
    body = await read_json(request, "VerificationPatch")
    m = request.match_info
    return web.json_response(
        await request.app[MANAGEMENT].rename_factor(m["user_id"], m["verification_id"], body["name"])
    )


async def delete_verification(request: web.Request) -> web.Response:
    require_admin(request)
    m = request.match_info
    await request.app[MANAGEMENT].remove_factor(m["user_id"], m["verification_id"])
    return web.Response(status=204)


async def list_devices(request: web.Request) -> web.Response:
    require_admin(request)
    return web.json_response(await request.app[MANAGEMENT].list_devices(request.match_info["user_id"]))


async def revoke_devices(request: web.Request) -> web.Response:
    require_admin(request)
    await request.app[MANAGEMENT].revoke_devices(request.match_info["user_id"], request.match_info.get("device_id"))
    return web.Response(status=204)


def routes() -> list[web.RouteDef]:
    return [
        web.get("/api/config/mfa", get_config),
        web.put("/api/config/mfa", put_config),
        web.post("/api/users", create_user),
        web.get("/api/users", list_users),
        web.get("/api/users/{user_id}", get_user),
        web.patch("/api/users/{user_id}", change_user),
        web.post("/api/users/{user_id}/unlock", unlock_user),
        web.post("/api/users/{user_id}/reset-mfa", reset_mfa),
        web.delete("/api/users/{user_id}", delete_user),
        web.get("/api/users/{user_id}/mfa-verifications", list_factors),
        web.post("/api/users/{user_id}/mfa-verifications", add_factor),
        web.patch("/api/users/{user_id}/mfa-verifications/{verification_id}", rename_factor),
        web.delete("/api/users/{user_id}/mfa-verifications/{verification_id}", delete_verification),
        web.get("/api/users/{user_id}/trusted-devices", list_devices),
        web.delete("/api/users/{user_id}/trusted-devices", revoke_devices),
        web.delete("/api/users/{user_id}/trusted-devices/{device_id}", revoke_devices),
    ]
