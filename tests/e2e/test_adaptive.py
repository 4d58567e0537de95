"""Adaptive MFA and the two no-skip prompt policies against a real server (contract, third
part: "Policies, third part", "Adaptive MFA"): Logto's validation answered 422 with the field
named, the policies' table at sign-up and sign-in, the decision as the first transition, and
``audit verify`` refusing forged adaptive decisions."""

from __future__ import annotations

import json
import uuid

import asyncpg
import pytest

from tests.support.cli import mfa_flow
from tests.support.client import Api, FlowClient
from tests.support.forgery import rehash_chain
from tests.support.names import unique
from tests.support.otp import fresh_code

PASSWORD = "correct horse battery"
NO_SKIP = ("prompt_at_sign_in_and_sign_up_mandatory", "prompt_only_at_sign_in_mandatory")
ALL_RULES = ["new_country", "geo_velocity", "long_inactivity", "untrusted_ip", "new_device", "failure_burst"]


@pytest.fixture(scope="module")
def sign_up_server(start_server):
    return start_server(MFA_FLOW_SIGN_UP="1", MFA_FLOW_RATE_PASSWORDS="0", MFA_FLOW_RATE_FLOWS="0")


@pytest.fixture
def api(sign_up_server, http) -> Api:
    return Api(sign_up_server.base_url, http)


async def put_config(api: Api, factors=("totp",), policy=NO_SKIP[0], adaptive=None) -> dict:
    body = {"factors": list(factors), "policy": policy}
    if adaptive is not None:
        body["adaptive"] = adaptive
    reply = await api.admin("PUT", "/api/config/mfa", body)
    return reply


async def adaptive_on(api: Api, policy=NO_SKIP[0], **rules) -> dict:
    reply = await put_config(api, policy=policy, adaptive={"enabled": True, "rules": rules})
    assert reply.status == 200, reply
    return reply.body


async def with_totp(api: Api, name: str = "has") -> tuple[dict, str]:
    user = await api.new_user(unique(name), PASSWORD)
    created = await api.admin("POST", f"/api/users/{user['id']}/mfa-verifications", {"type": "totp"})
    assert created.status == 201, created
    return user, created.body["secret"]


async def first_row(api: Api, flow: FlowClient) -> dict:
    rows = await api.transitions(flow.id)
    return next(r for r in rows if r["from_state"] == "first_factor" and r["to_state"] != "first_factor")


# --- configuration and Logto's validation ------------------------------------------------------


async def test_the_configuration_shows_adaptive_off_with_the_default_thresholds(api):
    config = (await api.admin("GET", "/api/config/mfa")).body
    assert config["adaptive"]["enabled"] is False
    assert config["adaptive"]["rules"]["geo_velocity"] == {"enabled": True, "max_kmh": 900}
    assert config["adaptive"]["rules"]["failure_burst"] == {"enabled": True, "failures": 5, "minutes": 15}
    assert list(config["adaptive"]["rules"]) == ALL_RULES


async def test_each_rule_can_be_turned_off_and_its_threshold_set(api):
    body = await adaptive_on(api, geo_velocity={"enabled": False, "max_kmh": 1200},
                             untrusted_ip={"networks": ["203.0.113.7/24"]})
    assert body["adaptive"]["rules"]["geo_velocity"] == {"enabled": False, "max_kmh": 1200}
    assert body["adaptive"]["rules"]["untrusted_ip"]["networks"] == ["203.0.113.0/24"]
    assert (await api.admin("GET", "/api/config/mfa")).body == body


@pytest.mark.parametrize(("factors", "policy", "adaptive", "field"), [
    ([], NO_SKIP[0], {"enabled": True}, "factors"),
    (["totp"], "mandatory", {"enabled": True}, "policy"),
    (["totp"], "prompt_at_sign_in_and_sign_up", {"enabled": True}, "policy"),
    (["totp"], NO_SKIP[0], {"enabled": False}, "adaptive.enabled"),
    (["totp"], NO_SKIP[1], None, "adaptive.enabled"),
    (["totp"], NO_SKIP[1], {"enabled": True, "rules": {"untrusted_ip": {"networks": ["no/net"]}}},
     "adaptive.rules.untrusted_ip.networks[0]"),
])
async def test_logtos_validation_is_a_422_naming_the_field(api, factors, policy, adaptive, field):
    before = (await api.admin("GET", "/api/config/mfa")).body
    reply = await put_config(api, factors, policy, adaptive)
    assert reply.status == 422, reply
    assert reply.problem["field"] == field and reply.problem["detail"], reply.problem
    assert (await api.admin("GET", "/api/config/mfa")).body == before  # nothing changed


async def test_a_threshold_out_of_range_is_a_400_naming_it(api):
    reply = await put_config(api, adaptive={"enabled": True, "rules": {"geo_velocity": {"max_kmh": 0}}})
    assert reply.status == 400 and "max_kmh" in reply.problem["detail"], reply


# --- the no-skip policies -----------------------------------------------------------------------


@pytest.mark.parametrize(("policy", "at_sign_up"), [(NO_SKIP[0], "totp_setup"), (NO_SKIP[1], "done")])
async def test_the_no_skip_policies_at_sign_up(api, policy, at_sign_up):
    await adaptive_on(api, policy=policy)
    flow = await api.start()
    await flow.ok("submit_registration", username=unique("new"), password=PASSWORD)
    assert flow.state == at_sign_up and "skip" not in flow.flow["allowed_events"]
    row = await first_row(api, flow)
    assert row["data"]["policy"] == policy
    if at_sign_up == "done":
        assert row["data"]["rule"] == "done.no_prompt_at_sign_up"
    else:
        assert row["data"]["rule"] == "setup.required"
        reply = await flow.send("skip")
        assert reply.status == 409 and reply.problem["detail"]


@pytest.mark.parametrize("policy", NO_SKIP)
async def test_the_no_skip_policies_at_sign_in_without_factors_every_time_until_set_up(api, policy):
    await adaptive_on(api, policy=policy)
    user = await api.new_user(unique("none"), PASSWORD)
    for _ in range(2):  # not once per user: every sign-in, until a factor is set up
        flow = await api.start()
        await flow.password(user["username"], PASSWORD)
        assert flow.state == "totp_setup" and "skip" not in flow.flow["allowed_events"]
        assert (await first_row(api, flow))["data"]["rule"] == "setup.required"
        await flow.ok("cancel")


@pytest.mark.parametrize("policy", NO_SKIP)
async def test_with_a_factor_and_no_risk_the_sign_in_is_done_without_a_second_factor(api, policy):
    await adaptive_on(api, policy=policy)
    user, _ = await with_totp(api)
    flow = await api.start()
    await flow.password(user["username"], PASSWORD)
    assert flow.state == "done" and flow.flow["result"]["acr"] == "urn:mfa-flow:acr:pwd"
    row = await first_row(api, flow)
    assert row["data"]["rule"] == "done.adaptive_no_risk"
    assert row["data"]["adaptive"]["evaluated"] == ALL_RULES and row["data"]["adaptive"]["fired"] == []


async def test_the_opt_out_cannot_be_set_under_a_no_skip_policy(api):
    await adaptive_on(api)
    user, secret = await with_totp(api)
    reply = await api.admin("POST", "/api/flows", {"purpose": "manage", "user": {"id": user["id"]}})
    assert reply.status == 201, reply
    account = FlowClient(api, reply.body["flow"], reply.body["flow_token"])
    assert account.state == "totp_verify"  # an account flow keeps its step-up under adaptive MFA
    await account.ok("submit_totp", code=await fresh_code(secret))
    assert account.state == "manage"
    refused = await account.send("set_mfa_enabled", enabled=False)
    assert refused.status == 422 and "adaptive MFA decides" in refused.problem["detail"], refused


async def test_adaptive_never_waives_a_step_up(api):
    await adaptive_on(api)
    user, _ = await with_totp(api)
    reply = await api.admin("POST", "/api/flows", {"user": {"id": user["id"]}, "require_mfa": True})
    assert reply.status == 201 and reply.body["flow"]["state"] == "totp_verify", reply
    row = (await api.transitions(reply.body["flow"]["id"]))[0]
    assert row["data"]["override"] == "step_up" and row["data"]["rule"] == "verify.only_factor"


async def test_adaptive_never_waives_a_required_user(api):
    await adaptive_on(api)
    user, _ = await with_totp(api)
    assert (await api.admin("PATCH", f"/api/users/{user['id']}", {"mfa": {"required": True}})).status == 200
    flow = await api.start()
    await flow.password(user["username"], PASSWORD)
    assert flow.state == "totp_verify"
    assert (await first_row(api, flow))["data"]["override"] == "required"


# --- audit verify refuses forged decisions ------------------------------------------------------


async def test_audit_verify_replays_adaptive_decisions_and_refuses_forged_ones(fresh_database, start_server, http):
    server = await start_server.started(fresh_database, MFA_FLOW_CHECKPOINT_SECONDS="3600")
    api = Api(server.base_url, http)
    await adaptive_on(api)
    user, _ = await with_totp(api)
    flow = await api.start()
    await flow.password(user["username"], PASSWORD)
    assert flow.state == "done"
    checked = mfa_flow(server, "audit", "verify")
    assert checked.code == 0, checked.out + checked.err

    conn = await asyncpg.connect(fresh_database)
    try:
        await conn.execute("ALTER TABLE transitions DISABLE TRIGGER transitions_append_only")
        for rule, fired, says in [
            ("done.adaptive_no_risk", [{"rule": "new_country", "days": 180}], "although the adaptive rule(s) new_country"),
            ("verify.adaptive", [], "no adaptive rule fired"),
        ]:
            # The forger rewrites the decision and re-hashes the chain, so that every hash holds.
            rows = [dict(r) for r in await conn.fetch(
                "SELECT xid::text || '-' || id::text AS cursor, * FROM transitions WHERE flow_id = $1 ORDER BY seq",
                uuid.UUID(flow.id))]
            for row in rows:
                row["flow_id"], row["data"] = str(row["flow_id"]), json.loads(row["data"])
            rows[0]["data"] = {**rows[0]["data"], "rule": rule,
                               "adaptive": {**rows[0]["data"]["adaptive"], "fired": fired}}
            head = rehash_chain(rows)
            for row in rows:
                await conn.execute("UPDATE transitions SET data = $2::jsonb, prev_hash = $3, hash = $4 WHERE id = $1",
                                   row["id"], json.dumps(row["data"]), row["prev_hash"], row["hash"])
            await conn.execute("UPDATE flows SET chain_head = $2 WHERE id = $1", uuid.UUID(flow.id), head)
            outcome = mfa_flow(server, "audit", "verify")
            assert outcome.code == 1 and says in outcome.out, outcome.out
            first = outcome.out.split("first: ")[1].splitlines()[0]
            assert first.startswith(f"row {rows[0]['cursor']} "), first
    finally:
        await conn.close()
