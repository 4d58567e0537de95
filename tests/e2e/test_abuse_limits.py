"""Abuse limits (contract: "Abuse limits"): budgets of flows and password attempts per client
address and per username, shared by every ``serve`` process of one database, answered with a
429 ``rate-limited`` problem and ``Retry-After``; the admin key is never counted."""

from __future__ import annotations

import pytest

from tests.support.client import Api
from tests.support.names import unique


def submit_password(username: str = "someone", password: str = "a guess") -> dict:
    return {"type": "submit_password", "username": username, "password": password}


def limited(reply, limit: str) -> None:
    assert reply.status == 429, reply
    assert reply.problem["type"] == "urn:mfa-flow:problem:rate-limited"
    assert reply.problem["limit"] == limit
    assert 1 <= int(reply.headers["Retry-After"]) <= 120


async def test_flows_created_per_address_are_limited_across_processes(start_server, http):
    # Two processes on one database, one budget: 3 flows a minute from this address.
    settings = {"MFA_FLOW_RATE_FLOWS": "3", "MFA_FLOW_TRUSTED_PROXIES": "127.0.0.0/8"}
    first, second = [await start_server.started(**settings) for _ in range(2)]
    address = {"X-Forwarded-For": "198.51.100.7"}  # a client address of this test's own
    apis = [Api(first.base_url, http), Api(second.base_url, http)]
    statuses = [(await apis[i % 2].call("POST", "/api/flows", json={}, headers=address)).status for i in range(3)]
    assert statuses == [201, 201, 201]
    limited(await apis[1].call("POST", "/api/flows", json={}, headers=address), "flows_created")
    limited(await apis[0].call("POST", "/api/flows", json={}, headers=address), "flows_created")
    # Another address has its own budget; the admin key is never counted.
    other = {"X-Forwarded-For": "198.51.100.8"}
    assert (await apis[0].call("POST", "/api/flows", json={}, headers=other)).status == 201
    admin_flows = [await apis[0].admin("POST", "/api/flows", {}, headers=address) for _ in range(5)]
    assert {reply.status for reply in admin_flows} == {201}


async def test_password_attempts_per_address_are_limited_and_the_admin_key_is_exempt(start_server, http):
    server = await start_server.started(MFA_FLOW_RATE_PASSWORDS="4", MFA_FLOW_TRUSTED_PROXIES="127.0.0.1/32")
    api = Api(server.base_url, http)
    address = {"X-Forwarded-For": "198.51.100.20"}
    flow = await api.start()
    for n in range(4):  # different usernames: only the address's budget runs out
        reply = await api.call("POST", f"/api/flows/{flow.id}/events", flow.token,
                               json=submit_password(unique(f"nobody{n}")), headers=address)
        assert reply.status in (422, 409), reply
        flow = await api.start() if reply.status == 409 else flow
    reply = await api.call("POST", f"/api/flows/{flow.id}/events", flow.token,
                           json=submit_password(unique("nobody")), headers=address)
    limited(reply, "password_attempts")
    assert "address" in reply.problem["detail"]
    admin_flow = (await api.call("POST", "/api/flows", json={})).body["flow"]
    reply = await api.admin("POST", f"/api/flows/{admin_flow['id']}/events", submit_password(unique("support")),
                            headers=address)
    assert reply.status == 422, "the admin key is exempt"


async def test_password_attempts_per_username_are_limited_whatever_the_address_or_process(start_server, http):
    settings = {"MFA_FLOW_RATE_PASSWORDS": "3", "MFA_FLOW_TRUSTED_PROXIES": "127.0.0.1/32"}
    servers = [await start_server.started(**settings) for _ in range(2)]
    apis = [Api(server.base_url, http) for server in servers]
    victim = unique("victim")
    for n in range(3):  # three addresses, two processes, one username
        api = apis[n % 2]
        flow = await api.start()
        reply = await api.call("POST", f"/api/flows/{flow.id}/events", flow.token, json=submit_password(victim),
                               headers={"X-Forwarded-For": f"203.0.113.{n + 1}"})
        assert reply.status == 422, reply
    flow = await apis[1].start()
    reply = await apis[1].call("POST", f"/api/flows/{flow.id}/events", flow.token, json=submit_password(victim),
                               headers={"X-Forwarded-For": "203.0.113.99"})
    limited(reply, "password_attempts")
    assert "username" in reply.problem["detail"] and victim not in reply.problem["detail"]
    assert (await flow.read())["attempts_left"] == 5, "a refused attempt costs the flow nothing"


async def test_forwarded_for_is_believed_only_from_trusted_proxies(start_server, http):
    # This server trusts no proxy: a spoofed X-Forwarded-For changes nothing, the socket's
    # address (127.0.0.1) is what is counted.
    server = await start_server.started(MFA_FLOW_RATE_FLOWS="2")
    api = Api(server.base_url, http)
    statuses = [
        (await api.call("POST", "/api/flows", json={}, headers={"X-Forwarded-For": f"192.0.2.{n}"})).status
        for n in range(3)
    ]
    assert statuses == [201, 201, 429]

    # Behind a trusted proxy, the nearest untrusted hop counts, whatever the client wrote to its left.
    proxied = await start_server.started(MFA_FLOW_RATE_FLOWS="2", MFA_FLOW_TRUSTED_PROXIES="127.0.0.0/8,10.0.0.0/8")
    api = Api(proxied.base_url, http)
    hops = [f"192.0.2.{n}, 198.51.100.50, 10.1.2.3" for n in range(3)]  # a spoofed first hop each time
    statuses = [(await api.call("POST", "/api/flows", json={}, headers={"X-Forwarded-For": h})).status for h in hops]
    assert statuses == [201, 201, 429]


@pytest.mark.parametrize("setting", ["MFA_FLOW_RATE_FLOWS", "MFA_FLOW_RATE_PASSWORDS"])
def test_a_negative_limit_is_refused_at_start(setting, database_url):
    from tests.support.server import ServerProcess

    process = ServerProcess(database_url, **{setting: "-1"})
    with pytest.raises(RuntimeError, match=setting):
        process.start(timeout=20)
    process.stop()
