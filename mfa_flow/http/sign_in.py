"""/api/sign-in-options (anyone): what the sign-in page may offer before any flow exists.

The page shows its form with no flow behind it (a flow is made when the person acts), so it
asks here whether to offer passkeys (the username field's autofill, or a button) and sign-up.
No secret, nothing about any user."""

from __future__ import annotations

from aiohttp import web

from .keys import FLOWS


async def sign_in_options(request: web.Request) -> web.Response:
    return web.json_response(await request.app[FLOWS].sign_in_options(), headers={"Cache-Control": "no-store"})


def routes() -> list[web.RouteDef]:
    return [web.get("/api/sign-in-options", sign_in_options)]
