"""Self-service sign-up: the user is created and goes straight into set-up as the policy says."""

from __future__ import annotations

import pytest

from tests.support.client import Api
from tests.support.names import unique
from tests.support.otp import fresh_code


@pytest.fixture(scope="module")
def open_sign_up(start_server):
    return start_server(MFA_FLOW_SIGN_UP="1")


async def test_sign_up_goes_into_setup_and_the_user_can_sign_in_afterwards(open_sign_up, http):
    api = Api(open_sign_up.base_url, http)
    await api.configure(["totp"], "mandatory")
    name = unique("new")
    flow = await api.start()
    assert "submit_registration" in flow.flow["allowed_events"]
    await flow.ok("submit_registration", username=name, password="a long new password")
    assert flow.state == "totp_setup"
    secret = flow.flow["challenge"]["secret"]
    used: set[int] = set()
    await flow.ok("submit_totp", code=await fresh_code(secret, used))
    again = await api.start()
    await again.password(name, "a long new password")
    assert again.state == "totp_verify"
    await again.ok("submit_totp", code=await fresh_code(secret, used))


async def test_user_controlled_sign_up_offers_setup_once(open_sign_up, http):
    api = Api(open_sign_up.base_url, http)
    await api.configure(["totp"], "user_controlled")
    name = unique("opt")
    flow = await api.start()
    await flow.ok("submit_registration", username=name, password="a long new password")
    assert flow.state == "totp_setup" and "skip" in flow.flow["allowed_events"]
    await flow.ok("skip")
    again = await api.start()
    await again.password(name, "a long new password")
    assert again.state == "done", "skipped at sign-up: not asked again at the first sign-in"


async def test_a_taken_username_is_a_conflict_and_changes_nothing(open_sign_up, http):
    api = Api(open_sign_up.base_url, http)
    existing = await api.new_user(unique("old"))
    flow = await api.start()
    reply = await flow.send("submit_registration", username=existing["username"], password="a long new password")
    assert reply.status == 409 and "is taken" in reply.problem["detail"]
    assert (await flow.read())["version"] == 0
