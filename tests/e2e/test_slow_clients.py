"""Connections that never finish their request head, and many connections from one address
(issue 21, defect 2), against a real server process: a connection must send a complete
request head within ``MFA_FLOW_HEADER_TIMEOUT`` of opening (or of its previous answer), and
one address (the client's, behind a trusted proxy) may hold at most
``MFA_FLOW_MAX_CONNECTIONS_PER_ADDRESS`` connections; /healthz answers other addresses all along."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from tests.support.client import Api

HEAD_TIMEOUT = 2.0  # seconds (the default is 15: a test should not wait that long)
SLACK = 2.5  # a busy machine's delay, on top of the bound


async def connect(server, source: str = "127.0.0.1") -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection("127.0.0.1", server.port, local_addr=(source, 0))


async def closed_after(reader: asyncio.StreamReader, within: float) -> float:
    """Seconds until the server ends the connection (EOF, or a reset); fails past ``within``."""
    started = time.monotonic()
    try:
        async with asyncio.timeout(within):
            while await reader.read(4096):
                pass
    except TimeoutError:
        raise AssertionError(f"the connection was still open after {within} s") from None
    except ConnectionResetError:
        pass
    return time.monotonic() - started


async def healthz(server, source: str = "127.0.0.1") -> int:
    reader, writer = await connect(server, source)
    try:
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        async with asyncio.timeout(5):
            answer = await reader.read()
        return int(answer.split(b" ", 2)[1])
    finally:
        writer.close()


@pytest.fixture(scope="module")
async def slow_server(start_server):
    return await start_server.started(MFA_FLOW_HEADER_TIMEOUT=str(HEAD_TIMEOUT))


async def test_an_idle_connection_is_closed_within_the_header_timeout(slow_server):
    reader, writer = await connect(slow_server)
    try:
        assert await closed_after(reader, HEAD_TIMEOUT + SLACK) >= HEAD_TIMEOUT - 0.5
    finally:
        writer.close()


async def test_a_head_that_stops_after_a_header_line_is_closed_within_the_header_timeout(slow_server):
    reader, writer = await connect(slow_server)
    try:
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # and never the blank line
        await writer.drain()
        assert await closed_after(reader, HEAD_TIMEOUT + SLACK) >= HEAD_TIMEOUT - 0.5
    finally:
        writer.close()


async def test_a_head_trickling_in_byte_by_byte_is_cut_at_the_bound_not_kept_alive_by_each_byte(slow_server):
    reader, writer = await connect(slow_server)
    started = time.monotonic()
    try:
        for byte in b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Padding: " + b"a" * 200:
            writer.write(bytes([byte]))
            await asyncio.sleep(0.05)
            if reader.at_eof() or writer.is_closing() or time.monotonic() - started > HEAD_TIMEOUT + SLACK:
                break
        await closed_after(reader, HEAD_TIMEOUT + SLACK)
        assert time.monotonic() - started < HEAD_TIMEOUT + SLACK
    finally:
        writer.close()


async def test_a_keep_alive_connection_gets_the_same_bound_for_its_next_head_and_answers_in_time(slow_server):
    reader, writer = await connect(slow_server)
    try:
        # A head that takes a while (within the bound) is answered; so is the next one.
        writer.write(b"GET /healthz HTTP/1.1\r\n")
        await asyncio.sleep(HEAD_TIMEOUT / 2)
        writer.write(b"Host: x\r\n\r\n")
        async with asyncio.timeout(5):
            assert (await reader.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 200")
        await reader.read(4096)  # the body
        # Then half a head, never finished: cut within the bound of its first byte.
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        await writer.drain()
        assert await closed_after(reader, HEAD_TIMEOUT + SLACK) >= HEAD_TIMEOUT - 0.5
    finally:
        writer.close()


async def test_a_websocket_outlives_the_header_timeout(slow_server, http):
    api = Api(slow_server.base_url, http)
    flow = await api.start()
    async with http.ws_connect(f"{slow_server.base_url}/api/flows/{flow.id}/ws",
                               headers={"Authorization": f"Bearer {flow.token}"}) as ws:
        first = await ws.receive_json(timeout=5)
        assert first["type"] == "flow"
        await asyncio.sleep(HEAD_TIMEOUT + 1)
        assert not ws.closed
        await ws.send_json({"type": "event", "id": "1", "event": {"type": "cancel"}})
        answers = [await ws.receive_json(timeout=5) for _ in range(2)]
        assert {a["type"] for a in answers} == {"flow", "ack"}


async def test_one_address_holds_at_most_n_connections_and_healthz_still_answers(start_server):
    server = await start_server.started(MFA_FLOW_MAX_CONNECTIONS_PER_ADDRESS="5", MFA_FLOW_HEADER_TIMEOUT="30")
    held = [await connect(server, "127.0.0.2") for _ in range(5)]
    try:
        # The sixth from that address is refused at once: a 429 problem, then the close.
        reader, writer = await connect(server, "127.0.0.2")
        async with asyncio.timeout(5):
            refusal = await reader.read()
        writer.close()
        head, _, body = refusal.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 429 "), refusal
        assert b"content-type: application/problem+json" in head.lower()
        assert b"x-content-type-options: nosniff" in head.lower()
        problem = json.loads(body)
        assert problem["type"] == "urn:mfa-flow:problem:too-many-connections"
        assert "5 connections" in problem["detail"]
        # Other addresses are served meanwhile.
        assert await healthz(server, "127.0.0.1") == 200
        assert await healthz(server, "127.0.0.3") == 200
        # The held ones still work, and one closing frees a place.
        reader, writer = held.pop()
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        async with asyncio.timeout(5):
            assert (await reader.read()).startswith(b"HTTP/1.1 200")
        writer.close()
        await asyncio.sleep(0.2)
        assert await healthz(server, "127.0.0.2") == 200
    finally:
        for _, writer in held:
            writer.close()


async def test_behind_a_trusted_proxy_the_cap_counts_the_forwarded_client_not_the_proxy(start_server, http):
    server = await start_server.started(MFA_FLOW_MAX_CONNECTIONS_PER_ADDRESS="2",
                                        MFA_FLOW_TRUSTED_PROXIES="127.0.0.4/32")
    api = Api(server.base_url, http)
    flow = await api.start()
    # The proxy holds more connections than the cap: they are many clients'.
    held = [await connect(server, "127.0.0.4") for _ in range(4)]

    def long_poll(client: str) -> bytes:
        return (f"GET /api/flows/{flow.id}?wait=20 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {flow.token}\r\n"
                f"X-Forwarded-For: {client}\r\n\r\n").encode()

    try:
        for _, writer in held[:2]:  # two waiting requests of one client...
            writer.write(long_poll("198.51.100.30"))
        await asyncio.sleep(0.5)
        reader, writer = held[2]  # ...and its third is refused, with the problem
        writer.write(long_poll("198.51.100.30"))
        async with asyncio.timeout(5):
            head = await reader.readuntil(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 429 "), head
        reader, writer = held[3]  # another client through the same proxy waits as usual
        writer.write(long_poll("198.51.100.31"))
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(1):
                await reader.readuntil(b"\r\n\r\n")
    finally:
        for _, writer in held:
            writer.close()
