"""Clients for the live streams of a flow: its WebSocket and its Server-Sent Events."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass

import aiohttp

# A safety net against a hung test, not a measurement: messages arrive in milliseconds.
PATIENCE_SECONDS = 20


class FlowSocket:
    """``GET /api/flows/{id}/ws``, with the flow token in the query (as a browser sends it)."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse):
        self.ws = ws
        self.flows: list[dict] = []  # every "flow" message, in the order received
        self.close_code: int | None = None
        self.close_reason = ""
        self._sent = 0

    @classmethod
    async def open(cls, session: aiohttp.ClientSession, base_url: str, flow_id: str, token: str) -> "FlowSocket":
        ws = await session.ws_connect(f"{base_url}/api/flows/{flow_id}/ws", params={"token": token})
        return cls(ws)

    async def receive(self) -> dict | None:
        """The next message, or None once the server has closed the socket."""
        message = await asyncio.wait_for(self.ws.receive(), PATIENCE_SECONDS)
        if message.type == aiohttp.WSMsgType.CLOSE:  # what a browser's CloseEvent reports
            self.close_code, self.close_reason = message.data, message.extra or ""
        if message.type != aiohttp.WSMsgType.TEXT:
            return None
        body = json.loads(message.data)
        if body["type"] == "flow":
            self.flows.append(body["flow"])
        return body

    async def next_flow(self) -> dict:
        while True:
            body = await self.receive()
            assert body is not None, f"the socket closed ({self.ws.close_code}) before another flow came"
            if body["type"] == "flow":
                return body["flow"]

    async def until_version(self, version: int) -> dict:
        flow = self.flows[-1] if self.flows else await self.next_flow()
        while flow["version"] < version:
            flow = await self.next_flow()
        return flow

    async def send_event(self, type_: str, **payload) -> dict:
        """Send one event and return the server's answer to it: an ack or an error."""
        self._sent += 1
        message_id = f"m{self._sent}"
        await self.ws.send_json({"type": "event", "id": message_id, "event": {"type": type_, **payload}})
        while True:
            body = await self.receive()
            assert body is not None, f"the socket closed ({self.ws.close_code}) before the answer"
            if body["type"] in ("ack", "error"):
                assert body["id"] == message_id
                return body

    async def closed(self) -> tuple[int, str]:
        """Read to the end; the close code and reason."""
        while await self.receive() is not None:
            pass
        return self.close_code, self.close_reason

    async def close(self) -> None:
        await self.ws.close()


@dataclass
class ServerSentEvent:
    id: str | None
    event: str | None
    data: str

    @property
    def flow(self) -> dict:
        return json.loads(self.data)


class FlowEvents:
    """``GET /api/flows/{id}/sse``, parsed as an EventSource would."""

    def __init__(self, response: aiohttp.ClientResponse):
        self.response = response
        self.flows: list[dict] = []

    @classmethod
    async def open(
        cls, session: aiohttp.ClientSession, base_url: str, flow_id: str, token: str, last_event_id: int | None = None
    ) -> "FlowEvents":
        headers = {"Accept": "text/event-stream"}
        if last_event_id is not None:
            headers["Last-Event-ID"] = str(last_event_id)
        response = await session.get(f"{base_url}/api/flows/{flow_id}/sse", params={"token": token}, headers=headers)
        return cls(response)

    async def next_event(self) -> ServerSentEvent | None:
        """The next event, or None at the end of the stream."""
        fields: dict[str, str] = {}
        data: list[str] = []
        while True:
            line = await asyncio.wait_for(self.response.content.readline(), PATIENCE_SECONDS)
            if not line:
                return None
            line = line.decode().rstrip("\n")
            if not line:
                if data:
                    return ServerSentEvent(fields.get("id"), fields.get("event"), "\n".join(data))
                continue
            if line.startswith(":"):
                continue
            name, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if name == "data":
                data.append(value)
            else:
                fields[name] = value

    async def next_flow(self) -> dict:
        event = await self.next_event()
        assert event is not None, "the stream ended before another flow came"
        assert event.event == "flow" and int(event.id) == event.flow["version"]
        self.flows.append(event.flow)
        return event.flow

    async def until_version(self, version: int) -> dict:
        flow = self.flows[-1] if self.flows else await self.next_flow()
        while flow["version"] < version:
            flow = await self.next_flow()
        return flow

    async def rest(self) -> list[dict]:
        """Every flow until the server ends the stream."""
        while (event := await self.next_event()) is not None:
            self.flows.append(event.flow)
        return self.flows

    def close(self) -> None:
        self.response.close()
