"""What operators see: health, readiness, Prometheus metrics and structured log lines."""

from __future__ import annotations

import json
import re

from tests.e2e.test_setup_flows import unique
from tests.support.server import ADMIN_KEY, free_port, server_and_worker


async def test_liveness_and_readiness(api):
    assert (await api.call("GET", "/healthz")).body == {"status": "ok"}
    assert (await api.call("GET", "/readyz")).body == {"status": "ready"}


async def test_metrics_count_flows_by_state_transitions_by_event_and_time_them(api):
    flow = await api.start()
    await flow.ok("cancel")
    reply = await api.call("GET", "/metrics")
    assert reply.status == 200 and reply.headers["Content-Type"].startswith("text/plain")
    text = reply.body
    cancelled = re.search(r'^mfa_flow_flows\{state="cancelled"\} (\d+)', text, re.M)
    assert cancelled and int(cancelled.group(1)) >= 1
    assert re.search(r'^mfa_flow_transitions_total\{event="cancel"\} [1-9]', text, re.M)
    assert re.search(r"^mfa_flow_transition_seconds_count [1-9]", text, re.M)


async def test_every_transition_is_one_json_log_line_without_secrets(api, server):
    await api.configure(["totp"], "mandatory")
    user = await api.new_user(unique("logs"), password="a password that must not leak")
    flow = await api.start()
    await flow.password(user["username"], "a password that must not leak")
    lines = [json.loads(line) for line in server.log().splitlines() if flow.id in line and line.startswith("{")]
    [line] = [entry for entry in lines if entry.get("kind") == "transition"]
    assert line["event"] == "submit_password" and line["flow_id"] == flow.id
    assert (line["from"], line["to"]) == ("first_factor", "totp_setup")
    assert line["duration_ms"] > 0 and line["actor"] == "user"
    assert "a password that must not leak" not in server.log()


async def test_every_line_of_a_request_carries_its_request_id_and_flow_id(api, server):
    flow = await api.start()
    reply = await flow.send("cancel")
    request_id = reply.headers["X-Request-Id"]
    lines = [json.loads(line) for line in server.log().splitlines() if request_id in line and line.startswith("{")]
    [transition] = [entry for entry in lines if entry.get("kind") == "transition"]
    assert transition["request_id"] == request_id and transition["flow_id"] == flow.id
    created = [json.loads(line) for line in server.log().splitlines() if '"flow created"' in line and flow.id in line]
    assert created and created[0]["request_id"] != request_id


async def test_admin_changes_are_logged_without_secrets(api, server):
    user = await api.new_user(unique("admin-logs"), password="another password that must not leak")
    await api.configure(["totp"], "user_controlled")
    added = (await api.admin("POST", f"/api/users/{user['id']}/mfa-verifications", {"type": "totp"})).body
    entries = [json.loads(line) for line in server.log().splitlines() if line.startswith("{")]
    admin = [e for e in entries if e.get("kind") == "admin"]
    assert {"user added", "mfa configuration changed", "factor added"} <= {e["event"] for e in admin}
    assert any(e["event"] == "factor added" and e["user_id"] == user["id"] for e in admin)
    assert "another password that must not leak" not in server.log()
    assert added["secret"] not in server.log()


METRICS_KEY = "metrics_key_for_the_scraper_0123456789"


async def test_with_a_metrics_key_both_metrics_endpoints_want_it_as_a_bearer_token(test_database, http):
    async with test_database.own("metrics") as url:
        async with server_and_worker(url, {"MFA_FLOW_METRICS_KEY": METRICS_KEY},
                               worker={"MFA_FLOW_WORKER_METRICS_PORT": str(free_port())}) as (server, worker):
            for endpoint in (f"{server.base_url}/metrics",
                             f"http://127.0.0.1:{worker.env['MFA_FLOW_WORKER_METRICS_PORT']}/metrics"):
                for authorization in (None, "Bearer wrong", f"Bearer {ADMIN_KEY}", f"Basic {METRICS_KEY}"):
                    headers = {"Authorization": authorization} if authorization else {}
                    async with http.get(endpoint, headers=headers) as reply:
                        assert reply.status == 401, (endpoint, authorization)
                        assert reply.headers["Content-Type"].startswith("application/problem+json")
                        assert reply.headers["WWW-Authenticate"] == "Bearer"
                        problem = await reply.json(content_type=None)
                        assert problem["detail"] == ("/metrics needs the metrics key (MFA_FLOW_METRICS_KEY)"
                                                     " as a Bearer token")
                async with http.get(endpoint, headers={"Authorization": f"Bearer {METRICS_KEY}"}) as reply:
                    assert reply.status == 200 and "mfa_flow_" in await reply.text(), endpoint
            # The key opens /metrics only.
            async with http.get(f"{server.base_url}/api/webhooks",
                                headers={"Authorization": f"Bearer {METRICS_KEY}"}) as reply:
                assert reply.status == 401
