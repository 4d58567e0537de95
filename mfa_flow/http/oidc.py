"""The OpenID Provider's endpoints: discovery, PAR, authorization, token, UserInfo, and the
two the sign-in page calls for a flow that an authorization started.

Errors of the OAuth endpoints are OAuth's JSON (``error``, ``error_description``: what every
OAuth library reads), which also carries the RFC 9457 members the rest of the API answers
with. The authorization endpoint answers a request it cannot trust (unknown client, a
redirect URI not registered) with an error page, and every other refusal by sending the
browser back to the client with ``error``, ``state`` and ``iss``.
"""

from __future__ import annotations

import functools
import html
from typing import Awaitable, Callable, cast
from urllib.parse import urlencode

from aiohttp import web
from multidict import MultiDictProxy

from .. import texts
from ..oidc import discovery
from ..oidc.errors import OAuthError
from .auth import caller
from .clients import request_address
from .flows import path_flow_id
from .keys import LIMITS, OIDC, SETTINGS
from .pages import site

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
FORM = "application/x-www-form-urlencoded"
UI_LOCALES = ("en", "de", "fr", "es", "ja", "ar")  # the sign-in page's catalogues (web/i18n), ui_locales picks one


def oauth_error_response(error: OAuthError, request: web.Request) -> web.Response:
    body = {
        "error": error.error,
        "error_description": error.description,
        "type": f"urn:mfa-flow:problem:oauth-{error.error.replace('_', '-')}",
        "title": error.error.replace("_", " ").capitalize(),
        "status": error.status,
        "detail": error.description,
        "instance": request.path,
    }
    headers = dict(NO_STORE)
    if error.status == 401 and error.error == "invalid_client":
        headers["WWW-Authenticate"] = f'Basic realm="{request.app[SETTINGS].oidc_issuer}"'
    elif error.status == 401:
        headers["WWW-Authenticate"] = f'Bearer error="{error.error}"'
    return web.json_response(body, status=error.status, headers=headers)


def oauth_errors(handler: Handler) -> Handler:
    """An ``OAuthError`` from a back-channel endpoint (PAR, token, UserInfo) leaves as OAuth's JSON."""

    @functools.wraps(handler)
    async def answer(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except OAuthError as error:
            return oauth_error_response(error, request)

    return answer


async def _form(request: web.Request) -> MultiDictProxy[str]:
    if request.content_type != FORM:
        raise OAuthError("invalid_request", f"the request body must be {FORM}")
    return cast("MultiDictProxy[str]", await request.post())  # a form-urlencoded body holds text only


async def openid_configuration(request: web.Request) -> web.Response:
    document = discovery.document(request.app[SETTINGS].oidc_issuer, UI_LOCALES)
    return web.json_response(document, headers={"Cache-Control": "public, max-age=300"})


@oauth_errors
async def pushed_authorization_request(request: web.Request) -> web.Response:
    form = await _form(request)
    request_uri, expires_in = await request.app[OIDC].push(request.headers.get("Authorization"), form)
    return web.json_response({"request_uri": request_uri, "expires_in": expires_in}, status=201, headers=NO_STORE)


async def authorize(request: web.Request) -> web.StreamResponse:
    """GET (or a POSTed form, OIDC Core §3.1.2.1): start the flow and show the sign-in page
    bound to it; or send the browser back with an error; or an error page."""
    params = (await request.post()) if request.method == "POST" and request.content_type == FORM else request.query
    await request.app[LIMITS].flow_created(request_address(request))  # a new flow, as POST /api/flows
    try:
        outcome = await request.app[OIDC].authorize(params)
    except OAuthError as error:
        return error_page(request, error)
    if isinstance(outcome, str):
        raise web.HTTPSeeOther(outcome, headers=NO_STORE)
    query = {"flow": outcome.flow.id, **({"ui_locales": outcome.ui_locales} if outcome.ui_locales else {})}
    # The flow token goes in the fragment: the page reads it, the browser never sends it, and
    # no server's log sees it.
    page = f"/?{urlencode(query)}#{urlencode({'flow_token': outcome.flow_token})}"
    raise web.HTTPSeeOther(page, headers=NO_STORE)


def error_page(request: web.Request, error: OAuthError) -> web.Response:
    """The authorization endpoint's answer when nothing may go back to the client, in the
    request's ``ui_locales`` (else Accept-Language); the error's description stays English."""
    current = site(request)
    code = texts.offered(request.query.get("ui_locales"))
    if code not in current.oidc_errors:
        code = current.locale_for(request.headers.get("Accept-Language"))
    text = current.oidc_errors[code].replace("{{error}}", html.escape(error.error)).replace(
        "{{description}}", html.escape(error.description))
    return web.Response(text=text, status=400, content_type="text/html",
                        headers={**NO_STORE, "Content-Language": code, "Vary": "Accept-Language"})


@oauth_errors
async def token(request: web.Request) -> web.Response:
    form = await _form(request)
    answer = await request.app[OIDC].token(request.headers.get("Authorization"), form)
    return web.json_response(answer, headers=NO_STORE)


@oauth_errors
async def userinfo(request: web.Request) -> web.Response:
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise OAuthError("invalid_token", "send the access token as a Bearer token", status=401)
    return web.json_response(await request.app[OIDC].userinfo(value.strip()), headers=NO_STORE)


async def authorization_of_flow(request: web.Request) -> web.Response:
    """What the sign-in page shows of the authorization its flow is for (the flow's token)."""
    who = caller(request)
    view = await request.app[OIDC].authorization_view(path_flow_id(request), who.principal)
    return web.json_response(view, headers=NO_STORE)


async def return_to_client(request: web.Request) -> web.Response:
    """The ended flow's way back to the client: ``{"redirect_to": ...}`` for the page to follow."""
    who = caller(request)
    target = await request.app[OIDC].return_to_client(path_flow_id(request), who.principal)
    return web.json_response({"redirect_to": target}, headers=NO_STORE)


def routes() -> list[web.RouteDef]:
    return [
        web.get("/.well-known/openid-configuration", openid_configuration),
        web.get("/oidc/authorize", authorize),
        web.post("/oidc/authorize", authorize),
        web.get("/oidc/authorizations/{flow_id}", authorization_of_flow),
        web.post("/oidc/authorizations/{flow_id}/return", return_to_client),
        web.post("/oidc/par", pushed_authorization_request),
        web.post("/oidc/token", token),
        web.get("/oidc/userinfo", userinfo),
        web.post("/oidc/userinfo", userinfo),
    ]
