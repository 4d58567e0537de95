"""Security headers on every response; no API answer may be cached (defect 4 of issue 9)."""

from __future__ import annotations

import asyncio
import json

import pytest

from tests.support.client import Api

PAGE_POLICY = {"default-src 'none'", "script-src 'self'", "frame-ancestors 'none'", "base-uri 'none'"}


def assert_hardened(headers) -> None:
    policy = {part.strip() for part in headers["Content-Security-Policy"].split(";")}
    assert PAGE_POLICY <= policy, policy
    assert not any("unsafe-inline" in part or "unsafe-eval" in part for part in policy)
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "no-referrer"


@pytest.mark.parametrize("path", ["/", "/account", "/console", "/theme.css", "/favicon.svg", "/healthz", "/.well-known/jwks.json", "/no/such/page"])
async def test_every_response_carries_the_security_headers(api, path):
    reply = await api.call("GET", path)
    assert_hardened(reply.headers)


async def test_responses_with_secrets_or_tokens_are_never_stored(api: Api):
    await api.configure(["totp", "backup_code"], "mandatory")
    created = await api.call("POST", "/api/flows", json={})  # carries the flow token
    assert created.status == 201
    assert created.headers["Cache-Control"] == "no-store"
    assert_hardened(created.headers)
    flow_id, token = created.body["flow"]["id"], created.body["flow_token"]
    user = await api.new_user("cache" + flow_id[:8])
    shown = await api.call("POST", f"/api/flows/{flow_id}/events", token,
                           json={"type": "submit_password", "username": user["username"],
                                 "password": "correct horse battery"})
    assert shown.body["challenge"]["secret"]  # a TOTP secret
    assert shown.headers["Cache-Control"] == "no-store"
    assert (await api.call("GET", f"/api/flows/{flow_id}", token)).headers["Cache-Control"] == "no-store"
    enrolled = await api.admin("POST", f"/api/users/{user['id']}/mfa-verifications", {"type": "totp"})
    assert enrolled.body["secret"] and enrolled.headers["Cache-Control"] == "no-store"
    problem = await api.call("GET", f"/api/flows/{flow_id}", "ft_wrong")
    assert problem.status == 403 and problem.headers["Cache-Control"] == "no-store"
    assert_hardened(problem.headers)


async def test_the_live_streams_carry_the_headers_too(api: Api, http):
    flow = await api.start()
    async with http.get(f"{api.base_url}/api/flows/{flow.id}/sse", params={"token": flow.token}) as response:
        assert response.status == 200
        assert_hardened(response.headers)
        assert response.headers["Cache-Control"] == "no-store"


async def raw_answer(port: int, request: bytes) -> tuple[str, dict[str, str], bytes]:
    """What the server answers to these bytes: status line, headers, body (up to its close)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request)
    await writer.drain()
    data = await asyncio.wait_for(reader.read(-1), 10)
    writer.close()
    head, _, body = data.partition(b"\r\n\r\n")
    status, *lines = head.decode("latin-1").split("\r\n")
    return status, {k: v.strip() for k, _, v in (line.partition(":") for line in lines)}, body


# Requests aiohttp's parser refuses before the application sees them (issue 21): the answer
# quoted the offending bytes back and carried no security headers.
@pytest.mark.parametrize("request_bytes, detail", [
    (b"GET /api/flows HTTP/1.1\r\nHost: x\r\nBad Header: s3cret-value\r\n\r\n", "a header is malformed"),
    (b"G\x01T /s3cret-value HTTP/1.1\r\nHost: x\r\n\r\n", "the request method is not a valid HTTP method"),
    (b"GET /x HTTP/1.1\r\nHost: x\r\nContent-Length: s3cret-value\r\n\r\n", "a header is malformed"),
    (b"GET /s3cret-value" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", "too long"),
    (b"s3cret-value\r\n\r\n", "the request"),
])
async def test_the_parsers_own_400s_are_problems_with_the_headers_that_repeat_nothing(server, request_bytes, detail):
    status, headers, body = await raw_answer(server.port, request_bytes)
    assert status.split()[1] == "400", (status, body)
    assert headers["Content-Type"] == "application/problem+json" and headers["Cache-Control"] == "no-store"
    assert_hardened(headers)
    problem = json.loads(body)
    assert problem["status"] == 400 and problem["type"].startswith("urn:mfa-flow:problem:")
    # In words of the service's own (how specific depends on which parser aiohttp runs).
    assert detail in problem["detail"] or problem["detail"] == "the request is not valid HTTP/1.1", problem
    assert b"s3cret" not in body and b"aaaa" not in body
    assert "s3cret" not in server.log()
