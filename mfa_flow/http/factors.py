"""``GET /api/factors`` (anyone; no secrets): the factor catalogue, in the order the sign-in page
offers the factors, with each one's words in the request's language (issue 27, "Languages").

The words come from the pages' own message catalogues (``mfa_flow/web/i18n/<locale>.json``,
keys ``factor.<name>.name`` and ``factor.<name>.hint``): one source for the page and the API.
The language: ``?lang=`` (or ``ui_locales``), then ``Accept-Language``, then
``MFA_FLOW_DEFAULT_LOCALE``."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

from aiohttp import web

from .keys import FLOWS, MANAGEMENT
from .pages import negotiate, site


@cache
def catalogue(folder: Path, code: str) -> dict[str, str]:
    words: dict[str, str] = json.loads((folder / "i18n" / f"{code}.json").read_text(encoding="utf-8"))
    return words


def request_locale(request: web.Request) -> str:
    current = site(request)
    asked = " ".join(filter(None, (request.query.get("lang"), request.query.get("ui_locales"))))
    if asked:
        chosen = negotiate(asked.replace(" ", ","), current.locales, "")
        if chosen:
            return chosen
    return current.locale_for(request.headers.get("Accept-Language"))


async def factor_catalogue(request: web.Request) -> web.Response:
    code = request_locale(request)
    folder = site(request).folder
    words, english = catalogue(folder, code), catalogue(folder, "en")
    registry = request.app[FLOWS].factors
    config = await request.app[MANAGEMENT].get_config()
    items = []
    for factor in registry:
        name = factor.name
        title, hint = (words.get(f"factor.{name}.{part}") or english.get(f"factor.{name}.{part}") or name
                       for part in ("name", "hint"))
        items.append({"name": name, "kind": "primary" if name in registry.machine.primary_factors else "backup",
                      "amr": [factor.amr], "enabled": name in config["factors"], "title": title, "hint": hint})
    return web.json_response({"items": items}, headers={"Content-Language": code, "Vary": "Accept-Language"})


def routes() -> list[web.RouteDef]:
    return [web.get("/api/factors", factor_catalogue)]
