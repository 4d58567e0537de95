"""Step-up (contract, "Step-up"): the embedding backend asks for a second factor now, whatever
the policy and the user's opt-out; the result token's acr says whether one was proven."""

from __future__ import annotations

import json

import pytest
from jwcrypto import jwk, jwt

from tests.e2e.test_verify_flows import enrolled_user
from tests.support.client import Api, FlowClient
from tests.support.names import unique
from tests.support.otp import fresh_code
from tests.support.schemas import check_flow

POLICIES = ("mandatory", "prompt_at_sign_in_and_sign_up", "prompt_only_at_sign_in", "no_prompt")


async def step_up(api: Api, user: dict) -> FlowClient:
    reply = await api.admin("POST", "/api/flows", {"user": {"id": user["id"]}, "require_mfa": True})
    assert reply.status == 201, reply
    return FlowClient(api, check_flow(reply.body["flow"]), reply.body["flow_token"])


async def token_claims(api: Api, token: str) -> dict:
    keys = jwk.JWKSet.from_json(json.dumps((await api.call("GET", "/.well-known/jwks.json")).body))
    return json.loads(jwt.JWT(jwt=token, key=keys, algs=["ES256"], check_claims={"exp": None}).claims)


@pytest.mark.parametrize("policy", POLICIES)
async def test_a_user_with_a_factor_verifies_it_whatever_the_policy(api, policy):
    await api.configure(["totp"], policy)
    user, secret = await enrolled_user(api, "stu")
    flow = await step_up(api, user)
    assert flow.state == "totp_verify" and flow.flow["require_mfa"] is True and flow.flow["purpose"] == "sign_in"
    await flow.ok("submit_totp", code=await fresh_code(secret))
    assert flow.flow["result"]["acr"] == "urn:mfa-flow:acr:mfa"
    claims = await token_claims(api, flow.flow["result"]["token"])
    assert claims["acr"] == "urn:mfa-flow:acr:mfa" and claims["amr"] == ["otp"]
    first = (await api.transitions(flow.id))[0]
    assert first["event"] == "first_factor_asserted"
    assert {k: first["data"].get(k) for k in ("rule", "policy", "override")} == {
        "rule": "verify.only_factor", "policy": policy, "override": "step_up"}


@pytest.mark.parametrize("policy", ["prompt_at_sign_in_and_sign_up", "no_prompt"])
async def test_a_user_without_a_factor_sets_one_up_with_no_skip(api, policy):
    await api.configure(["totp"], policy)
    user = await api.new_user(unique("sal"))
    flow = await step_up(api, user)
    assert flow.state == "totp_setup" and flow.flow["mode"] == "setup"
    assert "skip" not in flow.flow["allowed_events"]
    reply = await flow.send("skip")
    assert reply.status == 409 and reply.problem["detail"]
    await flow.ok("submit_totp", code=await fresh_code(flow.flow["challenge"]["secret"]))
    assert flow.state == "done"
    claims = await token_claims(api, flow.flow["result"]["token"])
    assert claims["acr"] == "urn:mfa-flow:acr:mfa" and claims["amr"] == ["otp"]


async def test_without_step_up_the_same_sign_in_is_password_only(api):
    await api.configure(["totp"], "no_prompt")
    user = await api.new_user(unique("pat"))
    flow = await api.start({"id": user["id"]})
    assert flow.state == "done" and flow.flow["require_mfa"] is False
    assert flow.flow["result"]["acr"] == "urn:mfa-flow:acr:pwd"
    assert (await token_claims(api, flow.flow["result"]["token"]))["acr"] == "urn:mfa-flow:acr:pwd"


async def test_step_up_needs_a_user_and_the_admin_key(api):
    reply = await api.call("POST", "/api/flows", json={"require_mfa": True})
    assert reply.status == 400 and reply.problem["detail"].startswith("body.require_mfa: ")
    reply = await api.call("POST", "/api/flows", json={"user": {"id": "x"}, "require_mfa": True})
    assert reply.status in (401, 403)
    reply = await api.admin("POST", "/api/flows", {"user": {"id": "x"}, "require_mfa": "yes"})
    assert reply.status == 400 and reply.problem["detail"] == "body.require_mfa: must be of type boolean"


async def test_a_trusted_device_does_not_stand_in_for_a_step_up(api):
    reply = await api.admin("PUT", "/api/config/mfa", {"factors": ["totp"], "policy": "prompt_only_at_sign_in",
                                                       "trusted_devices": {"enabled": True, "days": 30}})
    assert reply.status == 200, reply
    user, secret = await enrolled_user(api, "dev")
    used: set[int] = set()
    remembered = await api.start()
    await remembered.password(user["username"])
    await remembered.ok("submit_totp", code=await fresh_code(secret, used), remember_device=True)
    token = remembered.flow["result"]["device_token"]

    reply = await api.admin("POST", "/api/flows", {"user": {"id": user["id"]}, "device_token": token,
                                                   "require_mfa": True})
    assert reply.status == 201, reply
    flow = FlowClient(api, check_flow(reply.body["flow"]), reply.body["flow_token"])
    assert flow.state == "totp_verify"
    first = (await api.transitions(flow.id))[0]["data"]
    assert (first["override"], first["trusted_device"]) == ("step_up", "not_applicable")
    await flow.ok("submit_totp", code=await fresh_code(secret, used))
    assert flow.flow["result"]["acr"] == "urn:mfa-flow:acr:mfa" and "mfa_by" not in flow.flow["result"]
