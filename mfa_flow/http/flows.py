"""/api/flows: start, read (with long-poll), drive, and read the log of a flow."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from .. import jsoncodec, texts
from ..app.flows import PASSWORD_EVENTS
from ..domain.flow import Flow, canonical_flow_id, iso
from ..domain.machine import is_terminal
from ..numbers import whole_number
from .auth import ADMIN, AUDITOR, Caller, caller, check_flow_access, forbidden, require_reader
from .clients import request_address
from .keys import FEED, FLOWS, LIMITS
from .pages import negotiate
from .problems import invalid, not_found
from .validation import SCHEMAS, event_component, query_int, read_json, read_json_object

MAX_WAIT_SECONDS = 60


def path_flow_id(request: web.Request) -> str:
    """The flow id of the path in its canonical form: live subscriptions are keyed by it."""
    flow_id = canonical_flow_id(request.match_info["flow_id"])
    if flow_id is None:
        raise not_found(f"flow {request.match_info['flow_id']}")
    return flow_id


def _flow_response(request: web.Request, flow: Flow, who: Caller, status: int = 200,
                   body: dict[str, Any] | None = None) -> web.Response:
    service = request.app[FLOWS]
    payload = body if body is not None else service.view(flow, owner=who.owns(flow), auditor=who.role == AUDITOR,
                                                         masked=who.masked(flow))
    return web.Response(body=jsoncodec.dumps_bytes(payload), status=status, content_type="application/json",
                        headers={"ETag": f'"{flow.version}"'})


def _version_tag(header: str | None, name: str) -> int | None:
    """A flow version from an ETag header value such as ``"3"`` (quotes and W/ optional)."""
    if not header or header.strip() == "*":
        return None
    version = whole_number(header.strip().removeprefix("W/").strip('"'))
    if version is None:
        raise invalid(f'{name} must be a flow version ETag such as "3", not {header[:40]!r}')
    return version


async def create_flow(request: web.Request) -> web.Response:
    who = caller(request)
    body = await read_json(request, "CreateFlow", optional=True)
    if body.get("require_mfa") and "user" not in body:
        raise invalid("body.require_mfa: a step-up is for a user the embedding backend authenticated; send user too")
    if "user" in body and who.role != ADMIN:
        raise forbidden("only the admin key may start a flow for an authenticated user")
    account = body.get("purpose") == "manage"
    if "subject_token" in body and not account:
        raise invalid('body.subject_token: a subject token starts an account flow; send it with "purpose": "manage"')
    if account and ("subject_token" in body) == ("user" in body):
        raise invalid("an account flow (purpose manage) needs either subject_token (the result token of a recent"
                      " sign-in) or, with the admin key, user")
    if account and body.get("require_mfa"):
        raise invalid("body.require_mfa: an account flow steps up on its own, whenever the user has factors and"
                      " the sign-in behind it did not prove MFA")
    if "device_token" in body and ("user" not in body or account):
        raise invalid("device_token comes with user: it is the device token of the user whose first factor "
                      "the backend asserts (a client sends its own with submit_password); an account flow takes none")
    if who.role != ADMIN:  # the admin key is never counted by abuse limits
        await request.app[LIMITS].flow_created(request_address(request))
    # The caller's language (the pages send their own in Accept-Language): the flow's codes are
    # written in it when the user has no locale of their own.
    locale = negotiate(request.headers.get("Accept-Language"), texts.LOCALES, "") or None
    if account:
        client = request_address(request) if who.role != ADMIN else None  # a step-up's code spends its budget
        flow, token = await request.app[FLOWS].create_account_flow(
            who.principal, user_spec=body.get("user"), subject_token=body.get("subject_token"), client=client,
            locale=locale)
    else:
        flow, token = await request.app[FLOWS].create(body.get("user"), who.principal, body.get("device_token"),
                                                        bool(body.get("require_mfa")), locale=locale)
    view = request.app[FLOWS].view(flow, owner=True)
    response = _flow_response(request, flow, who, 201, {"flow": view, "flow_token": token})
    response.headers["Location"] = f"/api/flows/{flow.id}"
    return response


async def get_flow(request: web.Request) -> web.Response:
    who = caller(request)
    service = request.app[FLOWS]
    flow_id = path_flow_id(request)
    try:
        wait = float(request.query.get("wait", "0"))
    except ValueError:
        raise invalid("wait must be a number of seconds") from None
    if not 0 <= wait <= MAX_WAIT_SECONDS:
        raise invalid(f"wait must be between 0 and {MAX_WAIT_SECONDS} seconds")
    known = _version_tag(request.headers.get("If-None-Match"), "If-None-Match")
    flow = await service.get(flow_id)
    check_flow_access(who, flow, drive=False)
    # Without If-None-Match, ?wait waits for any version newer than the current one.
    baseline = known if known is not None else flow.version
    if wait and flow.version == baseline and not is_terminal(flow.state):
        # The same change feed the streams follow: it re-reads after subscribing (no change
        # is missed), wakes at the expiry time, and ends when the server shuts down.
        updates = request.app[FEED].watch(flow_id, service.get, after=baseline)
        try:
            async with asyncio.timeout(wait):
                flow = await anext(updates)
        except (TimeoutError, StopAsyncIteration):
            pass
        finally:
            await updates.aclose()
    if known is not None and flow.version == known:
        return web.Response(status=304, headers={"ETag": f'"{flow.version}"'})
    return _flow_response(request, flow, who)


async def drive(app: web.Application, who: Caller, address: str, flow_id: str, body: object,
                if_match: int | None = None) -> Flow:
    """Check and apply one client event to a flow: the one way in for ``POST .../events``
    and for events sent over the WebSocket. Raises a Problem or a domain error for anything refused."""
    if who.role is None:  # refuse the anonymous before reading their body
        check_flow_access(who, None, drive=True)
    if not isinstance(body, dict):
        raise invalid("the event must be a JSON object")
    app[SCHEMAS].check(event_component(body, app[SCHEMAS].client_events), body)
    if body["type"] in PASSWORD_EVENTS and who.role != ADMIN:  # counted before argon2 runs
        await app[LIMITS].password_attempt(address, body["username"])
    event = dict(body)
    expected = event.pop("expected_version", None)
    if expected is None:
        expected = if_match
    # Who may drive the flow is checked in the event's transaction, on the locked flow.
    client = address if who.role != ADMIN else None  # codes sent count against the client's budget
    return await app[FLOWS].apply(flow_id, event, who.principal, expected_version=expected, client=client)


async def post_event(request: web.Request) -> web.Response:
    who = caller(request)
    body = await read_json_object(request)
    if_match = _version_tag(request.headers.get("If-Match"), "If-Match")
    flow = await drive(request.app, who, request_address(request), request.match_info["flow_id"], body, if_match)
    return _flow_response(request, flow, who)


MAX_LIST = 200


async def list_flows(request: web.Request) -> web.Response:
    """Recent flows, newest first (admin, auditor): the console's list. No tokens, no secrets."""
    who = require_reader(request)
    service = request.app[FLOWS]
    limit = query_int(request, "limit", 50, 1, MAX_LIST)
    assert limit is not None  # it has a default
    before = request.query.get("before")
    if before is not None and canonical_flow_id(before) is None:
        raise invalid("before must be the id of a flow (the previous page's next)")
    state = request.query.get("state")
    if state is not None and state not in service.machine.states:
        raise invalid("state must be one of: " + ", ".join(service.machine.states))
    flows = await service.recent(limit, before and canonical_flow_id(before), state, request.query.get("user_id"))
    return web.json_response({
        "items": [service.view(flow, owner=False, auditor=True, masked=who.masked()) for flow in flows],
        "next": flows[-1].id if len(flows) == limit else None,
    })


async def get_transitions(request: web.Request) -> web.Response:
    require_reader(request)
    flow_id = request.match_info["flow_id"]
    rows = await request.app[FLOWS].transitions(flow_id)
    return web.json_response([{**r, "at": iso(r["at"])} for r in rows])


def routes() -> list[web.RouteDef]:
    return [
        web.post("/api/flows", create_flow),
        web.get("/api/flows", list_flows),
        web.get("/api/flows/{flow_id}", get_flow),
        web.post("/api/flows/{flow_id}/events", post_event),
        web.get("/api/flows/{flow_id}/transitions", get_transitions),
    ]

