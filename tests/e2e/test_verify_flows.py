"""Verifying MFA at sign-in: rules 1 (verify branch), 3 and 4 of the contract."""

from __future__ import annotations

from tests.support.names import unique
from tests.support.otp import fresh_code, wrong_code


async def enrolled_user(api, name: str) -> tuple[dict, str]:
    """A user with an authenticator app added through the Management API."""
    user = await api.new_user(unique(name))
    created = await api.admin("POST", f"/api/users/{user['id']}/mfa-verifications", {"type": "totp"})
    assert created.status == 201, created
    return user, created.body["secret"]


async def test_one_enrolled_factor_is_verified_straight_away(api):
    await api.configure(["totp"], "mandatory")
    user, secret = await enrolled_user(api, "hal")
    flow = await api.start()
    await flow.password(user["username"])
    assert flow.state == "totp_verify" and flow.flow["mode"] == "verify"
    assert flow.flow["challenge"] is None
    assert "switch_factor" not in flow.flow["allowed_events"]
    await flow.ok("submit_totp", code=await fresh_code(secret))
    assert flow.state == "done"
    assert (await api.admin("GET", f"/api/users/{user['id']}")).body["mfa"]["last_used"] == "totp"


async def test_with_several_choices_and_no_last_used_factor_the_user_selects(api):
    await api.configure(["totp", "backup_code"], "mandatory")
    user, secret = await enrolled_user(api, "ivy")
    await api.admin("POST", f"/api/users/{user['id']}/mfa-verifications", {"type": "backup_code"})
    flow = await api.start()
    await flow.password(user["username"])
    assert flow.state == "factor_selection"
    assert flow.flow["factors"] == ["totp", "backup_code"]
    assert flow.flow["preferred_factor"] is None
    reply = await flow.send("select_factor", factor="webauthn")
    assert reply.status == 422 and "not offered" in reply.problem["detail"]
    await flow.ok("select_factor", factor="totp")
    assert flow.state == "totp_verify"
    used: set[int] = set()
    await flow.ok("submit_totp", code=await fresh_code(secret, used))

    # The next sign-in goes straight to the last-used factor, with switch_factor on offer.
    second = await api.start()
    await second.password(user["username"])
    assert second.state == "totp_verify" and second.flow["preferred_factor"] == "totp"
    assert "switch_factor" in second.flow["allowed_events"]
    await second.ok("switch_factor")
    assert second.state == "factor_selection"
    await second.ok("select_factor", factor="totp")
    await second.ok("submit_totp", code=await fresh_code(secret, used))
    assert second.state == "done"


async def test_a_backup_code_never_becomes_the_last_used_factor(api):
    await api.configure(["totp", "backup_code"], "mandatory")
    user, _ = await enrolled_user(api, "jay")
    codes = (await api.admin("POST", f"/api/users/{user['id']}/mfa-verifications", {"type": "backup_code"})).body
    flow = await api.start()
    await flow.password(user["username"])
    await flow.ok("select_factor", factor="backup_code")
    await flow.ok("submit_backup_code", code=codes["codes"][3])
    assert (await api.admin("GET", f"/api/users/{user['id']}")).body["mfa"]["last_used"] is None


async def test_a_replayed_totp_code_is_refused(api):
    await api.configure(["totp"], "mandatory")
    user, secret = await enrolled_user(api, "kim")
    code = await fresh_code(secret)
    first = await api.start()
    await first.password(user["username"])
    await first.ok("submit_totp", code=code)
    second = await api.start()
    await second.password(user["username"])
    reply = await second.send("submit_totp", code=code)
    assert reply.status == 422 and "already used" in reply.problem["detail"]


async def test_removing_the_last_factor_removes_backup_codes_and_prompts_again(api):
    await api.configure(["totp", "backup_code"], "user_controlled")
    user = await api.new_user(unique("lou"))
    flow = await api.start()
    await flow.password(user["username"])
    await flow.ok("submit_totp", code=await fresh_code(flow.flow["challenge"]["secret"]))
    await flow.ok("acknowledge_backup_codes")
    factors = (await api.admin("GET", f"/api/users/{user['id']}/mfa-verifications")).body
    assert sorted(f["type"] for f in factors) == ["backup_code", "totp"]

    totp = next(f for f in factors if f["type"] == "totp")
    assert (await api.admin("DELETE", f"/api/users/{user['id']}/mfa-verifications/{totp['id']}")).status == 204
    assert (await api.admin("GET", f"/api/users/{user['id']}/mfa-verifications")).body == []
    assert (await api.admin("GET", f"/api/users/{user['id']}")).body["mfa"]["prompted"] is False

    again = await api.start()
    await again.password(user["username"])
    assert again.state == "totp_setup" and "skip" in again.flow["allowed_events"]


async def test_the_transition_log_tells_the_whole_story(api):
    await api.configure(["totp"], "mandatory")
    user, secret = await enrolled_user(api, "max")
    flow = await api.start()
    await flow.send("submit_password", username=user["username"], password="wrong")
    await flow.password(user["username"])
    await flow.send("submit_totp", code=wrong_code(secret))
    await flow.ok("submit_totp", code=await fresh_code(secret))
    rows = await api.transitions(flow.id)
    assert [(r["seq"], r["event"], r["from_state"], r["to_state"], r["data"]["guard"]) for r in rows] == [
        (1, "submit_password", "first_factor", "first_factor", "credentials_wrong"),
        (2, "submit_password", "first_factor", "totp_verify", "credentials_ok"),
        (3, "submit_totp", "totp_verify", "totp_verify", "proof_wrong"),
        (4, "submit_totp", "totp_verify", "done", "proof_ok"),
    ]
    assert rows[1]["data"]["rule"] == "verify.only_factor"
    assert [r["prev_hash"] for r in rows[1:]] == [r["hash"] for r in rows[:-1]]
    assert flow.flow["version"] == 4
