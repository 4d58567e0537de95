"""Passkeys over the real HTTP API, with a software authenticator (ES256, attestation "none")."""

from __future__ import annotations

import base64

import pytest

from tests.support.client import Api
from tests.support.names import unique
from tests.support.soft_authenticator import SoftAuthenticator, b64url


def device(server) -> SoftAuthenticator:
    return SoftAuthenticator(origin=f"http://localhost:{server.port}")


async def passkey_user(api: Api, server, name: str = "pk") -> tuple[dict, SoftAuthenticator]:
    """A user who registered one passkey in a set-up flow."""
    await api.configure(["webauthn"], "mandatory")
    user = await api.new_user(unique(name))
    key = device(server)
    flow = await api.start()
    await flow.password(user["username"])
    await flow.ok("submit_webauthn", credential=key.create(flow.flow["challenge"]["publicKey"]))
    return user, key


async def signing_in(api: Api, user: dict):
    flow = await api.start()
    await flow.password(user["username"])
    assert flow.state == "webauthn_verify"
    return flow


async def test_registration_options_follow_the_relying_party_settings(api, server):
    await api.configure(["webauthn"], "mandatory")
    user = await api.new_user(unique("opt"))
    flow = await api.start()
    await flow.password(user["username"])
    assert flow.state == "webauthn_setup"
    options = flow.flow["challenge"]["publicKey"]
    assert options["rp"] == {"id": "localhost", "name": "mfa-flow"}
    assert options["attestation"] == "none"
    assert options["authenticatorSelection"]["residentKey"] == "preferred"
    assert options["authenticatorSelection"]["userVerification"] == "preferred"
    assert options["timeout"] == 300_000
    assert {p["alg"] for p in options["pubKeyCredParams"]} == {-7, -8, -257}
    assert options["excludeCredentials"] == []
    handle = base64.urlsafe_b64decode(options["user"]["id"] + "==")
    assert len(handle) == 32 and user["username"].encode() not in handle and user["id"].encode() not in handle
    assert options["user"]["name"] == user["username"]


async def test_set_up_then_sign_in_with_a_passkey(api, server):
    user, key = await passkey_user(api, server, "ada")
    listed = (await api.admin("GET", f"/api/users/{user['id']}/mfa-verifications")).body
    assert [(v["type"], v["aaguid"]) for v in listed] == [("webauthn", "00000000-0000-0000-0000-000000000000")]
    assert listed[0]["name"].startswith("Passkey added ") and listed[0]["last_used_at"] is None

    flow = await signing_in(api, user)
    request = flow.flow["challenge"]["publicKey"]
    assert [c["id"] for c in request["allowCredentials"]] == [key.credentials[0].id_b64]
    assert request["rpId"] == "localhost" and request["userVerification"] == "preferred"
    await flow.ok("submit_webauthn", credential=key.get(request))
    assert flow.state == "done" and flow.flow["result"]["amr"] == ["pwd", "hwk", "mfa"]
    listed = (await api.admin("GET", f"/api/users/{user['id']}/mfa-verifications")).body
    assert listed[0]["last_used_at"] is not None
    assert (await api.admin("GET", f"/api/users/{user['id']}")).body["mfa"]["last_used"] == "webauthn"


async def test_two_passkeys_of_one_user_both_sign_in(api, server):
    await api.configure(["webauthn"], "mandatory")
    user = await api.new_user(unique("two"))
    laptop, phone = device(server), device(server)
    # Two set-up flows open at once (laptop and phone), each registering its own key.
    first, second = await api.start(), await api.start()
    await first.password(user["username"])
    await second.password(user["username"])
    await first.ok("submit_webauthn", credential=laptop.create(first.flow["challenge"]["publicKey"]))
    await second.ok("submit_webauthn", credential=phone.create(second.flow["challenge"]["publicKey"]))
    assert len((await api.admin("GET", f"/api/users/{user['id']}/mfa-verifications")).body) == 2

    for key in (phone, laptop):
        flow = await signing_in(api, user)
        assert len(flow.flow["challenge"]["publicKey"]["allowCredentials"]) == 2
        await flow.ok("submit_webauthn", credential=key.get(flow.flow["challenge"]["publicKey"]))


async def test_registered_keys_are_excluded_from_a_new_registration(api, server):
    await api.configure(["webauthn"], "mandatory")
    user = await api.new_user(unique("exc"))
    key = device(server)
    first, second = await api.start(), await api.start()
    await first.password(user["username"])
    await second.password(user["username"])
    await first.ok("submit_webauthn", credential=key.create(first.flow["challenge"]["publicKey"]))
    # The second set-up flow gets fresh options after a refused attempt: they exclude the new key.
    replay = await second.send("submit_webauthn", credential={"id": "AA", "rawId": "AA", "type": "public-key",
                                                               "response": {}})
    assert replay.status == 422
    options = (await second.read())["challenge"]["publicKey"]
    assert [c["id"] for c in options["excludeCredentials"]] == [key.credentials[0].id_b64]


NEGATIVE_ASSERTIONS = {
    "wrong challenge": (dict(challenge=b64url(b"a challenge the server never issued")), "challenge"),
    "tampered signature": (dict(tamper_signature=True), "signature"),
    "sign-count regression": (dict(counter=1), "sign count"),
}


@pytest.mark.parametrize("case", list(NEGATIVE_ASSERTIONS))
async def test_a_bad_assertion_is_refused_and_only_counts_an_attempt(api, server, case):
    overrides, words = NEGATIVE_ASSERTIONS[case]
    user, key = await passkey_user(api, server, "neg")
    if case == "sign-count regression":
        good = await signing_in(api, user)
        await good.ok("submit_webauthn", credential=key.get(good.flow["challenge"]["publicKey"]))  # count 1
    before = (await api.admin("GET", f"/api/users/{user['id']}/mfa-verifications")).body
    flow = await signing_in(api, user)
    options, version = flow.flow["challenge"]["publicKey"], flow.flow["version"]
    reply = await flow.send("submit_webauthn", credential=key.get(options, **overrides))
    assert reply.status == 422, reply
    assert words.lower() in reply.problem["detail"].lower(), reply.problem
    assert reply.problem["attempts_left"] == 4
    after = await flow.read()
    assert after["state"] == "webauthn_verify" and after["version"] == version + 1
    assert after["challenge"]["publicKey"]["challenge"] != options["challenge"], "the challenge was spent"
    assert (await api.admin("GET", f"/api/users/{user['id']}/mfa-verifications")).body == before
    if case == "sign-count regression":
        rows = await api.transitions(flow.id)
        assert rows[-1]["data"]["sign_count_regressed"] is True


async def test_a_replayed_assertion_is_refused(api, server):
    user, key = await passkey_user(api, server, "rep")
    first = await signing_in(api, user)
    assertion = key.get(first.flow["challenge"]["publicKey"])
    await first.ok("submit_webauthn", credential=assertion)
    second = await signing_in(api, user)
    reply = await second.send("submit_webauthn", credential=assertion)
    assert reply.status == 422 and "challenge" in reply.problem["detail"]


async def test_a_credential_id_registered_to_another_user_is_refused(api, server):
    _, alice_key = await passkey_user(api, server, "owner")
    bob = await api.new_user(unique("copycat"))
    flow = await api.start()
    await flow.password(bob["username"])
    taken = alice_key.credentials[0].id_b64
    reply = await flow.send("submit_webauthn", credential=device(server).create(
        flow.flow["challenge"]["publicKey"], reuse_credential_id=taken))
    assert reply.status == 422 and reply.problem["detail"] == "this passkey is registered already; use another authenticator"
    assert (await api.admin("GET", f"/api/users/{bob['id']}/mfa-verifications")).body == []
    assert (await flow.read())["state"] == "webauthn_setup"


async def test_a_passkey_of_another_user_is_refused(api, server):
    alice, _ = await passkey_user(api, server, "alice")
    mallory, mallory_key = await passkey_user(api, server, "mallory")
    flow = await signing_in(api, alice)
    options = flow.flow["challenge"]["publicKey"]
    reply = await flow.send("submit_webauthn",
                            credential=mallory_key.get(options, credential_id=mallory_key.credentials[0].id_b64))
    assert reply.status == 422 and reply.problem["detail"] == "this passkey is not registered to this user"
    assert (await flow.read())["state"] == "webauthn_verify"


@pytest.mark.parametrize("credential", [
    {},
    {"id": "AA", "rawId": "!!!", "type": "public-key", "response": "nope"},
    {"id": 5, "rawId": None, "response": {"clientDataJSON": 1}},
    {"id": "AA", "rawId": "AA", "type": "public-key", "response": {"clientDataJSON": "AA", "authenticatorData": "AA",
                                                                   "signature": "AA"}},
])
async def test_malformed_credentials_get_a_clear_problem_never_a_500(api, server, credential):
    user, _ = await passkey_user(api, server, "bad")
    flow = await signing_in(api, user)
    reply = await flow.send("submit_webauthn", credential=credential)
    assert reply.status == 422 and reply.problem["detail"]
    setup_user = await api.new_user(unique("badsetup"))
    setup = await api.start()
    await setup.password(setup_user["username"])
    reply = await setup.send("submit_webauthn", credential=credential)
    assert reply.status == 422 and "refused" in reply.problem["detail"]


@pytest.mark.parametrize("overrides,words", [
    (dict(challenge=b64url(b"a challenge the server never issued")), "challenge"),
])
async def test_a_bad_registration_is_refused_and_stores_nothing(api, server, overrides, words):
    await api.configure(["webauthn"], "mandatory")
    user = await api.new_user(unique("badreg"))
    flow = await api.start()
    await flow.password(user["username"])
    reply = await flow.send("submit_webauthn", credential=device(server).create(flow.flow["challenge"]["publicKey"],
                                                                                **overrides))
    assert reply.status == 422 and words.lower() in reply.problem["detail"].lower()
    assert (await api.admin("GET", f"/api/users/{user['id']}/mfa-verifications")).body == []


async def test_a_passkey_can_be_renamed_and_removed_by_the_admin(api, server):
    user, _ = await passkey_user(api, server, "ren")
    [passkey] = (await api.admin("GET", f"/api/users/{user['id']}/mfa-verifications")).body
    path = f"/api/users/{user['id']}/mfa-verifications/{passkey['id']}"
    renamed = await api.admin("PATCH", path, {"name": "Work laptop"})
    assert renamed.status == 200 and renamed.body["name"] == "Work laptop"
    assert (await api.admin("PATCH", path, {"name": ""})).status == 400
    assert (await api.admin("DELETE", path)).status == 204
    flow = await api.start()
    await flow.password(user["username"])
    assert flow.state == "webauthn_setup", "no passkey left: set-up again"


async def test_totp_and_passkeys_together_offer_a_selection(api, server):
    await api.configure(["totp", "webauthn"], "mandatory")
    user = await api.new_user(unique("sel"))
    flow = await api.start()
    await flow.password(user["username"])
    assert flow.state == "factor_selection" and flow.flow["factors"] == ["totp", "webauthn"]
    assert "skip" not in flow.flow["allowed_events"]
    await flow.ok("select_factor", factor="webauthn")
    assert flow.state == "webauthn_setup" and "switch_factor" in flow.flow["allowed_events"]
    await flow.ok("switch_factor")
    await flow.ok("select_factor", factor="totp")
    assert flow.state == "totp_setup" and flow.flow["challenge"]["secret"]


OTHER_ADDRESSES = {
    "another origin": (dict(origin="https://elsewhere.example"), "MFA_FLOW_ORIGIN"),
    "another RP ID": (dict(rp_id="elsewhere.example"), "MFA_FLOW_RP_ID"),
}


@pytest.mark.parametrize("ceremony", ["registration", "assertion"])
@pytest.mark.parametrize("case", list(OTHER_ADDRESSES))
async def test_an_answer_made_at_another_address_names_the_setting_and_counts_no_attempt(api, server, case, ceremony):
    """A passkey answer made at an origin, or for an RP ID, that the service's settings do not
    name is the operator's to fix (the page was opened at another address): 422
    passkey-address-mismatch naming the setting, no attempt counted, nothing recorded."""
    overrides, setting = OTHER_ADDRESSES[case]
    if ceremony == "registration":
        await api.configure(["webauthn"], "mandatory")
        user = await api.new_user(unique("addr"))
        flow = await api.start()
        await flow.password(user["username"])
        key = device(server)
    else:
        user, key = await passkey_user(api, server, "addr")
        flow = await signing_in(api, user)
    before = (await api.admin("GET", f"/api/users/{user['id']}/mfa-verifications")).body
    options, version = flow.flow["challenge"]["publicKey"], flow.flow["version"]
    answer = key.create(options, **overrides) if ceremony == "registration" else key.get(options, **overrides)
    reply = await flow.send("submit_webauthn", credential=answer)
    assert reply.status == 422, reply
    assert reply.problem["type"] == "urn:mfa-flow:problem:passkey-address-mismatch"
    assert reply.problem["setting"] == setting and setting in reply.problem["detail"]
    assert "no attempt was counted" in reply.problem["detail"] and "attempts_left" not in reply.problem
    if setting == "MFA_FLOW_ORIGIN":
        assert reply.problem["origin"] == "https://elsewhere.example"
        assert reply.problem["expected"] == [f"http://localhost:{server.port}"]
    after = await flow.read()
    assert after["version"] == version and after["attempts_left"] == flow.flow["attempts_left"]
    assert after["challenge"]["publicKey"]["challenge"] == options["challenge"], "nothing was written"
    assert (await api.admin("GET", f"/api/users/{user['id']}/mfa-verifications")).body == before
    # The right answer still works.
    good = key.create(options) if ceremony == "registration" else key.get(options)
    await flow.ok("submit_webauthn", credential=good)
