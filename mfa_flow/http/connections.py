"""Connections before they are requests: a bound on the time to send a request head, and a
cap on the connections one client address holds open.

aiohttp reads request heads without a deadline of its own (a new connection waits for its
keep-alive timeout, an hour by default), so a client could hold any number of sockets by
never finishing a head (slowloris). Each accepted connection is wrapped in a
``GuardedConnection``, a protocol in front of aiohttp's own:

- From the moment it opens, and again from the first byte after each answer, a connection
  has ``MFA_FLOW_HEADER_TIMEOUT`` seconds (15) to send a complete request head; then it is
  closed. A head arriving a byte at a time does not extend the bound. While a request is
  being served (a long-poll, a stream, a WebSocket) no bound runs: bodies have their own
  (``MFA_FLOW_BODY_TIMEOUT``), and an idle keep-alive connection aiohttp's keep-alive timeout.
- One address holds at most ``MFA_FLOW_MAX_CONNECTIONS_PER_ADDRESS`` connections (128; 0:
  no cap): the next is answered 429 ``too-many-connections`` and closed before a byte of it
  is read. A trusted proxy's connections (``MFA_FLOW_TRUSTED_PROXIES``) carry many clients,
  so they are not counted by the proxy's address; instead each request through it counts,
  while it is served, against the client address the proxy forwarded (as the abuse limits
  read it), and one over the cap is answered 429.

The counts are per ``serve`` process: with ``--workers N`` an address may hold N times as
many connections in all.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
from collections import Counter
from typing import Any, Awaitable, Callable, cast

from aiohttp import web

from .. import logs
from ..settings import Settings
from .clients import request_address, trusted_peer
from .headers import SECURITY_HEADERS
from .parser_errors import answer_as_problems
from .problems import Problem, problem_response

log = logs.get(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
PROBLEM_TYPE = "urn:mfa-flow:problem:too-many-connections"
RETRY_AFTER_SECONDS = 5


def _refusal_detail(cap: int) -> str:
    return (f"this client address holds {cap} connections to this server already, the most it may;"
            " close one, or reuse one (HTTP keep-alive)")


def refusal_bytes(cap: int) -> bytes:
    """The 429 a connection over the cap gets before it is closed (it sent nothing yet)."""
    body = json.dumps({"type": PROBLEM_TYPE, "title": "Too many connections", "status": 429,
                       "detail": _refusal_detail(cap)}).encode()
    headers = {"Content-Type": "application/problem+json", "Content-Length": str(len(body)),
               "Retry-After": str(RETRY_AFTER_SECONDS), "Cache-Control": "no-store", "Connection": "close",
               **SECURITY_HEADERS}
    head = "HTTP/1.1 429 Too Many Requests\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    return head.encode("latin-1") + b"\r\n" + body


class ConnectionLimits:
    """The process's counts: open connections per peer address, and requests in flight per
    forwarded client address (through trusted proxies)."""

    def __init__(self, settings: Settings) -> None:
        self.header_timeout = settings.header_timeout
        self.cap = settings.max_connections_per_address
        self.proxies = settings.trusted_proxies
        self.open: Counter[str] = Counter()
        self.forwarded: Counter[str] = Counter()
        self.guards: dict[Any, GuardedConnection] = {}  # aiohttp's handler -> its guard
        self.refused = 0

    def admit(self, address: str) -> bool:
        if self.cap and self.open[address] >= self.cap:
            self.refused += 1
            return False
        self.open[address] += 1
        return True

    def release(self, address: str) -> None:
        self.open[address] -= 1
        if self.open[address] <= 0:
            del self.open[address]

    def is_proxy(self, address: str) -> bool:
        try:
            return trusted_peer(ipaddress.ip_address(address), self.proxies)
        except ValueError:
            return False

    def factory(self, make_handler: Callable[[], asyncio.Protocol]) -> Callable[[], asyncio.Protocol]:
        """The protocol factory for ``loop.create_server``: aiohttp's, guarded."""
        return lambda: GuardedConnection(self, make_handler)


CONNECTION_LIMITS = web.AppKey("connection_limits", ConnectionLimits)


class GuardedConnection(asyncio.Protocol):
    """One accepted connection: counts it, times its request heads, hands the bytes on to
    aiohttp's handler (made only once the connection is admitted)."""

    def __init__(self, limits: ConnectionLimits, make_handler: Callable[[], asyncio.Protocol]) -> None:
        self.limits = limits
        self.make_handler = make_handler
        self.handler: Any = None  # aiohttp's RequestHandler, once admitted
        self.transport: asyncio.Transport | None = None
        self.address: str | None = None  # counted under this address (None: not counted)
        self.proxied = False
        self.in_request = 0  # requests being served (more than one when pipelined)
        self._head_deadline: asyncio.TimerHandle | None = None

    # --- asyncio's calls ----------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = stream = cast(asyncio.Transport, transport)  # uvloop's is no subclass of it
        peer = transport.get_extra_info("peername")
        address = str(peer[0]) if peer else ""
        self.proxied = self.limits.is_proxy(address)
        if not self.proxied:
            if not self.limits.admit(address):
                log.warning("connection refused: too many from one address", client=address, cap=self.limits.cap)
                stream.write(refusal_bytes(self.limits.cap))
                stream.close()
                return
            self.address = address
        self._start_head_clock()
        self.handler = answer_as_problems(self.make_handler())  # its own 400s as problem documents
        self.limits.guards[self.handler] = self
        self.handler.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        if self.handler is None:
            return
        if not self.in_request and self._head_deadline is None:
            self._start_head_clock()  # the first byte of the next head (or of what follows an answer)
        self.handler.data_received(data)

    def eof_received(self) -> bool | None:
        return self.handler.eof_received() if self.handler is not None else None

    def pause_writing(self) -> None:
        if self.handler is not None:
            self.handler.pause_writing()

    def resume_writing(self) -> None:
        if self.handler is not None:
            self.handler.resume_writing()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_head_clock()
        if self.address is not None:
            self.limits.release(self.address)
            self.address = None
        if self.handler is not None:
            self.limits.guards.pop(self.handler, None)
            self.handler.connection_lost(exc)

    # --- the head's deadline -----------------------------------------------------------------

    def _start_head_clock(self) -> None:
        self._stop_head_clock()
        loop = asyncio.get_running_loop()
        self._head_deadline = loop.call_later(self.limits.header_timeout, self._head_overdue)

    def _stop_head_clock(self) -> None:
        if self._head_deadline is not None:
            self._head_deadline.cancel()
            self._head_deadline = None

    def _head_overdue(self) -> None:
        self._head_deadline = None
        if not self.in_request and self.transport is not None and not self.transport.is_closing():
            log.info("connection closed: no complete request head in time", seconds=self.limits.header_timeout)
            self.transport.close()

    def request_started(self) -> None:
        self.in_request += 1
        self._stop_head_clock()

    def request_ended(self) -> None:
        self.in_request -= 1


@web.middleware
async def connection_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The first middleware: the head is complete (stop its clock), and a request through a
    trusted proxy counts against its client's address while it is served."""
    limits: ConnectionLimits | None = request.app.get(CONNECTION_LIMITS)
    guard = limits.guards.get(request.protocol) if limits is not None else None
    if guard is None:
        return await handler(request)
    assert limits is not None
    guard.request_started()
    client = request_address(request) if guard.proxied and limits.cap else None
    try:
        if client is not None:
            if limits.forwarded[client] >= limits.cap:
                limits.refused += 1
                log.warning("request refused: too many connections from one address", client=client, cap=limits.cap)
                return problem_response(Problem(429, "too-many-connections", "Too many connections",
                                                _refusal_detail(limits.cap),
                                                headers={"Retry-After": str(RETRY_AFTER_SECONDS)}), request)
            limits.forwarded[client] += 1
        try:
            return await handler(request)
        finally:
            if client is not None:
                limits.forwarded[client] -= 1
                if limits.forwarded[client] <= 0:
                    del limits.forwarded[client]
    finally:
        guard.request_ended()


class GuardedSite(web.BaseSite):
    """A TCP site whose connections go through ``ConnectionLimits`` first."""

    def __init__(self, runner: web.BaseRunner, host: str, port: int, limits: ConnectionLimits,
                 reuse_port: bool = False) -> None:
        super().__init__(runner)
        self.runner = runner
        self.host = host
        self.port = port
        self.limits = limits
        self.reuse_port = reuse_port

    @property
    def name(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def start(self) -> None:
        await super().start()
        server = self.runner.server
        assert server is not None
        self._server = await asyncio.get_running_loop().create_server(
            self.limits.factory(server), self.host, self.port, reuse_address=True,
            reuse_port=self.reuse_port or None,
        )
