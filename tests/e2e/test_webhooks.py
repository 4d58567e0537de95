"""Webhooks end to end: a real server, a real ``mfa-flow worker`` and a real receiver on
loopback, on a database of this module's own (so no other worker shares its deliveries)."""

from __future__ import annotations

import secrets
import uuid
from datetime import datetime
from urllib.parse import urlencode

import asyncpg
import pytest
from standardwebhooks import Webhook

from tests.support.client import Api
from tests.support.names import unique
from tests.support.otp import fresh_code, wrong_code
from tests.support.receiver import Receiver
from tests.support.server import AUDITOR_KEY, free_port, server_and_worker
from tests.support.waiting import eventually

SCHEDULE = "0,0.3,0.3,0.3"  # four tries, fast: the real default is hours long



@pytest.fixture(scope="module")
async def hooks_db(test_database):
    async with test_database.own("hooks") as url:
        yield url


@pytest.fixture(scope="module")
async def processes(hooks_db):
    # The server sweeps rarely here, so that expiry events come from the worker's sweep.
    async with server_and_worker(
        hooks_db, {"MFA_FLOW_WEBHOOK_ALLOW_PRIVATE": "1"},
        server={"MFA_FLOW_LOCKOUT_THRESHOLD": "3", "MFA_FLOW_SWEEP_INTERVAL": "3600"},
        worker={"MFA_FLOW_WEBHOOK_RETRY_SCHEDULE": SCHEDULE, "MFA_FLOW_SWEEP_INTERVAL": "0.2",
                "MFA_FLOW_WORKER_METRICS_PORT": str(free_port())},
    ) as (server, worker):
        yield server, worker


@pytest.fixture
async def hooks(processes, http) -> Api:
    return Api(processes[0].base_url, http)


@pytest.fixture
async def receiver():
    receiver = await Receiver().start()
    yield receiver
    await receiver.stop()


@pytest.fixture
async def endpoint(hooks, receiver):
    """An endpoint for every event at the receiver; removed after the test."""
    reply = await hooks.admin("POST", "/api/webhooks", {"url": receiver.url, "events": ["*"]})
    assert reply.status == 201, reply
    yield reply.body
    await hooks.admin("DELETE", f"/api/webhooks/{reply.body['id']}")


async def deliveries(api: Api, endpoint: dict, **query) -> list[dict]:
    reply = await api.admin("GET", f"/api/webhooks/{endpoint['id']}/deliveries?{urlencode(query)}")
    assert reply.status == 200, reply
    return reply.body["items"]


# --- registering endpoints ----------------------------------------------------------------------


async def test_an_endpoint_shows_its_secret_once(hooks, receiver):
    reply = await hooks.admin("POST", "/api/webhooks",
                              {"url": receiver.url, "events": ["flow.completed"], "description": "CRM"})
    assert reply.status == 201 and reply.headers["Location"] == f"/api/webhooks/{reply.body['id']}"
    created = reply.body
    assert created["secret"].startswith("whsec_") and created["enabled"] is True
    read = (await hooks.admin("GET", f"/api/webhooks/{created['id']}")).body
    assert "secret" not in read and read["events"] == ["flow.completed"] and read["description"] == "CRM"
    assert created["id"] in [e["id"] for e in (await hooks.admin("GET", "/api/webhooks")).body]

    patched = await hooks.admin("PATCH", f"/api/webhooks/{created['id']}", {"events": ["*"], "enabled": False})
    assert patched.status == 200 and patched.body["events"] == ["*"] and patched.body["enabled"] is False

    assert (await hooks.admin("DELETE", f"/api/webhooks/{created['id']}")).status == 204
    gone = await hooks.admin("GET", f"/api/webhooks/{created['id']}")
    assert gone.status == 404 and gone.problem["type"] == "urn:mfa-flow:problem:not-found"


async def test_only_the_admin_manages_endpoints(hooks):
    assert (await hooks.call("GET", "/api/webhooks")).status == 401
    assert (await hooks.auditor("GET", "/api/webhooks")).status == 403


async def test_an_unknown_event_type_is_a_bad_request(hooks, receiver):
    reply = await hooks.admin("POST", "/api/webhooks", {"url": receiver.url, "events": ["flow.exploded"]})
    assert reply.status == 400 and "events" in reply.problem["detail"]


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:9/hook",  # plain http
    "https://127.0.0.1/hook",  # loopback
    "https://localhost/hook",  # loopback, after resolution
    "https://10.0.0.8/hook",  # private
    "https://169.254.169.254/latest/meta-data",  # metadata
    "https://[::1]/hook",
])
async def test_private_and_plain_http_urls_are_refused_by_default(api, url):
    reply = await api.admin("POST", "/api/webhooks", {"url": url, "events": ["*"]})
    assert reply.status == 422, reply
    assert reply.problem["type"] == "urn:mfa-flow:problem:webhook-url-refused"


@pytest.mark.parametrize("url", ["http://10.0.0.8/hook", "https://169.254.169.254/latest/meta-data"])
async def test_allowing_private_addresses_keeps_plain_http_on_loopback_and_metadata_out(hooks, url):
    reply = await hooks.admin("POST", "/api/webhooks", {"url": url, "events": ["*"]})
    assert reply.status == 422, reply


# --- what a receiver gets ---------------------------------------------------------------------------


async def test_a_sign_in_reaches_the_receiver_in_order_signed_per_standard_webhooks(hooks, receiver, endpoint):
    await hooks.configure(["totp"], "mandatory")
    user = await hooks.new_user(unique("ann"))
    flow = await hooks.start()
    await flow.password(user["username"])
    await flow.ok("submit_totp", code=await fresh_code(flow.flow["challenge"]["secret"]))
    await eventually(lambda: "flow.completed" in receiver.types(flow.id))

    assert receiver.types(flow.id) == ["flow.created", "flow.transitioned", "flow.transitioned",
                                       "mfa.factor_enrolled", "flow.completed"]
    for request in receiver.about(flow.id):
        assert Webhook(endpoint["secret"]).verify(request.body, request.headers) == request.message
        assert request.webhook_id.startswith("msg_")
    created, to_setup, to_done, enrolled, completed = (r.message for r in receiver.about(flow.id))
    assert created["data"]["state"] == "first_factor"
    assert (to_setup["data"]["from_state"], to_setup["data"]["to_state"]) == ("first_factor", "totp_setup")
    assert (to_done["data"]["seq"], to_done["data"]["to_state"]) == (2, "done")
    assert enrolled["data"]["user_id"] == user["id"] and enrolled["data"]["type"] == "totp"
    factors = (await hooks.admin("GET", f"/api/users/{user['id']}/mfa-verifications")).body
    assert enrolled["data"]["verification_id"] == factors[0]["id"]
    assert completed["data"]["amr"] == ["pwd", "otp", "mfa"] and completed["data"]["user_id"] == user["id"]
    datetime.fromisoformat(completed["timestamp"].replace("Z", "+00:00"))

    async def logged():  # the worker records an answer just after the receiver gave it
        items = await deliveries(hooks, endpoint, status="succeeded")
        return items if {d["message_id"] for d in items} >= {r.webhook_id for r in receiver.about(flow.id)} else None

    assert all(d["attempts"] == 1 and d["last_status"] == 200 for d in await eventually(logged))


async def test_an_endpoint_gets_only_the_events_it_subscribed_to(hooks, receiver):
    reply = await hooks.admin("POST", "/api/webhooks", {"url": receiver.url, "events": ["flow.cancelled"]})
    flow = await hooks.start()
    await flow.ok("cancel")
    await eventually(lambda: receiver.types(flow.id))
    assert receiver.types(flow.id) == ["flow.cancelled"]
    await hooks.admin("DELETE", f"/api/webhooks/{reply.body['id']}")


async def test_a_wrong_code_causes_no_event(hooks, receiver, endpoint):
    await hooks.configure(["totp"], "mandatory")
    user = await hooks.new_user(unique("bob"))
    flow = await hooks.start()
    await flow.password(user["username"])
    assert (await flow.send("submit_totp", code=wrong_code(flow.flow["challenge"]["secret"]))).status == 422
    await flow.ok("cancel")
    await eventually(lambda: "flow.cancelled" in receiver.types(flow.id))
    # Per-flow order: had the wrong code caused an event, it would have arrived before these.
    assert receiver.types(flow.id) == ["flow.created", "flow.transitioned", "flow.transitioned", "flow.cancelled"]


async def test_a_transition_rolled_back_after_its_row_is_written_causes_no_event(hooks, hooks_db, receiver, endpoint):
    flow = await hooks.start()
    conn = await asyncpg.connect(hooks_db)
    trigger = f"fail_{secrets.token_hex(4)}"
    try:
        # A failure at commit, after the transition and outbox rows are written: the whole
        # transaction rolls back, whatever the service did before.
        await conn.execute(f"""
            CREATE FUNCTION {trigger}() RETURNS trigger LANGUAGE plpgsql AS
              $$ BEGIN RAISE EXCEPTION 'injected failure'; END $$;
            CREATE CONSTRAINT TRIGGER {trigger} AFTER INSERT ON transitions DEFERRABLE INITIALLY DEFERRED
              FOR EACH ROW WHEN (NEW.flow_id = '{flow.id}' AND NEW.event = 'cancel') EXECUTE FUNCTION {trigger}();
        """)
        failed = await flow.send("cancel")
        assert failed.status == 500 and failed.problem["type"] == "urn:mfa-flow:problem:internal-error"
        assert await conn.fetchval(
            "SELECT count(*) FROM webhook_messages WHERE ordering_key = $1 AND type <> 'flow.created'", f"flow:{flow.id}"
        ) == 0
    finally:
        await conn.execute(f"DROP TRIGGER IF EXISTS {trigger} ON transitions; DROP FUNCTION IF EXISTS {trigger}()")
        await conn.close()
    assert (await flow.read())["state"] == "first_factor"
    await flow.ok("cancel")
    await eventually(lambda: "flow.cancelled" in receiver.types(flow.id))
    assert receiver.types(flow.id) == ["flow.created", "flow.transitioned", "flow.cancelled"]


async def test_management_changes_and_lockouts_are_events(hooks, receiver, endpoint):
    user = await hooks.new_user(unique("cid"))
    added = (await hooks.admin("POST", f"/api/users/{user['id']}/mfa-verifications", {"type": "totp"})).body
    assert (await hooks.admin("DELETE", f"/api/users/{user['id']}/mfa-verifications/{added['id']}")).status == 204

    def about_user():
        return [r.message for r in receiver.received if r.message["data"].get("user_id") == user["id"]]

    await eventually(lambda: len(about_user()) == 2)
    assert [(m["type"], m["data"]["verification_id"]) for m in about_user()] == [
        ("mfa.factor_enrolled", added["id"]), ("mfa.factor_removed", added["id"])]

    flow = await hooks.start()
    for _ in range(3):  # the lockout threshold of this server
        assert (await flow.send("submit_password", username=user["username"], password="wrong")).status == 422
    await eventually(lambda: "user.locked" in receiver.types(flow.id))
    assert receiver.types(flow.id) == ["flow.created", "flow.transitioned", "flow.failed", "user.locked"]
    locked = receiver.about(flow.id)[-1].message["data"]
    assert locked["user_id"] == user["id"] and locked["locked_until"]


async def test_an_overdue_flow_expires_without_a_client(hooks, hooks_db, receiver, endpoint):
    flow = await hooks.start()
    conn = await asyncpg.connect(hooks_db)
    try:  # time passes
        await conn.execute("UPDATE flows SET expires_at = now() - interval '1 second' WHERE id = $1", uuid.UUID(flow.id))
    finally:
        await conn.close()
    await eventually(lambda: "flow.expired" in receiver.types(flow.id))
    assert receiver.types(flow.id) == ["flow.created", "flow.transitioned", "flow.expired"]


# --- failures, retries and dead letters ---------------------------------------------------------------


async def test_a_receiver_failing_twice_gets_the_event_on_the_third_try_with_the_same_id(hooks, receiver):
    receiver.answers = [(500, {}), (500, {})]
    endpoint = (await hooks.admin("POST", "/api/webhooks", {"url": receiver.url, "events": ["flow.created"]})).body
    flow = await hooks.start()
    await eventually(lambda: len(receiver.about(flow.id)) == 3)
    assert len({r.webhook_id for r in receiver.about(flow.id)}) == 1
    for request in receiver.about(flow.id):
        Webhook(endpoint["secret"]).verify(request.body, request.headers)
    [delivery] = await eventually(lambda: _settled(hooks, endpoint))
    assert (delivery["status"], delivery["attempts"], delivery["last_status"]) == ("succeeded", 3, 200)
    assert delivery["last_response"] == "thanks"
    await hooks.admin("DELETE", f"/api/webhooks/{endpoint['id']}")


async def _settled(api, endpoint):
    items = await deliveries(api, endpoint)
    return items if items and all(d["status"] != "pending" for d in items) else None


async def test_a_receiver_down_for_the_whole_schedule_ends_failed_and_a_manual_retry_delivers(hooks):
    down = Receiver()  # its port is chosen but nobody listens yet
    endpoint = (await hooks.admin("POST", "/api/webhooks", {"url": down.url, "events": ["flow.created"]})).body
    flow = await hooks.start()
    [delivery] = await eventually(lambda: _settled(hooks, endpoint))
    assert (delivery["status"], delivery["attempts"], delivery["next_attempt_at"]) == ("failed", 4, None)
    assert "Connect" in delivery["last_error"] or "refused" in delivery["last_error"].lower()

    await down.start()
    try:
        retried = await hooks.admin("POST", f"/api/webhooks/{endpoint['id']}/deliveries/{delivery['id']}/retry")
        assert retried.status == 200 and retried.body["status"] == "pending"
        await eventually(lambda: down.about(flow.id))
        assert down.about(flow.id)[0].webhook_id == delivery["message_id"]
        [done] = await eventually(lambda: _settled(hooks, endpoint))
        assert (done["status"], done["attempts"]) == ("succeeded", 5)
    finally:
        await down.stop()
        await hooks.admin("DELETE", f"/api/webhooks/{endpoint['id']}")


async def test_retry_after_on_429_is_honoured(hooks, receiver):
    receiver.answers = [(429, {"Retry-After": "120"})]
    endpoint = (await hooks.admin("POST", "/api/webhooks", {"url": receiver.url, "events": ["flow.created"]})).body
    await hooks.start()

    async def answered():
        items = await deliveries(hooks, endpoint)
        return items if items and items[0]["last_status"] == 429 else None

    [delivery] = await eventually(answered)
    wait = datetime.fromisoformat(delivery["next_attempt_at"][:-1]) - datetime.fromisoformat(delivery["last_attempt_at"][:-1])
    assert delivery["status"] == "pending" and wait.total_seconds() >= 120
    await hooks.admin("DELETE", f"/api/webhooks/{endpoint['id']}")


async def test_410_gone_disables_the_endpoint(hooks, receiver):
    receiver.answers = [(410, {})]
    endpoint = (await hooks.admin("POST", "/api/webhooks", {"url": receiver.url, "events": ["flow.created"]})).body
    await hooks.start()
    [delivery] = await eventually(lambda: _settled(hooks, endpoint))
    assert (delivery["status"], delivery["attempts"], delivery["last_status"]) == ("failed", 1, 410)
    read = (await hooks.admin("GET", f"/api/webhooks/{endpoint['id']}")).body
    assert read["enabled"] is False and "410" in read["disabled_reason"]
    enabled = (await hooks.admin("PATCH", f"/api/webhooks/{endpoint['id']}", {"enabled": True})).body
    assert enabled["enabled"] is True and enabled["disabled_reason"] is None
    await hooks.admin("DELETE", f"/api/webhooks/{endpoint['id']}")


async def test_after_a_rotation_both_secrets_sign_for_a_day(hooks, receiver, endpoint):
    rotated = await hooks.admin("POST", f"/api/webhooks/{endpoint['id']}/rotate-secret")
    assert rotated.status == 200 and rotated.body["secret"] != endpoint["secret"]
    assert rotated.body["previous_secret_expires_at"] is not None
    flow = await hooks.start()
    [request] = await eventually(lambda: receiver.about(flow.id))
    assert len(request.headers["webhook-signature"].split(" ")) == 2
    for secret in (endpoint["secret"], rotated.body["secret"]):
        Webhook(secret).verify(request.body, request.headers)


# --- what the worker reports ------------------------------------------------------------------------


async def test_the_worker_and_the_server_report_deliveries_in_metrics(hooks, processes, receiver, endpoint, http):
    flow = await hooks.start()
    await eventually(lambda: receiver.about(flow.id))
    worker = processes[1]

    async def worker_metrics():
        async with http.get(f"http://127.0.0.1:{worker.env['MFA_FLOW_WORKER_METRICS_PORT']}/metrics",
                            headers={"Authorization": f"Bearer {AUDITOR_KEY}"}) as r:
            return 'mfa_flow_webhook_attempts_total{outcome="succeeded"}' in await r.text()

    await eventually(worker_metrics)
    server_metrics = (await hooks.auditor("GET", "/metrics")).body
    assert 'mfa_flow_webhook_deliveries{status="succeeded"}' in server_metrics
    assert '"webhook attempt"' in worker.log() and flow.id not in worker.log()  # ids of messages, not data
