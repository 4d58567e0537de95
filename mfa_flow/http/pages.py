"""The sign-in page (static HTML and JavaScript that drive the public flow API)."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

WEB = Path(__file__).resolve().parent.parent / "web"


async def signin_page(request):
    return web.FileResponse(WEB / "index.html", headers={"Cache-Control": "no-cache"})


def routes() -> list[web.AbstractRouteDef]:
    return [web.get("/", signin_page), web.static("/static", WEB)]
