"""Attempt limits, lockout, expiry, finished flows and optimistic concurrency (rules 6, 7)."""

from __future__ import annotations

import asyncio

import pytest

from tests.e2e.test_verify_flows import enrolled_user
from tests.support.client import Api
from tests.support.names import unique
from tests.support.otp import fresh_code, wrong_code


async def test_attempts_run_out_and_the_flow_fails(api):
    await api.configure(["totp"], "mandatory")
    user, secret = await enrolled_user(api, "nat")
    flow = await api.start()
    await flow.password(user["username"])
    lefts = []
    for _ in range(5):
        reply = await flow.send("submit_totp", code=wrong_code(secret))
        assert reply.status == 422
        lefts.append(reply.problem["attempts_left"])
    assert lefts == [4, 3, 2, 1, 0]
    assert reply.problem["state"] == "failed" and "no attempts left" in reply.problem["detail"]
    flow_now = await flow.read()
    assert flow_now["state"] == "failed" and flow_now["allowed_events"] == []
    rows = await api.transitions(flow.id)
    assert (rows[-1]["event"], rows[-1]["to_state"], rows[-1]["data"]["reason"]) == ("lock", "failed", "attempts_exhausted")
    reply = await flow.send("submit_totp", code=await fresh_code(secret))
    assert reply.status == 409 and reply.problem["type"].endswith("flow-finished")


async def test_consecutive_failures_across_flows_lock_the_user_with_retry_after(api):
    await api.configure(["totp"], "mandatory")
    user = await api.new_user(unique("oli"))
    for _ in range(2):  # 2 flows x 5 wrong passwords = 10 consecutive failures
        flow = await api.start()
        for _ in range(5):
            assert (await flow.send("submit_password", username=user["username"], password="nope")).status == 422
    assert (await api.admin("GET", f"/api/users/{user['id']}")).body["mfa"]["locked_until"] is not None
    flow = await api.start()
    reply = await flow.send("submit_password", username=user["username"], password="correct horse battery")
    assert reply.status == 429
    assert 890 <= int(reply.headers["Retry-After"]) <= 900
    assert "try again in" in reply.problem["detail"]
    assert (await flow.read())["state"] == "first_factor", "a refused event writes nothing"

    backend = await api.admin("POST", "/api/flows", {"user": {"id": user["id"]}})
    assert backend.status == 429 and "Retry-After" in backend.headers

    # While locked, a wrong guess answers exactly as the right password does: guessing on tells nothing.
    guess = await (await api.start()).send("submit_password", username=user["username"], password="guess")
    assert guess.status == 429


async def test_two_set_up_flows_of_one_user_cannot_both_add_an_authenticator_app(api):
    await api.configure(["totp"], "mandatory")
    user = await api.new_user(unique("tabs"))
    first, second = await api.start(), await api.start()
    await first.password(user["username"])
    await second.password(user["username"])
    await first.ok("submit_totp", code=await fresh_code(first.flow["challenge"]["secret"]))
    reply = await second.send("submit_totp", code=await fresh_code(second.flow["challenge"]["secret"]))
    assert reply.status == 409 and "start a new sign-in" in reply.problem["detail"]
    listed = (await api.admin("GET", f"/api/users/{user['id']}/mfa-verifications")).body
    assert [v["type"] for v in listed] == ["totp"]


async def test_two_backend_flows_for_one_new_user_both_start(api):
    await api.configure([], "mandatory")
    new_id = unique("fresh")
    replies = await asyncio.gather(*(api.admin("POST", "/api/flows", {"user": {"id": new_id}}) for _ in range(4)))
    assert [r.status for r in replies] == [201] * 4


async def test_a_correct_password_does_not_reset_the_failure_count(api):
    await api.configure(["totp"], "mandatory")
    user, secret = await enrolled_user(api, "pam")
    for _ in range(9):
        flow = await api.start()
        assert (await flow.send("submit_password", username=user["username"], password="nope")).status == 422
    flow = await api.start()
    await flow.password(user["username"])  # right password: the count stands at 9
    reply = await flow.send("submit_totp", code=wrong_code(secret))
    assert reply.status == 422 and "locked" in reply.problem["detail"]
    assert reply.problem["state"] == "failed"


async def test_a_completed_sign_in_resets_the_failure_count(api):
    await api.configure(["totp"], "mandatory")
    user, secret = await enrolled_user(api, "quin")
    for _ in range(9):
        flow = await api.start()
        await flow.send("submit_password", username=user["username"], password="nope")
    flow = await api.start()
    await flow.password(user["username"])
    await flow.ok("submit_totp", code=await fresh_code(secret))
    flow = await api.start()
    assert (await flow.send("submit_password", username=user["username"], password="nope")).status == 422
    assert (await api.admin("GET", f"/api/users/{user['id']}")).body["mfa"]["locked_until"] is None


async def test_unknown_username_and_wrong_password_get_the_same_answer(api):
    user = await api.new_user(unique("ray"))
    answers = []
    for username in (user["username"], unique("nobody")):
        flow = await api.start()
        reply = await flow.send("submit_password", username=username, password="wrong password")
        answers.append((reply.status, {k: v for k, v in reply.problem.items() if k != "instance"}))
    assert answers[0] == answers[1]


async def test_an_expected_version_that_does_not_match_is_refused(api):
    await api.configure(["totp"], "mandatory")
    user = await api.new_user(unique("sam"))
    flow = await api.start()
    reply = await flow.send("submit_password", username=user["username"], password="correct horse battery",
                            expected_version=3)
    assert reply.status == 409 and reply.problem["version"] == 0
    assert "not 3" in reply.problem["detail"]
    stale = await api.call("POST", f"/api/flows/{flow.id}/events", flow.token, json={"type": "cancel"},
                           headers={"If-Match": '"7"'})
    assert stale.status == 409
    fresh = await api.call("POST", f"/api/flows/{flow.id}/events", flow.token, json={"type": "cancel"},
                           headers={"If-Match": '"0"'})
    assert fresh.status == 200 and fresh.body["state"] == "cancelled"


async def test_etag_and_if_none_match(api):
    flow = await api.start()
    first = await api.call("GET", f"/api/flows/{flow.id}", flow.token)
    assert first.headers["ETag"] == '"0"'
    same = await api.call("GET", f"/api/flows/{flow.id}", flow.token, headers={"If-None-Match": '"0"'})
    assert same.status == 304


async def test_long_poll_answers_when_the_version_moves(api):
    flow = await api.start()

    async def cancel_soon():
        await asyncio.sleep(0.3)
        await flow.ok("cancel")

    waiter = asyncio.create_task(
        api.call("GET", f"/api/flows/{flow.id}?wait=10", flow.token, headers={"If-None-Match": '"0"'})
    )
    await cancel_soon()
    reply = await waiter
    assert reply.status == 200 and reply.body["state"] == "cancelled" and reply.body["version"] == 1

    timeout = await api.call("GET", f"/api/flows/{flow.id}?wait=0.2", flow.token, headers={"If-None-Match": '"1"'})
    assert timeout.status == 304


@pytest.fixture(scope="module")
def short_lived(start_server):
    return start_server(MFA_FLOW_FLOW_TTL="1", MFA_FLOW_SWEEP_INTERVAL="1")


async def test_an_expired_flow_reads_expired_and_refuses_events_with_410(short_lived, http):
    api = Api(short_lived.base_url, http)
    flow = await api.start()
    await asyncio.sleep(1.2)
    assert (await flow.read())["state"] == "expired"
    reply = await flow.send("cancel")
    assert reply.status == 410 and "start a new sign-in" in reply.problem["detail"]


async def test_the_sweep_expires_flows_nobody_touches(short_lived, http):
    api = Api(short_lived.base_url, http)
    flow = await api.start()
    for _ in range(40):
        await asyncio.sleep(0.25)
        rows = await api.transitions(flow.id)
        if rows:
            break
    assert [(r["event"], r["to_state"], r["actor"]) for r in rows] == [("expire", "expired", "system")]
