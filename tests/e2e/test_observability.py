"""What operators see: health, readiness, Prometheus metrics and structured log lines."""

from __future__ import annotations

import asyncio
import json
import re

from tests.support.client import Api
from tests.support.names import unique
from tests.support.server import ADMIN_KEY, AUDITOR_KEY, free_port, server_and_worker


async def test_liveness_and_readiness(api):
    assert (await api.call("GET", "/healthz")).body == {"status": "ok"}
    assert (await api.call("GET", "/readyz")).body == {"status": "ready"}


async def test_metrics_count_flows_by_state_transitions_by_event_and_time_them(api):
    flow = await api.start()
    await flow.ok("cancel")
    reply = await api.auditor("GET", "/metrics")
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


async def refused(http, endpoint: str, authorization: str | None) -> str:
    """The detail of the 401 problem a scrape with this Authorization header gets."""
    headers = {"Authorization": authorization} if authorization else {}
    async with http.get(endpoint, headers=headers) as reply:
        assert reply.status == 401, (endpoint, authorization)
        assert reply.headers["Content-Type"].startswith("application/problem+json")
        assert reply.headers["WWW-Authenticate"] == "Bearer"
        detail: str = (await reply.json(content_type=None))["detail"]
        return detail


async def test_with_a_metrics_key_both_metrics_endpoints_want_it_as_a_bearer_token(test_database, http):
    async with test_database.own("metrics") as url:
        async with server_and_worker(url, {"MFA_FLOW_METRICS_KEY": METRICS_KEY},
                               worker={"MFA_FLOW_WORKER_METRICS_PORT": str(free_port())}) as (server, worker):
            for endpoint in (f"{server.base_url}/metrics",
                             f"http://127.0.0.1:{worker.env['MFA_FLOW_WORKER_METRICS_PORT']}/metrics"):
                for authorization in (None, "Bearer wrong", f"Bearer {ADMIN_KEY}", f"Basic {METRICS_KEY}"):
                    detail = await refused(http, endpoint, authorization)
                    assert detail == "/metrics needs the metrics key (MFA_FLOW_METRICS_KEY) as a Bearer token"
                async with http.get(endpoint, headers={"Authorization": f"Bearer {METRICS_KEY}"}) as reply:
                    assert reply.status == 200 and "mfa_flow_" in await reply.text(), endpoint
            # The key opens /metrics only.
            async with http.get(f"{server.base_url}/api/webhooks",
                                headers={"Authorization": f"Bearer {METRICS_KEY}"}) as reply:
                assert reply.status == 401


def flows_in(text: str, state: str) -> int:
    found = re.search(rf'^mfa_flow_flows{{state="{state}"}} (\S+)$', text, re.M)
    assert found, f"no mfa_flow_flows for {state}"
    return int(float(found.group(1)))


async def test_without_a_metrics_key_metrics_want_the_admin_or_auditor_key(test_database, http):
    """Issue 21, defect 4: /metrics was open to anyone when MFA_FLOW_METRICS_KEY was unset."""
    async with test_database.own("metrics_closed") as url:
        async with server_and_worker(url, {}, worker={"MFA_FLOW_WORKER_METRICS_PORT": str(free_port())}) as (
                server, worker):
            for endpoint in (f"{server.base_url}/metrics",
                             f"http://127.0.0.1:{worker.env['MFA_FLOW_WORKER_METRICS_PORT']}/metrics"):
                for authorization in (None, "Bearer wrong", "Bearer ft_" + "a" * 43, f"Basic {ADMIN_KEY}",
                                      "Bearer caf\u00e9"):
                    detail = await refused(http, endpoint, authorization)
                    assert detail.startswith("/metrics needs the admin or auditor key")
                for key in (ADMIN_KEY, AUDITOR_KEY):
                    async with http.get(endpoint, headers={"Authorization": f"Bearer {key}"}) as reply:
                        assert reply.status == 200 and "mfa_flow_" in await reply.text(), (endpoint, key)


async def test_scrapes_share_one_read_of_the_database_gauges_per_refresh(start_server, http):
    """Issue 21, defect 4: every scrape counted every flow (a GROUP BY per scrape). Now the
    gauges are read at most once per MFA_FLOW_METRICS_REFRESH (15 s by default) per process:
    scrapes in between, however many, show the same figures and cost no count."""
    server = await start_server.started(MFA_FLOW_METRICS_REFRESH="15")
    api = Api(server.base_url, http)

    async def scrape() -> str:
        reply = await api.auditor("GET", "/metrics")
        assert reply.status == 200, reply
        return reply.body

    first = await scrape()
    before = flows_in(first, "cancelled")
    for _ in range(3):
        await (await api.start()).ok("cancel")
    texts = await asyncio.gather(*(scrape() for _ in range(50)))
    assert {flows_in(text, "cancelled") for text in texts} == {before}, "the figures of the first read"
    read_at = re.search(r"^mfa_flow_gauges_read_timestamp_seconds (\S+)$", first, re.M)
    assert read_at and float(read_at.group(1)) > 0, "when they were read"
    assert {re.search(r"^mfa_flow_gauges_read_timestamp_seconds (\S+)$", t, re.M).group(1)  # type: ignore[union-attr]
            for t in texts} == {read_at.group(1)}
    # The counters are the process's own and always current.
    assert re.search(r'^mfa_flow_transitions_total\{event="cancel"\} [3-9]', texts[-1], re.M)


async def test_the_gauges_follow_the_database_after_the_refresh(start_server, http):
    server = await start_server.started(MFA_FLOW_METRICS_REFRESH="0.5")
    api = Api(server.base_url, http)
    before = flows_in((await api.admin("GET", "/metrics")).body, "cancelled")
    await (await api.start()).ok("cancel")
    await asyncio.sleep(0.6)
    assert flows_in((await api.admin("GET", "/metrics")).body, "cancelled") == before + 1
