"""A real webhook receiver on loopback: records every request, answers as scripted."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from aiohttp import web

from .server import free_port

if TYPE_CHECKING:
    from .client import Api


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    at: float  # time.time() on arrival

    @property
    def message(self) -> dict:
        return json.loads(self.body)

    @property
    def webhook_id(self) -> str:
        return self.headers["webhook-id"]


class Receiver:
    """``answers`` are (status, headers) given in turn, then 200; ``delay`` slows every answer."""

    def __init__(self, port: int | None = None, delay: float = 0.0):
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}/hook"
        self.delay = delay
        self.answers: list[tuple[int, dict]] = []
        self.received: list[Received] = []
        self.secret: str | None = None  # the endpoint's signing secret, once ``subscribed`` made it
        self._runner: web.AppRunner | None = None

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.received.append(Received({k.lower(): v for k, v in request.headers.items()}, body, time.time()))
        if self.delay:
            await asyncio.sleep(self.delay)
        status, headers = self.answers.pop(0) if self.answers else (200, {})
        return web.Response(status=status, headers=headers, text="thanks" if status < 300 else "no")

    async def start(self) -> "Receiver":
        app = web.Application()
        app.router.add_post("/hook", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def about(self, flow_id: str) -> list[Received]:
        """Requests about one flow, in arrival order."""
        return [r for r in self.received if r.message["data"].get("flow_id") == flow_id]

    def types(self, flow_id: str) -> list[str]:
        return [r.message["type"] for r in self.about(flow_id)]


@asynccontextmanager
async def subscribed(api: "Api", events: list[str]) -> AsyncIterator[Receiver]:
    """A receiver with an endpoint subscribed to ``events``; both removed afterwards."""
    receiver = await Receiver().start()
    try:
        reply = await api.admin("POST", "/api/webhooks", {"url": receiver.url, "events": events})
        assert reply.status == 201, reply
        receiver.secret = reply.body["secret"]
        try:
            yield receiver
        finally:
            await api.admin("DELETE", f"/api/webhooks/{reply.body['id']}")
    finally:
        await receiver.stop()
