"""Security headers on every response; no API answer may be cached (defect 4 of issue 9)."""

from __future__ import annotations

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
