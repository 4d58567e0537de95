"""The Management API's side of the per-user MFA settings (contract, "Users"): the user's ``mfa``
block, ``PATCH`` of ``mfa.required`` / ``mfa.skip_on_sign_in``, ``unlock`` and ``reset-mfa``,
and their webhooks (``user.unlocked``, ``mfa.reset``), against a real server and worker."""

from __future__ import annotations

import pytest

from tests.support.client import Api
from tests.support.names import unique
from tests.support.otp import fresh_code
from tests.support.receiver import Receiver, subscribed
from tests.support.server import server_and_worker
from tests.support.waiting import eventually

PASSWORD = "correct horse battery"
THRESHOLD = 3  # consecutive failures that lock a user on this module's server


@pytest.fixture(scope="module")
async def own_db(test_database):
    async with test_database.own("user_settings") as url:
        yield url


@pytest.fixture(scope="module")
async def processes(own_db):
    async with server_and_worker(
        own_db, {"MFA_FLOW_WEBHOOK_ALLOW_PRIVATE": "1"},
        server={"MFA_FLOW_LOCKOUT_THRESHOLD": str(THRESHOLD), "MFA_FLOW_MAX_ATTEMPTS": "10"},
        worker={"MFA_FLOW_WEBHOOK_RETRY_SCHEDULE": "0,0.3"},
    ) as (server, worker):
        yield server, worker


@pytest.fixture
async def api(processes, http) -> Api:
    return Api(processes[0].base_url, http)


@pytest.fixture
async def receiver(api):
    async with subscribed(api, ["*"]) as receiver:
        yield receiver


def about_user(receiver: Receiver, user_id: str) -> list[dict]:
    return [r.message for r in receiver.received if r.message["data"].get("user_id") == user_id]


async def user_json(api: Api, user: dict) -> dict:
    reply = await api.admin("GET", f"/api/users/{user['id']}")
    assert reply.status == 200, reply
    return reply.body


async def signed_up_with_totp_and_codes(api: Api, user: dict) -> None:
    """A sign-in that sets up an authenticator app, then saves the backup codes that follow."""
    flow = await api.start()
    await flow.password(user["username"], PASSWORD)
    await flow.ok("submit_totp", code=await fresh_code(flow.flow["challenge"]["secret"]))
    await flow.ok("acknowledge_backup_codes")


# --- the mfa block -----------------------------------------------------------------------------


async def test_a_new_user_shows_an_empty_mfa_block(api):
    user = await api.new_user(unique("new"), PASSWORD)
    assert user["mfa"] == {"factors": [], "required": False, "skip_on_sign_in": False, "prompted": False,
                           "last_used": None, "locked_until": None}
    assert (await user_json(api, user))["mfa"] == user["mfa"]


async def test_the_mfa_block_follows_set_up_and_sign_in(api):
    await api.configure(["totp", "backup_code"], "mandatory")
    user = await api.new_user(unique("fol"), PASSWORD)
    await signed_up_with_totp_and_codes(api, user)
    mfa = (await user_json(api, user))["mfa"]
    assert mfa["factors"] == ["totp", "backup_code"] and mfa["prompted"] is True and mfa["last_used"] == "totp"


# --- PATCH -------------------------------------------------------------------------------------


async def test_patch_changes_only_the_settings_sent_and_answers_the_new_user(api):
    user = await api.new_user(unique("pat"), PASSWORD)
    reply = await api.admin("PATCH", f"/api/users/{user['id']}", {"mfa": {"required": True}})
    assert reply.status == 200 and reply.body["mfa"]["required"] is True and reply.body["mfa"]["skip_on_sign_in"] is False
    reply = await api.admin("PATCH", f"/api/users/{user['id']}", {"mfa": {"skip_on_sign_in": True}})
    assert (reply.body["mfa"]["required"], reply.body["mfa"]["skip_on_sign_in"]) == (True, True)
    assert (await user_json(api, user))["mfa"] == reply.body["mfa"]


@pytest.mark.parametrize(
    "body,detail",
    [
        ({"mfa": {"required": "yes"}}, "body.mfa.required: must be of type boolean"),
        ({"mfa": {"skip_on_sign_in": None}}, "body.mfa.skip_on_sign_in: must be of type boolean"),
        ({"mfa": {"enabled": True}}, "body.mfa: Additional properties are not allowed ('enabled' was unexpected)"),
        ({"mfa": True}, "body.mfa: must be of type object"),
    ],
    ids=["not-boolean", "null", "unknown-setting", "not-an-object"],
)
async def test_patch_refuses_a_bad_body_with_a_precise_problem(api, body, detail):
    user = await api.new_user(unique("bad"), PASSWORD)
    reply = await api.admin("PATCH", f"/api/users/{user['id']}", body)
    assert reply.status == 400 and reply.problem["detail"] == detail
    assert (await user_json(api, user))["mfa"] == user["mfa"], "nothing changed"


async def test_patch_answers_404_for_an_unknown_user_and_refuses_other_keys(api):
    reply = await api.admin("PATCH", "/api/users/nobody-here", {"mfa": {"required": True}})
    assert reply.status == 404 and reply.problem["detail"]
    reply = await api.auditor("PATCH", "/api/users/nobody-here", {"mfa": {"required": True}})
    assert reply.status == 403 and reply.problem["detail"]
    reply = await api.call("PATCH", "/api/users/nobody-here", json={"mfa": {"required": True}})
    assert reply.status == 401 and reply.problem["detail"]


# --- unlock ------------------------------------------------------------------------------------


async def lock_out(api: Api, user: dict) -> None:
    flow = await api.start()
    for _ in range(THRESHOLD):
        assert (await flow.send("submit_password", username=user["username"], password="wrong")).status == 422
    locked = await api.start()
    assert (await locked.send("submit_password", username=user["username"], password=PASSWORD)).status == 429


async def test_unlock_ends_a_lockout_at_once_and_tells_the_webhooks(api, receiver):
    await api.configure([], "mandatory")
    user = await api.new_user(unique("loc"), PASSWORD)
    await lock_out(api, user)
    assert (await user_json(api, user))["mfa"]["locked_until"] is not None
    reply = await api.admin("POST", f"/api/users/{user['id']}/unlock")
    assert reply.status == 200 and reply.body["mfa"]["locked_until"] is None
    flow = await api.start()
    await flow.password(user["username"], PASSWORD)
    assert flow.state == "done"
    await eventually(lambda: "user.unlocked" in [m["type"] for m in about_user(receiver, user["id"])])
    unlocked = next(m for m in about_user(receiver, user["id"]) if m["type"] == "user.unlocked")
    assert unlocked["data"] == {"user_id": user["id"]}


async def test_unlock_restarts_the_failure_count(api):
    await api.configure([], "mandatory")
    user = await api.new_user(unique("cnt"), PASSWORD)
    flow = await api.start()
    for _ in range(THRESHOLD - 1):
        await flow.send("submit_password", username=user["username"], password="wrong")
    assert (await api.admin("POST", f"/api/users/{user['id']}/unlock")).status == 200
    await flow.send("submit_password", username=user["username"], password="wrong")
    assert (await user_json(api, user))["mfa"]["locked_until"] is None, "the count started afresh"


async def test_unlocking_a_user_who_is_not_locked_changes_nothing_and_sends_nothing(api, receiver):
    user = await api.new_user(unique("free"), PASSWORD)
    reply = await api.admin("POST", f"/api/users/{user['id']}/unlock")
    assert reply.status == 200 and reply.body["mfa"]["locked_until"] is None
    marker = await api.new_user(unique("mark"), PASSWORD)  # a later event, to wait for
    await api.admin("POST", f"/api/users/{marker['id']}/mfa-verifications", {"type": "totp"})
    await eventually(lambda: about_user(receiver, marker["id"]))
    assert about_user(receiver, user["id"]) == []


async def test_unlock_and_reset_answer_404_for_an_unknown_user(api):
    for action in ("unlock", "reset-mfa"):
        reply = await api.admin("POST", f"/api/users/nobody-here/{action}")
        assert reply.status == 404 and reply.problem["detail"] == "user nobody-here does not exist"


# --- reset-mfa ---------------------------------------------------------------------------------


async def test_reset_mfa_removes_every_factor_and_prompts_the_user_again(api, receiver):
    await api.configure(["totp", "backup_code"], "prompt_at_sign_in_and_sign_up")
    user = await api.new_user(unique("rst"), PASSWORD)
    await signed_up_with_totp_and_codes(api, user)
    before = (await user_json(api, user))["mfa"]
    assert before["factors"] == ["totp", "backup_code"] and before["prompted"] is True

    reply = await api.admin("POST", f"/api/users/{user['id']}/reset-mfa")
    assert reply.status == 200
    assert reply.body["mfa"] | {"factors": [], "prompted": False, "last_used": None} == reply.body["mfa"]
    assert (await api.admin("GET", f"/api/users/{user['id']}/mfa-verifications")).body == []

    again = await api.start()
    await again.password(user["username"], PASSWORD)
    assert again.state == "totp_setup" and "skip" in again.flow["allowed_events"]

    def reset_messages():
        messages = about_user(receiver, user["id"])
        return messages if "mfa.reset" in [m["type"] for m in messages] else None

    messages = await eventually(reset_messages)
    reset = next(m for m in messages if m["type"] == "mfa.reset")
    assert reset["data"] == {"user_id": user["id"], "factors_removed": 2}
    removed = [m["data"]["type"] for m in messages if m["type"] == "mfa.factor_removed"]
    assert sorted(removed) == ["backup_code", "totp"]


async def test_reset_mfa_keeps_the_settings_the_admin_or_user_chose(api):
    user = await api.new_user(unique("kep"), PASSWORD)
    await api.admin("PATCH", f"/api/users/{user['id']}", {"mfa": {"required": True, "skip_on_sign_in": True}})
    reply = await api.admin("POST", f"/api/users/{user['id']}/reset-mfa")
    assert (reply.body["mfa"]["required"], reply.body["mfa"]["skip_on_sign_in"]) == (True, True)


async def test_reset_mfa_revokes_every_trusted_device_of_the_user(api, receiver):
    reply = await api.admin("PUT", "/api/config/mfa", {"factors": ["totp"], "policy": "mandatory",
                                                       "trusted_devices": {"enabled": True, "days": 30}})
    assert reply.status == 200, reply
    user = await api.new_user(unique("dev"), PASSWORD)
    created = await api.admin("POST", f"/api/users/{user['id']}/mfa-verifications", {"type": "totp"})
    flow = await api.start()
    await flow.password(user["username"], PASSWORD)
    await flow.ok("submit_totp", code=await fresh_code(created.body["secret"]), remember_device=True)
    token = flow.flow["result"]["device_token"]
    assert len((await api.admin("GET", f"/api/users/{user['id']}/trusted-devices")).body) == 1

    assert (await api.admin("POST", f"/api/users/{user['id']}/reset-mfa")).status == 200
    assert (await api.admin("GET", f"/api/users/{user['id']}/trusted-devices")).body == []
    again = await api.start()
    await again.ok("submit_password", username=user["username"], password=PASSWORD, device_token=token)
    assert again.state == "totp_setup", "no factor, no device: set-up as for a new user"

    def revoked():
        return [m for m in about_user(receiver, user["id"]) if m["type"] == "mfa.device_revoked"]

    [message] = await eventually(revoked)
    assert message["data"]["reason"] == "mfa_reset" and message["data"]["all"] is True
