"""What adaptive MFA tells outside the decision, against a real server and worker: the
``flow.adaptive_mfa_triggered`` webhook (checked with the ``standardwebhooks`` package), the
user's sign-in history (``GET /api/users/{id}/sign-ins``) and an account flow's
``challenge.recent_sign_ins``. On a database of this module's own."""

from __future__ import annotations

import pytest
from standardwebhooks import Webhook

from tests.e2e.test_adaptive import PASSWORD, adaptive_on, with_totp
from tests.support.client import Api, FlowClient
from tests.support.names import unique
from tests.support.receiver import subscribed
from tests.support.server import server_and_worker
from tests.support.waiting import eventually


@pytest.fixture(scope="module")
async def own_db(test_database):
    async with test_database.own("adaptive_history") as url:
        yield url


@pytest.fixture(scope="module")
async def processes(own_db):
    async with server_and_worker(own_db, {"MFA_FLOW_WEBHOOK_ALLOW_PRIVATE": "1"},
                                 server={"MFA_FLOW_RATE_PASSWORDS": "0", "MFA_FLOW_RATE_FLOWS": "0"}
                                 ) as (server, worker):
        yield server, worker


@pytest.fixture
async def api(processes, http) -> Api:
    return Api(processes[0].base_url, http)


async def asserted(api: Api, user: dict, **context) -> FlowClient:
    reply = await api.admin("POST", "/api/flows", {"user": {"id": user["id"]}, "context": context})
    assert reply.status == 201, reply
    return FlowClient(api, reply.body["flow"], reply.body["flow_token"])


async def test_a_fired_rule_is_told_by_a_signed_webhook_and_no_risk_is_not(api):
    async with subscribed(api, ["flow.adaptive_mfa_triggered", "flow.completed"]) as receiver:
        await adaptive_on(api)
        user, _ = await with_totp(api)
        calm = await asserted(api, user, country="FR", bot_score=90)  # the first sign-in: nothing fires
        assert calm.state == "done"
        risky = await asserted(api, user, country="FR", bot_score=4)
        assert risky.state == "totp_verify"
        await eventually(lambda: receiver.types(risky.id) and receiver.types(calm.id))
        assert receiver.types(calm.id) == ["flow.completed"]
        (received,) = receiver.about(risky.id)
        message = Webhook(receiver.secret).verify(received.body, received.headers)
        assert message["type"] == "flow.adaptive_mfa_triggered"
        assert message["data"] == {"flow_id": risky.id, "user_id": user["id"],
                                   "fired": [{"rule": "untrusted_ip", "score": 4, "min_score": 30}]}


async def test_the_admin_reads_a_users_sign_ins_newest_first_a_page_at_a_time(api):
    await adaptive_on(api, geo_velocity={"enabled": False})  # Paris to Lyon in a second is no journey
    user, _ = await with_totp(api)
    places = [("FR", "IDF", "Paris", 48.8566, 2.3522), ("FR", "IDF", "Paris", 48.8566, 2.3522),
              ("FR", "ARA", "Lyon", 45.764, 4.8357)]
    for country, region, city, latitude, longitude in places:
        flow = await asserted(api, user, country=country, region=region, city=city, latitude=latitude,
                              longitude=longitude)
        assert flow.state == "done", flow.flow
    first = await api.admin("GET", f"/api/users/{user['id']}/sign-ins?limit=2")
    assert first.status == 200, first
    assert [s["city"] for s in first.body["items"]] == ["Lyon", "Paris"] and first.body["next"]
    newest = first.body["items"][0]
    assert set(newest) == {"at", "flow_id", "country", "region", "city", "latitude", "longitude", "device"}
    assert (newest["country"], newest["region"], newest["latitude"], newest["longitude"]) == ("FR", "ARA", 45.764, 4.8357)
    rest = await api.admin("GET", f"/api/users/{user['id']}/sign-ins?limit=2&after={first.body['next']}")
    assert [s["city"] for s in rest.body["items"]] == ["Paris"] and rest.body["next"] is None

    assert (await api.admin("GET", f"/api/users/{user['id']}/sign-ins?after=yesterday")).status == 400
    assert (await api.admin("GET", f"/api/users/{user['id']}/sign-ins?limit=0")).status == 400
    assert (await api.admin("GET", "/api/users/nobody-at-all/sign-ins")).status == 404
    assert (await api.auditor("GET", f"/api/users/{user['id']}/sign-ins")).status == 403
    assert (await api.admin("DELETE", f"/api/users/{user['id']}")).status == 204
    assert (await api.admin("GET", f"/api/users/{user['id']}/sign-ins")).status == 404


async def test_an_account_flow_shows_the_persons_recent_sign_ins(api):
    await api.configure(["totp"], "no_prompt")
    user = await api.new_user(unique("account"), PASSWORD)
    for city in ("Paris", "Lyon"):
        flow = await asserted(api, user, country="FR", city=city, device_id=f"browser-{city}")
        assert flow.state == "done"
    flow = await api.start()
    await flow.password(user["username"])
    assert flow.state == "done"  # a page's sign-in, with no place known

    reply = await api.call("POST", "/api/flows", json={"purpose": "manage", "subject_token": flow.flow["result"]["token"]})
    assert reply.status == 201, reply
    account = FlowClient(api, reply.body["flow"], reply.body["flow_token"])
    assert account.state == "manage"
    recent = account.flow["challenge"]["recent_sign_ins"]
    assert [(s["country"], s["city"]) for s in recent] == [(None, None), ("FR", "Lyon"), ("FR", "Paris")]
    assert set(recent[1]) == {"at", "country", "region", "city", "device"} and recent[1]["device"]
    seen_by_auditor = (await api.auditor("GET", f"/api/flows/{account.id}")).body["challenge"]["recent_sign_ins"]
    assert [(s["country"], s["city"]) for s in seen_by_auditor] == [(None, None), ("FR", None), ("FR", None)]
