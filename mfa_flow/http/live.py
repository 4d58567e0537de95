"""Live flow state: a WebSocket and a Server-Sent Events stream per flow.

Both follow the process's change feed (``mfa_flow.live``), so a change committed by any
process reaches every stream on every process. Both send only versions newer than the last
one sent; both end after a terminal state and when the server shuts down.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

from aiohttp import WSMsgType, web

from .. import jsoncodec, logs
from ..domain.errors import DomainError, DomainFault
from ..domain.flow import Flow
from ..domain.machine import is_terminal
from ..live import Subscription
from ..numbers import whole_number
from ..store.connections import is_connection_lost
from .auth import ADMIN, AUDITOR, Caller, caller, check_flow_access, forbidden, unauthorized
from .clients import request_address
from .flows import drive
from .keys import FEED, FLOWS
from .masking import MaskCheckingWebSocketResponse
from .problems import Problem, as_problem, database_unavailable, invalid

log = logs.get(__name__)

# Proxies drop connections that stay silent for a minute or so; a ping every 25 s keeps a
# quiet stream open, and a missing pong (after half of it) closes a dead one.
HEARTBEAT_SECONDS = 25.0
# An EventSource reconnects this long after the stream ends (the server drained, say).
SSE_RETRY_MS = 2000
MAX_MESSAGE_BYTES = 64 * 1024

# WebSocket close codes. 4000 + an HTTP status for refusals, as browsers hide the status of
# a refused handshake (they report 1006); the reason names the problem in words.
CLOSE_FINISHED = 1000  # the flow reached a terminal state (the reason says which)
CLOSE_GOING_AWAY = 1001  # this server is shutting down: reconnect, another one answers
CLOSE_INTERNAL_ERROR = 1011


def close_code(problem: Problem) -> int:
    return 4000 + problem.status  # 4401 no or wrong token, 4403 not this flow's, 4404 no such flow


def _check_watcher(who: Caller, flow: Flow) -> None:
    """Live streams are for the flow's own token and the admin key (the contract's table)."""
    if who.role == AUDITOR:
        raise forbidden("live streams need the flow's token or the admin key; the auditor key may GET the flow")
    check_flow_access(who, flow, drive=True)


# --- WebSocket ----------------------------------------------------------------------------


class FlowSocket:
    """One client's WebSocket on one flow: Flows out (newest only, in order), events in."""

    def __init__(self, request: web.Request, ws: web.WebSocketResponse, who: Caller, flow_id: str,
                 subscription: Subscription):
        self.request = request
        self.app = request.app
        self.ws = ws
        self.who = who
        self.flow_id = flow_id
        self.subscription = subscription
        self.sent_version = -1
        self.final_state: str | None = None
        self._send_lock = asyncio.Lock()  # a Flow is checked against the last sent and sent at once
        self._event_lock = asyncio.Lock()  # held while an event is applied and acknowledged

    def _view(self, flow: Flow) -> dict[str, Any]:
        return self.app[FLOWS].view(flow, owner=self.who.owns(flow), masked=self.who.masked(flow))

    async def push(self, flow: Flow) -> None:
        """Send the Flow unless the client already has this version or a newer one."""
        async with self._send_lock:
            if flow.version <= self.sent_version:
                return
            self.sent_version = flow.version
            await self.ws.send_json({"type": "flow", "flow": self._view(flow)}, dumps=jsoncodec.dumps)
            if is_terminal(flow.state):
                self.final_state = flow.state

    async def follow(self) -> None:
        async for flow in self.app[FEED].watch(self.flow_id, self.app[FLOWS].get, subscription=self.subscription):
            await self.push(flow)

    async def listen(self) -> None:
        async for message in self.ws:
            if message.type == WSMsgType.TEXT:
                async with self._event_lock:
                    await self.handle(message.data)
            elif message.type == WSMsgType.BINARY:
                await self._error(None, invalid("send events as text frames of JSON"))

    async def handle(self, text: str) -> None:
        try:
            message = json.loads(text)
        except (ValueError, RecursionError):
            await self._error(None, invalid("the message is not JSON (or is nested too deeply)"))
            return
        message_id = message.get("id") if isinstance(message, dict) else None
        if not isinstance(message, dict) or message.get("type") != "event":
            await self._error(message_id, invalid('send {"type": "event", "id": "...", "event": {...}}'))
            return
        try:
            flow = await drive(self.app, self.who, request_address(self.request), self.flow_id, message.get("event"))
        except (Problem, DomainError) as error:
            if isinstance(error, DomainFault):  # not a refusal: the server's fault
                await self._failed(message_id)
            else:
                await self._error(message_id, as_problem(error))
            return
        except Exception as exc:
            if is_connection_lost(exc):
                await self._error(message_id, database_unavailable())
            else:
                await self._failed(message_id)
            return
        await self.push(flow)  # the new state first, for clients that only follow "flow" messages
        await self.ws.send_json({"type": "ack", "id": message_id, "flow": self._view(flow)}, dumps=jsoncodec.dumps)

    async def _failed(self, message_id: Any) -> None:
        """Answer an event that failed by no fault of the client's (called while handling it)."""
        log.exception("event over WebSocket failed", flow_id=self.flow_id)
        await self._error(message_id, Problem(500, "internal-error", "Internal error", "the server failed"))

    async def _error(self, message_id: Any, problem: Problem) -> None:
        await self.ws.send_json({"type": "error", "id": message_id, "problem": problem.body(self.request.path)},
                                dumps=jsoncodec.dumps)

    async def run(self) -> None:
        follower = asyncio.create_task(self.follow())
        listener = asyncio.create_task(self.listen())
        try:
            await asyncio.wait({follower, listener}, return_when=asyncio.FIRST_COMPLETED)
            if follower.done() and not self.ws.closed:
                code, reason = self._why_closing(follower)
                # Stop reading first: aiohttp cuts the connection when it closes a socket that
                # another task is reading, and the client would see 1006 instead of our code.
                async with self._event_lock:  # the ack of the event that finished the flow goes first
                    listener.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await listener
                await self.ws.close(code=code, message=reason.encode())
        finally:
            for task in (follower, listener):
                task.cancel()
            for task in (follower, listener):
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task

    def _why_closing(self, follower: asyncio.Task[None]) -> tuple[int, str]:
        if follower.exception() is not None:
            log.error("WebSocket follower failed", flow_id=self.flow_id, error=repr(follower.exception()))
            return CLOSE_INTERNAL_ERROR, "the server failed"
        if self.final_state is not None:
            return CLOSE_FINISHED, f"flow {self.final_state}"
        return CLOSE_GOING_AWAY, "server shutting down"  # the feed closed its subscriptions


async def flow_socket(request: web.Request) -> web.StreamResponse:
    # No permessage-deflate, though browsers offer it: a compressor and decompressor (zlib's
    # windows) would cost about 100 KB a socket for messages of a few hundred bytes.
    ws = MaskCheckingWebSocketResponse(heartbeat=HEARTBEAT_SECONDS, max_msg_size=MAX_MESSAGE_BYTES, timeout=2.0,
                                       compress=False)
    if not ws.can_prepare(request).ok:
        raise Problem(426, "upgrade-required", "Upgrade required", "this endpoint speaks WebSocket only",
                      headers={"Upgrade": "websocket", "Connection": "Upgrade"})
    await ws.prepare(request)
    with contextlib.ExitStack() as held:
        try:
            who = caller(request, query_token=True)
            flow = await request.app[FLOWS].get(request.match_info["flow_id"])
            _check_watcher(who, flow)
            # The canonical id: the change feed's key. A flow with all its places taken: 4429.
            subscription = held.enter_context(request.app[FEED].subscribe(flow.id))
        except (Problem, DomainError) as error:
            if isinstance(error, DomainFault):
                raise  # not a refusal: the server's fault, as any unexpected error
            problem = as_problem(error)
            await ws.close(code=close_code(problem), message=problem.detail.encode()[:120])
            return ws
        await FlowSocket(request, ws, who, flow.id, subscription).run()
    return ws


# --- Server-Sent Events -------------------------------------------------------------------


def _last_event_id(request: web.Request) -> int:
    value = whole_number(request.headers.get("Last-Event-ID", "").strip())
    return -1 if value is None else value


def _sse(version: int, data: dict[str, Any]) -> bytes:
    return f"id: {version}\nevent: flow\ndata: {jsoncodec.dumps(data)}\n\n".encode()


async def flow_events(request: web.Request) -> web.StreamResponse:
    who = caller(request, query_token=True)
    service = request.app[FLOWS]
    flow = await service.get(request.match_info["flow_id"])
    flow_id = flow.id  # the canonical id: the change feed's key
    _check_watcher(who, flow)
    last = _last_event_id(request)
    if is_terminal(flow.state) and last >= flow.version:
        # The client has the final state: 204 tells an EventSource to stop reconnecting.
        return web.Response(status=204)
    with request.app[FEED].subscribe(flow_id) as subscription:  # before the headers: a refusal is a 429
        return await _stream_flow(request, who, flow_id, last, subscription)


async def _stream_flow(request: web.Request, who: Caller, flow_id: str, last: int,
                       subscription: Subscription) -> web.StreamResponse:
    service = request.app[FLOWS]
    response = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    )
    await response.prepare(request)
    write_lock = asyncio.Lock()

    async def keep_alive() -> None:
        while True:
            await asyncio.sleep(HEARTBEAT_SECONDS)
            async with write_lock:
                await response.write(b": keep-alive\n\n")

    await response.write(f"retry: {SSE_RETRY_MS}\n\n".encode())
    pinger = asyncio.create_task(keep_alive())
    try:
        async for flow in request.app[FEED].watch(flow_id, service.get, after=last, subscription=subscription):
            async with write_lock:
                await response.write(_sse(flow.version, service.view(flow, owner=who.owns(flow), masked=who.masked(flow))))
    except ConnectionResetError:
        pass  # the client went away
    except Exception:  # the headers are sent: end the stream; the EventSource reconnects
        log.exception("event stream failed", flow_id=flow_id)
    finally:
        pinger.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await pinger
    return response


# --- Every flow, for the console ---------------------------------------------------------


async def recent_flows(request: web.Request) -> web.StreamResponse:
    """Server-Sent Events (admin, auditor): an ``event: flow`` with a flow (as the auditor sees
    it) each time one is created or moves, on any process; ``event: resync`` when changes were
    missed (the client reads ``GET /api/flows`` again). Subscribed before the headers go out,
    so a client that reads the list once the stream is open misses nothing."""
    who = caller(request, query_token=True)
    if who.role is None:
        raise unauthorized("this stream needs the admin or auditor key (Bearer, or ?token=)")
    if who.role not in (ADMIN, AUDITOR):
        raise forbidden("this stream needs the admin or auditor key")
    service = request.app[FLOWS]
    with request.app[FEED].subscribe_all() as changes:
        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
        )
        await response.prepare(request)
        await response.write(f"retry: {SSE_RETRY_MS}\n\n".encode())
        try:
            while not changes.closed:
                taken = await changes.take(HEARTBEAT_SECONDS)
                if taken is None:
                    await response.write(b": keep-alive\n\n")
                    continue
                flow_ids, lost = taken
                if lost:
                    await response.write(b"event: resync\ndata: {}\n\n")
                for flow in reversed(await service.many(sorted(flow_ids))):  # oldest first
                    view = service.view(flow, owner=False, auditor=True, masked=who.masked())
                    await response.write(f"event: flow\ndata: {json.dumps(view)}\n\n".encode())
        except ConnectionResetError:
            pass  # the client went away
    return response


def list_routes() -> list[web.RouteDef]:
    """Routes that must come before ``/api/flows/{flow_id}``, which would take their path."""
    return [web.get("/api/flows/sse", recent_flows)]


# --- Wiring -------------------------------------------------------------------------------


async def close_streams(app: web.Application) -> None:
    """Graceful shutdown: wake every waiter for the last time. Long-polls answer, SSE streams
    end (the EventSource reconnects to another process) and each WebSocket closes itself with
    1001 "going away"; the server then waits for those handlers to finish."""
    app[FEED].close_subscriptions()


def install(app: web.Application) -> None:
    app.on_shutdown.append(close_streams)
    app.add_routes(
        [
            web.get("/api/flows/{flow_id}/ws", flow_socket),
            web.get("/api/flows/{flow_id}/sse", flow_events),
        ]
    )
