"""Passkey sign-in (issue 27): a discoverable passkey as the first factor, over the real HTTP API,
with the software authenticator (real ES256 signatures that py_webauthn verifies as a browser's)."""

from __future__ import annotations

import jwt
import pytest

from mfa_flow.domain.adaptive import device_digest
from tests.support.cli import mfa_flow
from tests.support.client import Api, FlowClient
from tests.support.otp import fresh_code
from tests.support.soft_authenticator import SoftAuthenticator, b64url, unb64url

from .test_webauthn import device, unique


async def configure(api: Api, factors: list[str], policy: str = "mandatory", **passkey_sign_in) -> dict:
    body = {"factors": factors, "policy": policy,
            "passkey_sign_in": {"enabled": True, **passkey_sign_in}}
    reply = await api.admin("PUT", "/api/config/mfa", body)
    assert reply.status == 200, reply
    return reply.body


async def passkey_user(api: Api, server, name: str, key: SoftAuthenticator | None = None) -> tuple[dict, SoftAuthenticator]:
    """A user with a discoverable passkey, registered in a password sign-in's set-up."""
    user = await api.new_user(unique(name))
    key = key or device(server)
    flow = await api.start()
    await flow.password(user["username"])
    if flow.state == "factor_selection":
        await flow.ok("select_factor", factor="webauthn")
    assert flow.state == "webauthn_setup", flow.flow
    await flow.ok("submit_webauthn", credential=key.create(flow.flow["challenge"]["publicKey"]))
    if flow.state == "backup_codes":
        await flow.ok("acknowledge_backup_codes")
    assert flow.state == "done", flow.flow
    return user, key


async def add_totp(api: Api, user: dict) -> str:
    reply = await api.admin("POST", f"/api/users/{user['id']}/mfa-verifications", {"type": "totp"})
    assert reply.status == 201, reply
    return reply.body["secret"]


def offered(flow) -> dict:
    assert "submit_passkey" in flow.flow["allowed_events"], flow.flow
    return flow.flow["challenge"]["passkey"]["publicKey"]


# --- configuration -------------------------------------------------------------------------------

async def test_the_configuration_switch_and_its_422s(api, server):
    body = await configure(api, ["webauthn", "totp"])
    assert body["passkey_sign_in"] == {"enabled": True, "counts_as_mfa": False, "user_verification": "required"}
    assert (await api.admin("GET", "/api/config/mfa")).body["passkey_sign_in"]["enabled"] is True
    # No webauthn factor: nothing to sign in with.
    reply = await api.admin("PUT", "/api/config/mfa", {"factors": ["totp"], "policy": "mandatory",
                                                      "passkey_sign_in": {"enabled": True}})
    assert reply.status == 422 and "needs the webauthn factor" in reply.problem["detail"], reply
    # Not counted as MFA, and no factor of another kind to follow it.
    reply = await api.admin("PUT", "/api/config/mfa", {"factors": ["webauthn"], "policy": "mandatory",
                                                      "passkey_sign_in": {"enabled": True}})
    assert reply.status == 422 and "second factor of another kind" in reply.problem["detail"], reply
    reply = await api.admin("PUT", "/api/config/mfa", {"factors": ["webauthn"], "policy": "mandatory",
                                                      "passkey_sign_in": {"enabled": True, "user_verification": "x"}})
    assert reply.status == 400, reply
    # A PUT that leaves it out turns it off: new flows offer no passkey.
    await api.configure(["webauthn", "totp"], "mandatory")
    assert (await api.admin("GET", "/api/config/mfa")).body["passkey_sign_in"]["enabled"] is False
    flow = await api.start()
    assert flow.flow["challenge"] is None and "submit_passkey" not in flow.flow["allowed_events"]
    reply = await flow.send("submit_passkey", credential={"id": "AA"})
    assert reply.status == 409, reply


async def test_a_new_flow_offers_a_discoverable_assertion(api, server):
    await configure(api, ["webauthn", "totp"], user_verification="preferred")
    flow = await api.start()
    options = offered(flow)
    assert options["rpId"] == "localhost" and options["userVerification"] == "preferred"
    assert options.get("allowCredentials", []) == []
    assert len(unb64url(options["challenge"])) >= 32
    assert flow.flow["allowed_events"] == ["submit_password", "submit_passkey", "cancel"]
    # Another flow, another challenge.
    assert offered(await api.start())["challenge"] != options["challenge"]


# --- signing in ----------------------------------------------------------------------------------

async def test_counts_as_mfa_with_user_verification_ends_the_flow_done_with_acr_mfa(api, server):
    await configure(api, ["webauthn", "totp"], counts_as_mfa=True)
    user, key = await passkey_user(api, server, "pkmfa")
    started = await api.call("POST", "/api/flows", json={"device_id": "passkey-browser"})
    flow = FlowClient(api, started.body["flow"], started.body["flow_token"])
    await flow.ok("submit_passkey", credential=key.get(offered(flow)))
    assert flow.state == "done", flow.flow
    # The sign-in joins the user's history with the page's device (adaptive MFA's new_device).
    history = (await api.admin("GET", f"/api/users/{user['id']}/sign-ins")).body["items"]
    assert [(s["flow_id"], s["device"]) for s in history][:1] == [(flow.id, device_digest("passkey-browser"))]
    assert flow.flow["user_id"] == user["id"] and flow.flow["username"] == user["username"]
    result = flow.flow["result"]
    assert result["amr"] == ["hwk", "user", "mfa"] and result["acr"] == "urn:mfa-flow:acr:mfa"
    claims = jwt.decode(result["token"], options={"verify_signature": False})
    assert claims["sub"] == user["id"] and claims["acr"] == "urn:mfa-flow:acr:mfa"
    rows = await api.transitions(flow.id)
    assert rows[-1]["event"] == "submit_passkey" and rows[-1]["data"]["rule"] == "done.passkey_mfa"
    assert rows[-1]["data"]["user_verified"] is True and "credential" not in rows[-1]["data"]


async def test_without_counts_as_mfa_the_flow_goes_on_to_totp_not_to_the_passkey(api, server):
    await configure(api, ["webauthn", "totp"], counts_as_mfa=False)
    user, key = await passkey_user(api, server, "pk2fa")
    secret = await add_totp(api, user)
    flow = await api.start()
    await flow.ok("submit_passkey", credential=key.get(offered(flow)))
    assert flow.state == "totp_verify", flow.flow
    assert flow.flow["factors"] == ["totp"] and "switch_factor" not in flow.flow["allowed_events"]
    # The same passkey offered as the second step: there is no such step.
    reply = await flow.send("submit_webauthn", credential=key.get({"rpId": "localhost", "challenge": b64url(b"x" * 32)}))
    assert reply.status == 409 and reply.problem["type"].endswith("event-not-allowed"), reply
    await flow.ok("submit_totp", code=await fresh_code(secret))
    assert flow.state == "done"
    assert flow.flow["result"]["amr"] == ["hwk", "otp", "mfa"]
    assert flow.flow["result"]["acr"] == "urn:mfa-flow:acr:mfa"


async def test_counts_as_mfa_without_user_verification_goes_on_to_a_second_factor(api, server):
    await configure(api, ["webauthn", "totp"], counts_as_mfa=True, user_verification="preferred")
    user, _ = await passkey_user(api, server, "pknouv")
    key = SoftAuthenticator(origin=f"http://localhost:{server.port}", user_verified=False)
    key.credentials = _.credentials
    await add_totp(api, user)
    flow = await api.start()
    await flow.ok("submit_passkey", credential=key.get(offered(flow)))
    assert flow.state == "totp_verify", flow.flow


async def test_a_user_with_only_passkeys_sets_up_a_factor_of_another_kind(api, server):
    await configure(api, ["webauthn", "totp"])
    user, key = await passkey_user(api, server, "pkonly")
    flow = await api.start()
    await flow.ok("submit_passkey", credential=key.get(offered(flow)))
    assert flow.state == "totp_setup" and flow.flow["factors"] == ["totp"], flow.flow


async def test_under_no_prompt_a_passkey_alone_is_single_factor(api, server):
    await configure(api, ["webauthn", "totp"], policy="mandatory")
    user, key = await passkey_user(api, server, "pksingle")
    await configure(api, ["webauthn", "totp"], policy="no_prompt")
    flow = await api.start()
    await flow.ok("submit_passkey", credential=key.get(offered(flow)))
    assert flow.state == "done"
    assert flow.flow["result"]["amr"] == ["hwk"] and flow.flow["result"]["acr"] == "urn:mfa-flow:acr:pwd"


# --- refusals ------------------------------------------------------------------------------------

REFUSALS = {
    "tampered signature": (dict(tamper_signature=True), "signature"),
    "user verification missing": (dict(user_verified=False), "user verification"),
}


@pytest.mark.parametrize("case", list(REFUSALS))
async def test_a_bad_passkey_answer_is_a_wrong_first_factor(api, server, run_database, case):
    overrides, words = REFUSALS[case]
    await configure(api, ["webauthn", "totp"], counts_as_mfa=True, user_verification="required")
    user, key = await passkey_user(api, server, "pkbad")
    flow = await api.start()
    options = offered(flow)
    reply = await flow.send("submit_passkey", credential=key.get(options, **overrides))
    assert reply.status == 422, reply
    assert words.lower() in reply.problem["detail"].lower(), reply.problem
    assert reply.problem["attempts_left"] == 4
    after = await flow.read()
    assert after["state"] == "first_factor" and after["user_id"] is None
    assert after["challenge"]["passkey"]["publicKey"]["challenge"] != options["challenge"], "the challenge was spent"
    rows = await api.transitions(flow.id)
    assert rows[-1]["event"] == "submit_passkey" and rows[-1]["data"]["guard"] == "credentials_wrong"
    # The failure counts against the passkey's user, as a wrong password does.
    failures = await (await run_database.get()).fetchval(
        "SELECT consecutive_failures FROM users WHERE id = $1", user["id"])
    assert failures == 1


@pytest.mark.parametrize(("overrides", "setting"), [(dict(origin="https://elsewhere.example"), "MFA_FLOW_ORIGIN"),
                                                    (dict(rp_id="elsewhere.example"), "MFA_FLOW_RP_ID")])
async def test_a_passkey_answer_made_at_another_address_names_the_setting_and_counts_nothing(
        api, server, run_database, overrides, setting):
    """Made at an origin or for an RP ID the settings do not name (the page was opened at
    another address): the operator's to fix, so no attempt and no failure of the user is
    counted, and nothing is written (tests/e2e/factors/test_webauthn.py has the second factor's)."""
    await configure(api, ["webauthn", "totp"], counts_as_mfa=True, user_verification="required")
    user, key = await passkey_user(api, server, "pkaddr")
    flow = await api.start()
    options = offered(flow)
    reply = await flow.send("submit_passkey", credential=key.get(options, **overrides))
    assert reply.status == 422 and reply.problem["type"] == "urn:mfa-flow:problem:passkey-address-mismatch", reply
    assert reply.problem["setting"] == setting and setting in reply.problem["detail"]
    assert "attempts_left" not in reply.problem
    after = await flow.read()
    assert after["version"] == flow.flow["version"] and after["attempts_left"] == flow.flow["attempts_left"]
    assert after["challenge"]["passkey"]["publicKey"]["challenge"] == options["challenge"], "nothing was written"
    failures = await (await run_database.get()).fetchval(
        "SELECT consecutive_failures FROM users WHERE id = $1", user["id"])
    assert failures == 0
    await flow.ok("submit_passkey", credential=key.get(options))  # made at the right address, it signs in


async def test_an_unknown_credential_is_a_wrong_first_factor(api, server):
    await configure(api, ["webauthn", "totp"], counts_as_mfa=True)
    stranger = device(server)
    stranger.create({"rp": {"id": "localhost"}, "user": {"id": b64url(b"u" * 32)}, "challenge": b64url(b"c" * 32),
                     "pubKeyCredParams": [{"alg": -7, "type": "public-key"}]})
    flow = await api.start()
    reply = await flow.send("submit_passkey", credential=stranger.get(offered(flow)))
    assert reply.status == 422 and "unknown credential" in reply.problem["detail"], reply
    assert reply.problem["attempts_left"] == 4
    assert (await flow.read())["state"] == "first_factor"
    assert (await api.transitions(flow.id))[-1]["data"]["unknown_credential"] is True


async def test_a_replayed_assertion_is_refused(api, server):
    await configure(api, ["webauthn", "totp"], counts_as_mfa=True)
    _, key = await passkey_user(api, server, "pkreplay")
    first = await api.start()
    assertion = key.get(offered(first))
    await first.ok("submit_passkey", credential=assertion)
    # In another flow (another challenge) ...
    second = await api.start()
    reply = await second.send("submit_passkey", credential=assertion)
    assert reply.status == 422 and "challenge" in reply.problem["detail"], reply
    # ... and in its own, finished flow.
    assert (await first.send("submit_passkey", credential=assertion)).status == 409


async def test_a_sign_count_that_does_not_move_on_is_refused(api, server):
    await configure(api, ["webauthn", "totp"], counts_as_mfa=True)
    _, key = await passkey_user(api, server, "pkclone")
    first = await api.start()
    await first.ok("submit_passkey", credential=key.get(offered(first)))
    flow = await api.start()
    reply = await flow.send("submit_passkey", credential=key.get(offered(flow), counter=1))
    assert reply.status == 422 and "sign count" in reply.problem["detail"].lower(), reply
    assert (await api.transitions(flow.id))[-1]["data"]["sign_count_regressed"] is True


async def test_a_user_handle_naming_another_user_is_refused(api, server):
    await configure(api, ["webauthn", "totp"], counts_as_mfa=True)
    _, alice_key = await passkey_user(api, server, "pkalice")
    _, bob_key = await passkey_user(api, server, "pkbob")
    alice_key.credentials[0].user_handle = bob_key.credentials[0].user_handle
    flow = await api.start()
    reply = await flow.send("submit_passkey", credential=alice_key.get(offered(flow)))
    assert reply.status == 422 and "user handle" in reply.problem["detail"], reply


async def test_a_passkey_registered_in_an_account_flow_signs_in(api, server):
    await configure(api, ["webauthn", "totp"], counts_as_mfa=True)
    user = await api.new_user(unique("pkacct"))
    reply = await api.admin("POST", "/api/flows", {"purpose": "manage",
                                                   "user": {"id": user["id"], "username": user["username"]}})
    assert reply.status == 201, reply
    flow = FlowClient(api, reply.body["flow"], reply.body["flow_token"])
    assert flow.state == "manage"
    await flow.ok("add_factor", factor="webauthn")
    key = device(server)
    await flow.ok("submit_webauthn", credential=key.create(flow.flow["challenge"]["publicKey"]))
    signin = await api.start()
    await signin.ok("submit_passkey", credential=key.get(offered(signin)))
    assert signin.state == "done" and signin.flow["user_id"] == user["id"]


async def test_audit_verify_replays_passkey_sign_ins(api, server):
    await configure(api, ["webauthn", "totp"], counts_as_mfa=False)
    user, key = await passkey_user(api, server, "pkaudit")
    secret = await add_totp(api, user)
    flow = await api.start()
    assert (await flow.send("submit_passkey", credential=key.get(offered(flow), origin="https://evil.example"))).status == 422
    await flow.read()  # a fresh challenge
    await flow.ok("submit_passkey", credential=key.get(offered(flow)))
    await flow.ok("submit_totp", code=await fresh_code(secret))
    verified = mfa_flow(server, "audit", "verify", "--no-progress")
    assert verified.code == 0, verified.out + verified.err
    replay = mfa_flow(server, "audit", "replay", flow.id)
    assert replay.code == 0 and "submit_passkey" in replay.out, replay.out
