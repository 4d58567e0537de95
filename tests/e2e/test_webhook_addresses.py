"""Which webhook URLs are taken, and that the worker holds to the same rules at delivery, on
a database of this module's own: the server allows private addresses, the worker does not."""

from __future__ import annotations

import asyncio

import pytest

from tests.support.client import Api
from tests.support.server import free_port, server_and_worker
from tests.support.waiting import eventually


@pytest.fixture(scope="module")
async def lenient_server_strict_worker(test_database):
    async with test_database.own("addresses") as url:
        async with server_and_worker(url, {}, server={"MFA_FLOW_WEBHOOK_ALLOW_PRIVATE": "1"},
                               worker={"MFA_FLOW_WEBHOOK_RETRY_SCHEDULE": "0,0.2"}) as processes:
            yield processes


@pytest.fixture
async def lenient(lenient_server_strict_worker, http) -> Api:
    return Api(lenient_server_strict_worker[0].base_url, http)


class ConnectionCounter:
    """A TCP listener that counts the connections made to it and closes each at once."""

    def __init__(self):
        self.port = free_port()
        self.connections = 0
        self._server: asyncio.Server | None = None

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        writer.close()

    async def __aenter__(self) -> "ConnectionCounter":
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)
        return self

    async def __aexit__(self, *exc) -> None:
        self._server.close()
        await self._server.wait_closed()


async def failed_delivery(api: Api, url: str) -> dict:
    """Register ``url`` for flow.created, create a flow, and wait for that delivery to fail."""
    endpoint = (await api.admin("POST", "/api/webhooks", {"url": url, "events": ["flow.created"]})).body
    await api.admin("POST", "/api/flows", {})

    async def failed():
        reply = await api.admin("GET", f"/api/webhooks/{endpoint['id']}/deliveries?status=failed")
        return reply.body["items"]

    [delivery] = await eventually(failed)
    await api.admin("DELETE", f"/api/webhooks/{endpoint['id']}")
    return delivery  # type: ignore[no-any-return]


async def test_a_worker_without_the_permission_refuses_an_ip_literal_registered_with_it(lenient):
    async with ConnectionCounter() as listener:
        delivery = await failed_delivery(lenient, f"https://127.0.0.1:{listener.port}/x")
        assert delivery["attempts"] == 2 and delivery["last_status"] is None
        assert delivery["last_error"] == "refused: the host 127.0.0.1 is a loopback address"
        assert listener.connections == 0


@pytest.mark.parametrize("url, detail", [
    ("https://a..com/h", "label 2 of the host name is empty"),
    (f"https://{'a' * 100}.example.com/h", "label 1 of the host name is 100 characters long; DNS allows at most 63"),
    (f"https://{'.'.join(['a' * 63] * 4)}/h", "the host name is 255 characters long; DNS allows at most 253"),
    ("https://xn--zz.example.com/h", "not a valid internationalised domain name"),
    ("https://example.com:0/h", "port 0 cannot be connected to"),
    ("https://example.com:99999/h", "Port out of range"),
    ("https://224.0.0.1/h", "the host 224.0.0.1 is a multicast address"),
    ("https://[ff02::1]/h", "the host ff02::1 is a multicast address"),
    ("https://0.0.0.0/h", "the unspecified address"),
    ("https://255.255.255.255/h", "the broadcast address"),
    ("https://192.0.2.10/h", "a documentation address"),
    ("https://198.18.0.1/h", "a benchmarking address"),
    ("https://exa\u0000mple.com/h", "a space or a control character"),
])
async def test_a_url_no_receiver_can_have_is_a_precise_422_even_with_private_addresses_allowed(lenient, url, detail):
    for method, path in (("POST", "/api/webhooks"), ("PATCH", None)):
        if method == "PATCH":
            created = await lenient.admin("POST", "/api/webhooks", {"url": "http://127.0.0.1:9/h", "events": ["*"]})
            path = f"/api/webhooks/{created.body['id']}"
        reply = await lenient.admin(method, path, {"url": url, "events": ["*"]})
        assert reply.status == 422, reply
        assert reply.problem["type"] == "urn:mfa-flow:problem:webhook-url-refused"
        assert detail in reply.problem["detail"]
        if method == "PATCH":
            await lenient.admin("DELETE", path)


async def test_a_nul_in_a_description_is_a_400_on_create_and_on_change(lenient):
    bad = {"url": "http://127.0.0.1:9/h", "events": ["*"], "description": "CRM\u0000"}
    reply = await lenient.admin("POST", "/api/webhooks", bad)
    assert reply.status == 400, reply
    assert reply.problem["detail"].startswith("body.description: has characters that are not allowed")

    created = await lenient.admin("POST", "/api/webhooks", {**bad, "description": "CRM\nline two\ttab"})
    assert created.status == 201 and created.body["description"] == "CRM\nline two\ttab"
    path = f"/api/webhooks/{created.body['id']}"
    reply = await lenient.admin("PATCH", path, {"description": "\u0000"})
    assert reply.status == 400 and reply.problem["detail"].startswith("body.description: ")
    assert (await lenient.admin("GET", path)).body["description"] == "CRM\nline two\ttab"
    await lenient.admin("DELETE", path)


CARRIED = [
    ("::ffff:0:7f00:1", "a loopback address: 127.0.0.1, carried in the SIIT range ::ffff:0:0:0/96 (RFC 2765)"),
    ("64:ff9b:1::7f00:1", "a loopback address: 127.0.0.1, carried in the NAT64 local-use prefix 64:ff9b:1::/48"
                          " (RFC 8215)"),
]


@pytest.mark.parametrize("address, reason", CARRIED)
async def test_an_ipv6_literal_carrying_an_internal_ipv4_address_is_refused_at_registration(api, address, reason):
    """Issue 21, defect 9: such addresses were taken as public IPv6 ones."""
    reply = await api.admin("POST", "/api/webhooks", {"url": f"https://[{address}]:8443/h", "events": ["*"]})
    assert reply.status == 422, reply
    assert reply.problem["detail"] == f"url: the host {address} is {reason}"


@pytest.mark.parametrize("address, reason", CARRIED[:1])
async def test_the_worker_refuses_them_at_delivery_too(lenient, address, reason):
    """Registered where private addresses are allowed, refused by a worker where they are not."""
    delivery = await failed_delivery(lenient, f"https://[{address}]:9/x")
    assert delivery["last_error"] == f"refused: the host {address} is {reason}"
