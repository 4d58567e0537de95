"""An authorization's flow sends the webhooks of any sign-in."""

from __future__ import annotations

import pytest

from tests.e2e.oidc.conftest import REDIRECT_URI, unique
from tests.support.client import Api
from tests.support.receiver import subscribed
from tests.support.relying_party import Browser, RelyingParty
from tests.support.server import free_port, server_and_worker
from tests.support.waiting import eventually


@pytest.fixture(scope="module")
async def oidc_db(test_database):
    async with test_database.own("oidc_hooks") as url:
        yield url


@pytest.fixture(scope="module")
async def processes(oidc_db):
    async with server_and_worker(oidc_db, {"MFA_FLOW_WEBHOOK_ALLOW_PRIVATE": "1"},
                                 worker={"MFA_FLOW_WORKER_METRICS_PORT": str(free_port())}) as both:
        yield both


async def test_an_authorizations_flow_fires_the_sign_in_webhooks(processes, http):
    server, _ = processes
    api = Api(server.base_url, http)
    await api.configure([], "user_controlled")
    client = (await api.admin("POST", "/api/oidc/clients", {"name": "Hooked", "kind": "asserting",
                                                           "redirect_uris": [REDIRECT_URI]})).body
    rp = RelyingParty(f"http://localhost:{server.port}", client["client_id"], client["client_secret"])
    async with subscribed(api, ["*"]) as receiver:
        begun = await rp.begin(REDIRECT_URI, login_hint=unique("hooked"))
        flow = await Browser(api).sign_in_page(await rp.pushed_url((await rp.push(begun))["request_uri"]))
        assert flow.state == "done"
        await eventually(lambda: "flow.completed" in receiver.types(flow.id), what="flow.completed delivered")
        assert receiver.types(flow.id)[0] == "flow.created"
