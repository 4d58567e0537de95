"""Setting MFA up after the first factor: rules 1 (setup branch) and 2 of the contract."""

from __future__ import annotations

from tests.support.names import unique
from tests.support.otp import fresh_code, wrong_code


async def test_mandatory_with_one_factor_goes_straight_to_its_setup(api):
    await api.configure(["totp"], "mandatory")
    user = await api.new_user(unique("ann"))
    flow = await api.start()
    await flow.password(user["username"])
    assert flow.state == "totp_setup"
    assert flow.flow["mode"] == "setup"
    assert "skip" not in flow.flow["allowed_events"]
    assert "switch_factor" not in flow.flow["allowed_events"]
    challenge = flow.flow["challenge"]
    assert challenge["otpauth_uri"].startswith("otpauth://totp/mfa-flow:")
    assert f"secret={challenge['secret']}" in challenge["otpauth_uri"]
    assert challenge["qr_svg"].startswith("<svg")
    await flow.ok("submit_totp", code=await fresh_code(challenge["secret"]))
    assert flow.state == "done"
    assert flow.flow["result"]["amr"] == ["pwd", "otp", "mfa"]


async def test_a_wrong_setup_code_keeps_the_flow_in_setup_with_the_same_secret(api):
    await api.configure(["totp"], "mandatory")
    user = await api.new_user(unique("bob"))
    flow = await api.start()
    await flow.password(user["username"])
    secret = flow.flow["challenge"]["secret"]
    reply = await flow.send("submit_totp", code=wrong_code(secret))
    assert reply.status == 422
    assert reply.problem["attempts_left"] == 4
    again = await flow.read()
    assert again["state"] == "totp_setup" and again["challenge"]["secret"] == secret


async def test_backup_codes_follow_setup_are_shown_once_and_then_spend_once(api):
    await api.configure(["totp", "backup_code"], "mandatory")
    user = await api.new_user(unique("cat"))
    flow = await api.start()
    await flow.password(user["username"])
    secret = flow.flow["challenge"]["secret"]
    used: set[int] = set()
    await flow.ok("submit_totp", code=await fresh_code(secret, used))
    assert flow.state == "backup_codes"
    codes = flow.flow["challenge"]["codes"]
    assert len(codes) == 10 and len(set(codes)) == 10
    assert (await flow.read())["challenge"]["codes"] == codes  # still shown until acknowledged
    await flow.ok("acknowledge_backup_codes")
    assert flow.state == "done" and flow.flow["challenge"] is None

    # Next sign-in: TOTP is the last-used factor; switch to backup codes and spend one.
    second = await api.start()
    await second.password(user["username"])
    assert second.state == "totp_verify"
    assert second.flow["factors"] == ["totp", "backup_code"]
    await second.ok("switch_factor")
    assert second.state == "factor_selection"
    await second.ok("select_factor", factor="backup_code")
    assert second.state == "backup_code_verify"
    # Entry is forgiving: upper case, spaces instead of the dash.
    await second.ok("submit_backup_code", code=codes[0].upper().replace("-", " "))
    assert second.state == "done"
    assert second.flow["result"]["amr"] == ["pwd", "otp", "mfa"]

    third = await api.start()
    await third.password(user["username"])
    await third.ok("switch_factor")
    await third.ok("select_factor", factor="backup_code")
    reply = await third.send("submit_backup_code", code=codes[0])
    assert reply.status == 422, "a backup code is spent once"
    await third.ok("submit_backup_code", code=codes[1])

    factors = (await api.admin("GET", f"/api/users/{user['id']}/mfa-verifications")).body
    assert {f["type"]: f.get("remaining") for f in factors} == {"totp": None, "backup_code": 8}


async def test_embedding_backend_asserts_the_first_factor(api):
    await api.configure(["totp"], "mandatory")
    flow = await api.start(user={"id": unique("ext"), "username": unique("external")})
    assert flow.state == "totp_setup"
    transitions = (await api.auditor("GET", f"/api/flows/{flow.id}/transitions")).body
    assert [(t["event"], t["from_state"], t["to_state"]) for t in transitions] == [
        ("first_factor_asserted", "first_factor", "totp_setup")
    ]
    assert transitions[0]["actor"] == "admin"


async def test_only_the_admin_key_may_assert_a_first_factor(api):
    reply = await api.call("POST", "/api/flows", json={"user": {"id": "intruder"}})
    assert reply.status == 403
    assert "admin" in reply.problem["detail"]
