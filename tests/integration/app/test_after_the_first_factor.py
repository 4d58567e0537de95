"""What follows the first factor (rule 1, the set-up branch, and step-up), specified through
the flow service on a real database: the rules the end-to-end tests pinned through HTTP,
which adds nothing to them (moved from tests/e2e/test_setup_flows.py and test_step_up.py)."""

from __future__ import annotations

import pytest

from mfa_flow.domain.access import ADMIN, Principal
from mfa_flow.domain.errors import Conflict
from tests.integration.conftest import InProcess
from tests.support.otp import fresh_code


async def test_a_user_controlled_set_up_can_be_skipped_and_is_offered_once(service: InProcess):
    await service.configure(["totp"], "user_controlled")
    user = await service.new_user()
    flow = await service.signed_in_with_password(user["username"])
    assert flow.state == "totp_setup" and "skip" in service.flows.allowed_events(flow)
    flow = await service.send(flow.id, "skip")
    assert flow.state == "done" and flow.result is not None and flow.result["amr"] == ["pwd"]
    again = await service.signed_in_with_password(user["username"])
    assert again.state == "done", "the set-up prompt happens once per user"


async def test_a_cancelled_flow_does_not_spend_the_user_controlled_prompt(service: InProcess):
    await service.configure(["totp"], "user_controlled")
    user = await service.new_user()
    flow = await service.signed_in_with_password(user["username"])
    assert (await service.send(flow.id, "cancel")).state == "cancelled"
    assert (await service.signed_in_with_password(user["username"])).state == "totp_setup"


async def test_a_completed_user_controlled_set_up_marks_the_user_prompted(service: InProcess):
    await service.configure(["totp"], "user_controlled")
    user = await service.new_user()
    flow = await service.signed_in_with_password(user["username"])
    secret = service.flows.view(flow, owner=True)["challenge"]["secret"]
    await service.send(flow.id, "submit_totp", code=await fresh_code(secret))
    assert (await service.management.get_user(user["id"]))["mfa"]["prompted"] is True


async def test_with_no_factor_enabled_the_first_factor_finishes_the_sign_in(service: InProcess):
    await service.configure([], "mandatory")
    user = await service.new_user()
    flow = await service.signed_in_with_password(user["username"])
    assert flow.state == "done" and flow.result is not None and flow.result["amr"] == ["pwd"]


async def test_a_step_up_with_no_factor_enabled_is_refused_and_writes_nothing(service: InProcess):
    await service.configure([], "mandatory")
    with pytest.raises(Conflict) as refused:
        await service.flows.create({"id": "nobody-yet"}, Principal(ADMIN), require_mfa=True)
    assert refused.value.kind == "mfa-unavailable" and "no primary factor is enabled" in str(refused.value)
    assert await service.flows.recent(10) == [], "no flow"
    assert (await service.management.list_users(None, None, 10))["items"] == [], "the user was not created either"
