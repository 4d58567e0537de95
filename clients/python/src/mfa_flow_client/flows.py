"""Flows: start one, read it, send it events, wait for its next version (long-poll), and stream
its versions over the WebSocket as an async iterator that reconnects and catches up.

The stream yields each version newer than the last one it yielded. After a reconnect the server
sends the flow as it is now, so a consumer always ends up at the newest version (versions that
came and went while it was away are not replayed: the transition log, ``transitions``, has them
all). Where no WebSocket can be opened (a proxy that refuses upgrades) it long-polls instead."""

from __future__ import annotations

import asyncio
import builtins
import json
from collections.abc import AsyncIterator, Mapping
from typing import TYPE_CHECKING, Any, Literal, cast

import aiohttp

from ._shared import CLIENT_KEY, TERMINAL_STATES, segment
from .errors import StreamClosed, error_for
from .models import CreateFlow, Event, Flow, FlowCreated, Transition

if TYPE_CHECKING:
    from .client import MfaFlowClient

MAX_WAIT_SECONDS = 60  # the longest long-poll the server allows


def is_terminal(flow: Mapping[str, Any]) -> bool:
    return flow["state"] in TERMINAL_STATES


class Flows:
    def __init__(self, client: MfaFlowClient):
        self.client = client

    async def create(self, body: CreateFlow | Mapping[str, Any] | None = None) -> FlowCreated:
        """``POST /api/flows``: the new flow and its token (shown once)."""
        return cast(FlowCreated, await self.client.request("POST", "/api/flows", json_body=dict(body or {})))

    async def start(self, body: CreateFlow | Mapping[str, Any] | None = None) -> FlowSession:
        """Starts a flow and returns a session that holds its token: ``{}`` is a sign-in from its
        first factor; with the admin key, ``{"user": {"id": ...}}`` asserts the first factor
        (``"require_mfa": true`` for a step-up); ``{"purpose": "manage", ...}`` an account flow."""
        created = await self.create(body)
        return FlowSession(self, created["flow"], created["flow_token"])

    def session(self, flow: Flow, token: str | None = None) -> FlowSession:
        """A session for a flow known already (its token kept elsewhere, or the client's key)."""
        return FlowSession(self, flow, token)

    async def get(self, flow_id: str, *, token: str | None = CLIENT_KEY) -> Flow:
        return cast(Flow, await self.client.request("GET", f"/api/flows/{segment(flow_id)}", token=token))

    async def wait(self, flow_id: str, *, newer_than: int, timeout: float = 25,
                   token: str | None = CLIENT_KEY) -> Flow | None:
        """Long-polls up to ``timeout`` seconds (at most 60) for a version newer than
        ``newer_than``: that version, or None when none came."""
        seconds = max(1, min(MAX_WAIT_SECONDS, int(timeout)))
        return cast(Flow | None, await self.client.request(
            "GET", f"/api/flows/{segment(flow_id)}", token=token, params={"wait": seconds},
            headers={"If-None-Match": f'"{newer_than}"'}, timeout=seconds + 15))

    async def send(self, flow_id: str, event: Event | Mapping[str, Any], *, token: str | None = CLIENT_KEY,
                   expected_version: int | None = None) -> Flow:
        """Sends one event; with ``expected_version`` it is refused (Conflict, 409) when the flow
        has moved past that version."""
        body = dict(event) if expected_version is None else {**event, "expected_version": expected_version}
        return cast(Flow, await self.client.request("POST", f"/api/flows/{segment(flow_id)}/events", json_body=body,
                                                    token=token))

    async def list(self, *, limit: int = 50, before: str | None = None, state: str | None = None,
                   user_id: str | None = None) -> dict[str, Any]:
        """Recent flows, newest first (admin, auditor): ``{"items": [...]}``."""
        params = {"limit": limit, "before": before, "state": state, "user_id": user_id}
        return cast(dict[str, Any], await self.client.request("GET", "/api/flows", params=params))

    async def transitions(self, flow_id: str) -> builtins.list[Transition]:
        """A flow's transition log, oldest first (admin, auditor)."""
        rows = await self.client.request("GET", f"/api/flows/{segment(flow_id)}/transitions")
        return cast(builtins.list[Transition], rows)

    async def stream(self, flow_id: str, *, token: str | None = CLIENT_KEY, newer_than: int = -1,
                     reconnects: int = 5, poll_wait: float = 25) -> AsyncIterator[Flow]:
        """Each version of the flow newer than ``newer_than``, as it happens, until the flow ends.

        Over the flow's WebSocket; a dropped connection (the server restarting, a network blip)
        is reopened up to ``reconnects`` times in a row, and the server's first message after a
        reopen brings the flow up to date. Where the WebSocket cannot be opened at all, it
        long-polls. A refusal (a wrong token, an unknown flow) raises the ApiError."""
        last = newer_than
        failures = 0
        while True:
            try:
                async for flow in self._socket(flow_id, token, last):
                    failures = 0
                    last = flow["version"]
                    yield flow
                    if is_terminal(flow):
                        return
                return  # the server ended the stream normally: the flow is over
            except _Reconnect:
                failures += 1
            except aiohttp.WSServerHandshakeError as refused:
                if refused.status in (401, 403, 404, 410):
                    raise error_for(refused.status, {"status": refused.status, "detail": refused.message}) from None
                break  # no WebSocket here (a proxy, say): long-poll instead
            except (TimeoutError, aiohttp.ClientConnectionError):
                failures += 1
            if failures > reconnects:
                raise StreamClosed(f"the stream of flow {flow_id} dropped {failures} times in a row")
            await asyncio.sleep(min(5.0, 0.25 * 2**failures))
        async for flow in self._poll(flow_id, token, last, poll_wait):
            yield flow

    async def _socket(self, flow_id: str, token: str | None, newer_than: int) -> AsyncIterator[Flow]:
        bearer = self.client.key if token is CLIENT_KEY else token
        async with self.client.session.ws_connect(
            self.client.url(f"/api/flows/{segment(flow_id)}/ws"), params={"token": bearer} if bearer else None,
            heartbeat=30,
        ) as ws:
            while True:
                message = await ws.receive()
                if message.type == aiohttp.WSMsgType.TEXT:
                    data = json.loads(message.data)
                    if data.get("type") == "flow" and data["flow"]["version"] > newer_than:
                        newer_than = data["flow"]["version"]
                        yield cast(Flow, data["flow"])
                    continue
                if message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSING, aiohttp.WSMsgType.CLOSED):
                    code = ws.close_code if message.type != aiohttp.WSMsgType.CLOSE else message.data
                    reason = (message.extra or "") if message.type == aiohttp.WSMsgType.CLOSE else ""
                    if code == 1000:
                        return
                    if code and code >= 4000 and code != 4429:  # a refusal: 4000 + the HTTP status
                        raise error_for(code - 4000, {"status": code - 4000, "detail": reason or f"refused ({code})"})
                    raise _Reconnect()  # 1001: the server is going away; 4429: too many followers now
                if message.type == aiohttp.WSMsgType.ERROR:
                    raise _Reconnect()

    async def _poll(self, flow_id: str, token: str | None, newer_than: int, wait: float) -> AsyncIterator[Flow]:
        if newer_than < 0:
            flow = await self.get(flow_id, token=token)
            newer_than = flow["version"]
            yield flow
            if is_terminal(flow):
                return
        while True:
            try:
                flow_or_none = await self.wait(flow_id, newer_than=newer_than, timeout=wait, token=token)
            except (TimeoutError, aiohttp.ClientConnectionError):
                await asyncio.sleep(2)
                continue
            if flow_or_none is None:
                continue
            newer_than = flow_or_none["version"]
            yield flow_or_none
            if is_terminal(flow_or_none):
                return


class _Reconnect(Exception):
    """The socket dropped; open it again."""


class FlowSession:
    """One flow and its token: send events (each carrying the version this session last saw, so
    an event meant for a flow that moved on meanwhile is refused rather than applied), read it,
    wait for it, stream it. ``flow`` is the newest version seen."""

    def __init__(self, flows: Flows, flow: Flow, token: str | None):
        self._flows = flows
        self.flow = flow
        self.token: str | None = CLIENT_KEY if token is None else token

    @property
    def id(self) -> str:
        return self.flow["id"]

    @property
    def version(self) -> int:
        return self.flow["version"]

    def _keep(self, flow: Flow | None) -> Flow:
        if flow is not None and flow["version"] > self.flow["version"]:
            self.flow = flow
        return self.flow

    async def send(self, event: Event | Mapping[str, Any], *,
                   expected_version: int | None | Literal["seen"] = "seen") -> Flow:
        """Sends one event with ``expected_version`` = the version last seen (``"seen"``, the
        default), a version of your own, or none (``None``)."""
        version = self.flow["version"] if expected_version == "seen" else expected_version
        return self._keep(await self._flows.send(self.id, event, token=self.token, expected_version=version))

    async def refresh(self) -> Flow:
        return self._keep(await self._flows.get(self.id, token=self.token))

    async def wait(self, timeout: float = 25) -> Flow | None:
        """The next version, or None after ``timeout`` seconds without one."""
        flow = await self._flows.wait(self.id, newer_than=self.version, timeout=timeout, token=self.token)
        return None if flow is None else self._keep(flow)

    async def stream(self, **options: Any) -> AsyncIterator[Flow]:
        """The flow's next versions as they happen, until it ends (see ``Flows.stream``)."""
        async for flow in self._flows.stream(self.id, token=self.token, newer_than=self.version, **options):
            yield self._keep(flow)
