"""The WebSocket at the frame level, with hand-built frames over a raw socket: RFC 6455 §5.1
says every frame from a client is masked and that the server must close the connection on
one that is not (status 1002, protocol error)."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import struct
from urllib.parse import urlsplit

import pytest

from tests.support.frames import CLOSE, TEXT, frame

PROTOCOL_ERROR = 1002


class RawSocket:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, base_url: str, flow_id: str, token: str, first_frame: bytes = b"",
                   extra_headers: str = "") -> "RawSocket":
        """A real handshake; ``first_frame`` goes in the same write as the request."""
        url = urlsplit(base_url)
        reader, writer = await asyncio.open_connection(url.hostname, url.port)
        key = base64.b64encode(os.urandom(16)).decode()
        request = (f"GET /api/flows/{flow_id}/ws?token={token} HTTP/1.1\r\nHost: {url.netloc}\r\n"
                   f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                   f"Sec-WebSocket-Version: 13\r\n{extra_headers}\r\n")
        writer.write(request.encode() + first_frame)
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        assert head.startswith(b"HTTP/1.1 101 "), head
        socket = cls(reader, writer)
        socket.head = head.decode("latin-1")
        return socket

    async def next_frame(self) -> tuple[int, bytes]:
        """The next frame from the server (never masked): (opcode, payload)."""
        first, second = await asyncio.wait_for(self.reader.readexactly(2), 10)
        length = second & 0x7F
        if length == 126:
            (length,) = struct.unpack("!H", await self.reader.readexactly(2))
        elif length == 127:
            (length,) = struct.unpack("!Q", await self.reader.readexactly(8))
        return first & 0x0F, await asyncio.wait_for(self.reader.readexactly(length), 10)

    async def next_message(self) -> dict:
        opcode, payload = await self.next_frame()
        assert opcode == TEXT, (opcode, payload)
        return json.loads(payload)

    async def close_code(self) -> int:
        """Read until the server's close frame; its status code."""
        while True:
            opcode, payload = await self.next_frame()
            if opcode == CLOSE:
                return struct.unpack("!H", payload[:2])[0]

    async def ended_by_server(self) -> bool:
        """The server closes the TCP connection after its close frame: an end of stream, or a
        reset when the client's half of the close handshake reaches an already closed socket."""
        self.writer.write(frame(struct.pack("!H", 1000), CLOSE))
        try:
            return await asyncio.wait_for(self.reader.read(), 10) == b""
        except ConnectionResetError:
            return True

    def close(self) -> None:
        self.writer.close()


async def test_a_browsers_offer_of_compression_is_declined_and_messages_come_uncompressed(server, api):
    """Browsers offer permessage-deflate; a compressor and decompressor per socket would cost the
    server about 100 KB a socket, for messages of a few hundred bytes."""
    flow = await api.start()
    socket = await RawSocket.open(server.base_url, flow.id, flow.token, extra_headers=(
        "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"))
    try:
        assert "sec-websocket-extensions" not in socket.head.lower(), socket.head
        first, _ = await asyncio.wait_for(socket.reader.readexactly(2), 10)
        assert first & 0x40 == 0, "RSV1 is clear: the message is not compressed"
    finally:
        socket.close()


def event(message_id: str, type_: str) -> bytes:
    return json.dumps({"type": "event", "id": message_id, "event": {"type": type_}}).encode()


async def test_a_masked_event_frame_is_applied(server, api):
    flow = await api.start()
    socket = await RawSocket.open(server.base_url, flow.id, flow.token)
    assert (await socket.next_message())["flow"]["state"] == "first_factor"
    socket.writer.write(frame(event("m1", "cancel")))
    assert (await socket.next_message())["flow"]["state"] == "cancelled"
    assert (await socket.next_message())["type"] == "ack"
    socket.close()


@pytest.mark.parametrize("size", [30, 300, 70_000], ids=["short", "16-bit length", "64-bit length"])
async def test_an_unmasked_frame_closes_the_connection_with_1002_and_does_nothing(server, api, size):
    flow = await api.start()
    socket = await RawSocket.open(server.base_url, flow.id, flow.token)
    assert (await socket.next_message())["type"] == "flow"
    # At most 200 bytes of it: the server reads no further than the header, and unread bytes
    # would make its close a TCP reset (the close frame lost).
    socket.writer.write(frame(event("m1", "cancel").ljust(size), masked=False)[:200])
    assert await socket.close_code() == PROTOCOL_ERROR
    assert await socket.ended_by_server()
    assert (await api.call("GET", f"/api/flows/{flow.id}", flow.token)).body["state"] == "first_factor"


async def test_an_unmasked_frame_after_masked_ones_is_caught_at_its_own_header(server, api):
    flow = await api.start()
    socket = await RawSocket.open(server.base_url, flow.id, flow.token)
    await socket.next_message()
    # A masked frame whose payload looks like an unmasked header, then a real unmasked frame.
    socket.writer.write(frame(b"\x01\x05hello" * 20) + frame(event("m2", "cancel"), masked=False))
    assert (await socket.next_message())["type"] == "error"  # the first is no event, but is read
    assert await socket.close_code() == PROTOCOL_ERROR
    assert (await api.call("GET", f"/api/flows/{flow.id}", flow.token)).body["state"] == "first_factor"


async def test_an_unmasked_frame_sent_with_the_handshake_is_refused_too(server, api):
    flow = await api.start()
    socket = await RawSocket.open(server.base_url, flow.id, flow.token,
                                  first_frame=frame(event("m1", "cancel"), masked=False))
    assert await socket.close_code() == PROTOCOL_ERROR
    assert (await api.call("GET", f"/api/flows/{flow.id}", flow.token)).body["state"] == "first_factor"
