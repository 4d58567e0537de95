"""The four policies and the per-user settings against a real server (contract, "Policies and
per-user settings"): each policy x (sign-up, first sign-in without factors, sign-in with
factors, opted out, required), with the rule, policy and override each transition names."""

from __future__ import annotations

import pytest

from tests.support.client import Api, FlowClient
from tests.support.names import unique
from tests.support.otp import fresh_code

PASSWORD = "correct horse battery"

# policy: what each case leads to: (state, skip offered, rule, override)
SETUP_NO_SKIP = ("totp_setup", False, "setup.required", None)
SETUP_SKIPPABLE = ("totp_setup", True, "setup.offered", None)
VERIFY = ("totp_verify", False, "verify.only_factor", None)
REQUIRED = ("totp_setup", False, "setup.required", "required")
OPTED_OUT = ("done", False, "done.opted_out", "skip_on_sign_in")
MATRIX = {
    "mandatory": {
        "sign-up": SETUP_NO_SKIP, "first sign-in": SETUP_NO_SKIP, "with factors": VERIFY,
        "opted out": VERIFY, "required": SETUP_NO_SKIP,
    },
    "prompt_at_sign_in_and_sign_up": {
        "sign-up": SETUP_SKIPPABLE, "first sign-in": SETUP_SKIPPABLE, "with factors": VERIFY,
        "opted out": OPTED_OUT, "required": REQUIRED,
    },
    "prompt_only_at_sign_in": {
        "sign-up": ("done", False, "done.no_prompt_at_sign_up", None), "first sign-in": SETUP_SKIPPABLE,
        "with factors": VERIFY, "opted out": OPTED_OUT, "required": REQUIRED,
    },
    "no_prompt": {
        "sign-up": ("done", False, "done.no_prompt", None), "first sign-in": ("done", False, "done.no_prompt", None),
        "with factors": VERIFY, "opted out": OPTED_OUT, "required": REQUIRED,
    },
}
CASES = ("sign-up", "first sign-in", "with factors", "opted out", "required")


@pytest.fixture(scope="module")
def sign_up_server(start_server):
    return start_server(MFA_FLOW_SIGN_UP="1")


@pytest.fixture
def api(sign_up_server, http) -> Api:
    return Api(sign_up_server.base_url, http)


async def patch_mfa(api: Api, user: dict, **settings) -> dict:
    reply = await api.admin("PATCH", f"/api/users/{user['id']}", {"mfa": settings})
    assert reply.status == 200, reply
    return reply.body


async def with_totp(api: Api, name: str) -> tuple[dict, str]:
    user = await api.new_user(unique(name), PASSWORD)
    created = await api.admin("POST", f"/api/users/{user['id']}/mfa-verifications", {"type": "totp"})
    assert created.status == 201, created
    return user, created.body["secret"]


async def reach(api: Api, case: str) -> tuple[FlowClient, str | None]:
    """A flow just past the first factor, for a user in the situation ``case`` names; and the
    user's TOTP secret when they have one."""
    flow = await api.start()
    if case == "sign-up":
        await flow.ok("submit_registration", username=unique("new"), password=PASSWORD)
        return flow, None
    secret = None
    if case in ("with factors", "opted out"):
        user, secret = await with_totp(api, "has")
        if case == "opted out":
            await patch_mfa(api, user, skip_on_sign_in=True)
    else:
        user = await api.new_user(unique("none"), PASSWORD)
        if case == "required":
            await patch_mfa(api, user, required=True)
    await flow.password(user["username"], PASSWORD)
    return flow, secret


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("policy", list(MATRIX))
async def test_each_policy_and_setting_leads_where_the_contract_says(api, policy, case):
    await api.configure(["totp"], policy)
    flow, _ = await reach(api, case)
    state, skip, rule, override = MATRIX[policy][case]
    assert (flow.state, "skip" in flow.flow["allowed_events"]) == (state, skip)
    row = (await api.transitions(flow.id))[-1]
    assert (row["data"]["rule"], row["data"]["policy"], row["data"].get("override")) == (rule, policy, override)
    if state == "done":
        assert flow.flow["result"]["acr"] == "urn:mfa-flow:acr:pwd"
    if not skip:
        reply = await flow.send("skip")
        assert reply.status == 409 and reply.problem["detail"]


async def test_an_opted_out_user_under_mandatory_still_verifies_and_it_counts_as_mfa(api):
    await api.configure(["totp"], "mandatory")
    user, secret = await with_totp(api, "mo")
    await patch_mfa(api, user, skip_on_sign_in=True)
    flow = await api.start()
    await flow.password(user["username"], PASSWORD)
    assert flow.state == "totp_verify"
    await flow.ok("submit_totp", code=await fresh_code(secret))
    assert flow.flow["result"]["acr"] == "urn:mfa-flow:acr:mfa"


async def test_a_required_user_who_opted_out_verifies_and_the_log_says_required_won(api):
    await api.configure(["totp"], "no_prompt")
    user, secret = await with_totp(api, "ro")
    await patch_mfa(api, user, skip_on_sign_in=True, required=True)
    flow = await api.start()
    await flow.password(user["username"], PASSWORD)
    assert flow.state == "totp_verify"
    assert (await api.transitions(flow.id))[-1]["data"]["override"] == "required"


async def test_prompt_only_at_sign_in_prompts_at_the_first_sign_in_after_sign_up_and_then_never(api):
    await api.configure(["totp"], "prompt_only_at_sign_in")
    name = unique("later")
    flow = await api.start()
    await flow.ok("submit_registration", username=name, password=PASSWORD)
    assert flow.state == "done"
    first = await api.start()
    await first.password(name, PASSWORD)
    assert first.state == "totp_setup" and "skip" in first.flow["allowed_events"]
    await first.ok("skip")
    again = await api.start()
    await again.password(name, PASSWORD)
    assert again.state == "done"
    assert (await api.transitions(again.id))[-1]["data"]["rule"] == "done.already_prompted"


async def test_the_old_policy_name_is_accepted_and_read_back_by_its_new_name(api):
    await api.configure(["totp"], "user_controlled")
    assert (await api.admin("GET", "/api/config/mfa")).body["policy"] == "prompt_at_sign_in_and_sign_up"
    flow, _ = await reach(api, "first sign-in")
    assert flow.state == "totp_setup" and "skip" in flow.flow["allowed_events"]
    assert (await api.transitions(flow.id))[-1]["data"]["policy"] == "prompt_at_sign_in_and_sign_up"


async def test_audit_verify_replays_every_new_rule(api, sign_up_server):
    """A skip after each new rule is checked against the rule by ``audit verify``."""
    from tests.support.cli import mfa_flow

    for policy in MATRIX:
        await api.configure(["totp"], policy)
        for case in CASES:
            flow, _ = await reach(api, case)
            if "skip" in flow.flow["allowed_events"]:
                await flow.ok("skip")
    checked = mfa_flow(sign_up_server, "audit", "verify")
    assert checked.code == 0, checked.out + checked.err


# --- issue 21, defect 5: a skip offered, then the rules change -----------------------------------


async def offered_a_skippable_set_up(api: Api, name: str) -> tuple[dict, FlowClient]:
    await api.configure(["totp"], "prompt_at_sign_in_and_sign_up")
    user = await api.new_user(unique(name), PASSWORD)
    flow = await api.start()
    await flow.password(user["username"], PASSWORD)
    assert flow.state == "totp_setup" and "skip" in flow.flow["allowed_events"]
    return user, flow


async def refused_skip(flow: FlowClient, why: str) -> None:
    reply = await flow.send("skip")
    assert reply.status == 422 and reply.problem["type"] == "urn:mfa-flow:problem:mfa-required", reply
    assert reply.problem["detail"] == (f"this set-up can no longer be skipped: {why}; set a factor up, or start a"
                                       " new sign-in")
    assert (await flow.read())["state"] == "totp_setup", "the refused skip changed nothing"


async def test_a_skip_offered_before_the_policy_became_mandatory_is_refused(api):
    _, flow = await offered_a_skippable_set_up(api, "pm")
    await api.configure(["totp"], "mandatory")
    await refused_skip(flow, "the MFA policy is now mandatory")
    # The set-up itself still completes the sign-in.
    await flow.ok("submit_totp", code=await fresh_code(flow.flow["challenge"]["secret"]))
    assert flow.state == "done" and flow.flow["result"]["acr"] == "urn:mfa-flow:acr:mfa"


async def test_a_skip_offered_before_the_user_was_made_required_is_refused(api):
    user, flow = await offered_a_skippable_set_up(api, "ur")
    await patch_mfa(api, user, required=True)
    await refused_skip(flow, "MFA is now required for this user (mfa.required)")


async def test_a_skip_offered_before_the_user_gained_a_factor_is_refused(api):
    user, flow = await offered_a_skippable_set_up(api, "gf")
    assert (await api.admin("POST", f"/api/users/{user['id']}/mfa-verifications", {"type": "totp"})).status == 201
    await refused_skip(flow, "the user has enrolled a factor since (totp), and a sign-in verifies it")


async def test_a_skip_offered_is_still_honoured_when_nothing_that_matters_changed(api):
    _, flow = await offered_a_skippable_set_up(api, "ok")
    await api.configure(["totp"], "no_prompt")  # less strict: skipping is still the user's choice
    await flow.ok("skip")
    assert flow.state == "done" and flow.flow["result"]["acr"] == "urn:mfa-flow:acr:pwd"
