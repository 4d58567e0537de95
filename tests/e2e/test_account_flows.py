"""Account flows (``purpose: manage``) over the real HTTP API: a signed-in user adds, renames
and removes their own factors and renews their backup codes, each step a transition of the
one machine, after a step-up when their sign-in did not prove MFA.

The module's server runs on a database of its own, with a webhook endpoint registered (and
no worker: the messages stay in the outbox, where the tests read them), so that ``audit
verify`` replays these flows and the outbox holds only their messages."""

from __future__ import annotations

import asyncio
import json

import asyncpg
import pytest

from tests.support.cli import mfa_flow
from tests.support.client import Api, FlowClient, Reply
from tests.support.live import FlowEvents
from tests.support.names import unique
from tests.support.otp import fresh_code
from tests.support.schemas import check_flow
from tests.support.server import ADMIN_KEY, AUDITOR_KEY
from tests.support.soft_authenticator import SoftAuthenticator

ALL_FACTORS = ["totp", "webauthn", "backup_code"]


@pytest.fixture(scope="module")
async def accounts_db(test_database):
    async with test_database.own("accounts") as url:
        yield url


@pytest.fixture(scope="module")
async def accounts_server(accounts_db, start_server):
    return await start_server.started(accounts_db, MFA_FLOW_WEBHOOK_ALLOW_PRIVATE="1")


@pytest.fixture
async def api(accounts_server, http) -> Api:
    api = Api(accounts_server.base_url, http)
    if not (await api.admin("GET", "/api/webhooks")).body:
        hook = {"url": "http://127.0.0.1:9/never-delivered", "events": ["mfa.factor_enrolled", "mfa.factor_removed"]}
        assert (await api.admin("POST", "/api/webhooks", hook)).status == 201
    return api


async def create_account_flow(api: Api, body: dict, key: str | None = None) -> Reply:
    return await api.call("POST", "/api/flows", key, json={"purpose": "manage", **body})


async def account_flow(api: Api, subject_token: str) -> FlowClient:
    """An account flow started with the result token of a sign-in, as a user's browser would."""
    reply = await create_account_flow(api, {"subject_token": subject_token})
    assert reply.status == 201, reply
    return FlowClient(api, check_flow(reply.body["flow"]), reply.body["flow_token"])


async def admin_account_flow(api: Api, user: dict) -> FlowClient:
    """An account flow the embedding backend starts for a user it vouches for."""
    reply = await create_account_flow(api, {"user": {"id": user["id"]}}, ADMIN_KEY)
    assert reply.status == 201, reply
    return FlowClient(api, check_flow(reply.body["flow"]), reply.body["flow_token"])


async def signed_in_without_mfa(api: Api, user: dict) -> str:
    """Sign in, declining the user-controlled set-up prompt: a result token with amr [pwd]."""
    flow = await api.start()
    await flow.password(user["username"])
    if flow.state != "done":
        await flow.ok("skip")
    assert flow.flow["result"]["amr"] == ["pwd"]
    return flow.flow["result"]["token"]


async def last_used(api: Api, user: dict) -> str | None:
    return (await api.admin("GET", f"/api/users/{user['id']}")).body["mfa"]["last_used"]


def factors_shown(flow: FlowClient) -> dict[str, dict]:
    """The user's factors as the flow shows them in manage, by type (a passkey by its name)."""
    return {v["name"] if v["type"] == "webauthn" else v["type"]: v for v in flow.flow["challenge"]["factors"]}


async def outbox(database_url: str, flow_id: str) -> list[tuple[str, str | None]]:
    """The webhook messages the flow's transactions wrote: (type, factor type) in order."""
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch("SELECT type, data FROM webhook_messages WHERE data->>'flow_id' = $1 ORDER BY seq",
                                flow_id)
    finally:
        await conn.close()
    return [(r["type"], json.loads(r["data"])["type"]) for r in rows]


async def test_a_user_adds_a_passkey_and_an_authenticator_app_then_removes_them_all(api, accounts_server, accounts_db):
    await api.configure(ALL_FACTORS, "user_controlled")
    user = await api.new_user(unique("acc"))
    flow = await account_flow(api, await signed_in_without_mfa(api, user))
    # No factor yet: nothing to step up with, straight to manage.
    assert (flow.state, flow.flow["purpose"], flow.flow["mode"]) == ("manage", "manage", "manage")
    assert flow.flow["challenge"] == {"factors": [], "addable_factors": ["totp", "webauthn"], "mfa_enabled": True,
                                      "opt_out_allowed": True, "trusted_devices": 0}
    assert flow.flow["allowed_events"] == ["regenerate_backup_codes", "add_factor", "remove_factor", "rename_factor",
                                           "set_mfa_enabled", "revoke_trusted_devices", "finish", "cancel"]

    # A passkey (a software authenticator answers the real ceremony), then the first backup codes (rule 2).
    key = SoftAuthenticator(origin=f"http://localhost:{accounts_server.port}")
    await flow.ok("add_factor", factor="webauthn")
    assert (flow.state, flow.flow["mode"]) == ("webauthn_setup", "manage")
    assert "skip" not in flow.flow["allowed_events"] and "switch_factor" not in flow.flow["allowed_events"]
    await flow.ok("submit_webauthn", credential=key.create(flow.flow["challenge"]["publicKey"]))
    assert flow.state == "backup_codes"
    first_codes = flow.flow["challenge"]["codes"]
    await flow.ok("acknowledge_backup_codes")
    assert flow.state == "manage" and flow.flow["challenge"]["addable_factors"] == ["totp", "webauthn"]
    passkey = next(v for v in flow.flow["challenge"]["factors"] if v["type"] == "webauthn")
    assert await last_used(api, user) == "webauthn"  # the user's only factor is the one to ask for
    await flow.ok("rename_factor", verification_id=passkey["id"], name="Laptop")
    assert factors_shown(flow)["Laptop"]["id"] == passkey["id"]
    assert factors_shown(flow)["backup_code"]["remaining"] == 10

    # An authenticator app, with a code from oathtool; the backup codes are unused, so none follow.
    await flow.ok("add_factor", factor="totp")
    secret = flow.flow["challenge"]["secret"]
    await flow.ok("submit_totp", code=await fresh_code(secret))
    assert flow.state == "manage" and set(factors_shown(flow)) == {"Laptop", "backup_code", "totp"}
    assert await last_used(api, user) == "webauthn", "an app added in account settings signed nobody in"
    assert flow.flow["challenge"]["addable_factors"] == ["webauthn"], "one authenticator app per user"
    second = await flow.send("add_factor", factor="totp")
    assert second.status == 409 and second.problem["type"] == "urn:mfa-flow:problem:factor-exists"
    codes = await flow.send("add_factor", factor="backup_code")
    assert codes.status == 422 and "regenerate_backup_codes" in codes.problem["detail"]
    renamed = await flow.send("rename_factor", verification_id=factors_shown(flow)["totp"]["id"], name="Phone")
    assert renamed.status == 422 and renamed.problem["detail"] == "only passkeys (webauthn) have a name"

    # New backup codes replace the old set, shown once.
    await flow.ok("regenerate_backup_codes")
    assert flow.state == "backup_codes"
    new_codes = flow.flow["challenge"]["codes"]
    assert len(new_codes) == 10 and set(new_codes).isdisjoint(first_codes)
    await flow.ok("acknowledge_backup_codes")
    assert flow.state == "manage" and flow.flow["challenge"]["factors"][-1]["remaining"] == 10

    # Removing the authenticator app leaves the passkey and the codes; removing the last
    # primary factor takes the backup codes too (rule 4), by the Management API's own code.
    await flow.ok("remove_factor", verification_id=factors_shown(flow)["totp"]["id"])
    assert set(factors_shown(flow)) == {"Laptop", "backup_code"}
    missing = await flow.send("remove_factor", verification_id=factors_shown(flow)["backup_code"]["id"][::-1])
    assert missing.status == 404
    await flow.ok("remove_factor", verification_id=passkey["id"])
    assert flow.flow["challenge"]["factors"] == []
    listed = (await api.admin("GET", f"/api/users/{user['id']}/mfa-verifications")).body
    assert listed == []
    assert (await api.admin("GET", f"/api/users/{user['id']}")).body["mfa"]["prompted"] is False

    await flow.ok("finish")
    assert flow.state == "done"
    assert flow.flow["result"] == {"amr": ["hwk", "otp"]}, "an account flow signs nobody in: no token"

    log = await api.transitions(flow.id)
    assert [(t["event"], t["to_state"]) for t in log] == [
        ("subject_token_presented", "manage"),
        ("add_factor", "webauthn_setup"), ("submit_webauthn", "backup_codes"), ("acknowledge_backup_codes", "manage"),
        ("rename_factor", "manage"),
        ("add_factor", "totp_setup"), ("submit_totp", "manage"),
        ("regenerate_backup_codes", "backup_codes"), ("acknowledge_backup_codes", "manage"),
        ("remove_factor", "manage"), ("remove_factor", "manage"),
        ("finish", "done"),
    ]
    assert log[0]["data"]["rule"] == "manage.no_factor" and log[0]["data"]["purpose"] == "manage"
    assert [v["factor"] for v in log[-2]["data"]["also_removed"]] == ["backup_code"]
    assert "Laptop" not in json.dumps(log), "a name the user chose stays out of the log"

    # The same webhooks as the Management API's, written in the flow's own transactions.
    assert await outbox(accounts_db, flow.id) == [
        ("mfa.factor_enrolled", "webauthn"), ("mfa.factor_enrolled", "backup_code"),
        ("mfa.factor_enrolled", "totp"),
        ("mfa.factor_removed", "backup_code"), ("mfa.factor_enrolled", "backup_code"),
        ("mfa.factor_removed", "totp"),
        ("mfa.factor_removed", "webauthn"), ("mfa.factor_removed", "backup_code"),
    ]

    # The prompt mark was cleared with the last factor: the next sign-in offers set-up again.
    again = await api.start()
    await again.password(user["username"])
    assert again.flow["mode"] == "setup" and "skip" in again.flow["allowed_events"]


async def test_a_sign_in_that_did_not_prove_mfa_steps_up_before_manage(api):
    await api.configure(["totp"], "user_controlled")
    user = await api.new_user(unique("stp"))
    token = await signed_in_without_mfa(api, user)
    secret = (await api.admin("POST", f"/api/users/{user['id']}/mfa-verifications", {"type": "totp"})).body["secret"]
    used: set[int] = set()

    flow = await account_flow(api, token)
    assert (flow.state, flow.flow["mode"], flow.flow["purpose"]) == ("totp_verify", "verify", "manage")
    assert flow.flow["allowed_events"] == ["submit_totp", "cancel"], "no skip, no opt-out, nothing else first"
    refused = await flow.send("remove_factor", verification_id="00000000-0000-4000-8000-000000000000")
    assert refused.status == 409 and refused.problem["type"] == "urn:mfa-flow:problem:event-not-allowed"
    await flow.ok("submit_totp", code=await fresh_code(secret, used))
    assert (flow.state, flow.flow["mode"]) == ("manage", "manage")
    assert [v["type"] for v in flow.flow["challenge"]["factors"]] == ["totp"]
    log = await api.transitions(flow.id)
    assert [(t["event"], t["to_state"], t["data"]["rule"]) for t in log] == [
        ("subject_token_presented", "totp_verify", "verify.only_factor"),
        ("submit_totp", "manage", "manage.verified"),
    ]

    # The embedding backend's word is a first factor, not MFA: step-up too.
    by_backend = await admin_account_flow(api, user)
    assert by_backend.state == "totp_verify" and by_backend.flow["purpose"] == "manage"

    # A sign-in that proved MFA with a factor needs no second proof.
    signed_in = await api.start()
    await signed_in.password(user["username"])
    await signed_in.ok("submit_totp", code=await fresh_code(secret, used))
    proven = await account_flow(api, signed_in.flow["result"]["token"])
    assert proven.state == "manage"
    assert (await api.transitions(proven.id))[0]["data"]["rule"] == "manage.mfa_proven"


async def test_an_event_that_is_not_an_edge_of_manage_is_409(api):
    await api.configure(["totp"], "user_controlled")
    user = await api.new_user(unique("ill"))
    flow = await account_flow(api, await signed_in_without_mfa(api, user))
    assert flow.state == "manage"
    for event in ({"type": "skip"}, {"type": "submit_totp", "code": "123456"}, {"type": "switch_factor"},
                  {"type": "submit_password", "username": user["username"], "password": "correct horse battery"}):
        reply = await flow.send(event.pop("type"), **event)
        assert reply.status == 409, reply
        assert reply.problem["type"] == "urn:mfa-flow:problem:event-not-allowed"
        assert reply.problem["detail"].endswith("allowed: regenerate_backup_codes, add_factor, remove_factor,"
                                                " rename_factor, set_mfa_enabled, revoke_trusted_devices, finish, cancel")
    assert (await flow.read())["version"] == 1, "a refused event writes nothing"
    # And the account flow's events are no edges of a sign-in.
    sign_in = await api.start()
    assert (await sign_in.send("finish")).status == 409
    disabled = await flow.send("add_factor", factor="webauthn")
    assert disabled.status == 422 and "webauthn is not enabled" in disabled.problem["detail"]
    no_codes = await flow.send("regenerate_backup_codes")
    assert no_codes.status == 422 and "backup codes are not enabled" in no_codes.problem["detail"]
    await flow.ok("cancel")
    assert flow.state == "cancelled" and flow.flow["result"] is None


async def test_a_subject_token_must_be_a_recent_result_token_of_this_service(api):
    await api.configure(["totp"], "user_controlled")
    user = await api.new_user(unique("tok"))
    token = await signed_in_without_mfa(api, user)
    header, payload, signature = token.split(".")
    forged = f"{header}.{payload}.{signature[:-2]}{'A' if signature[-2] != 'A' else 'B'}{signature[-1]}"
    for bad in (forged, "not-a-token", f"{header}.{payload}"):
        reply = await create_account_flow(api, {"subject_token": bad})
        assert reply.status == 401, reply
        assert reply.problem["type"] == "urn:mfa-flow:problem:invalid-subject-token"
        assert "sign in again" in reply.problem["detail"]
    assert (await create_account_flow(api, {})).status == 400
    both = await create_account_flow(api, {"subject_token": token, "user": {"id": user["id"]}}, ADMIN_KEY)
    assert both.status == 400 and "either subject_token" in both.problem["detail"]
    without_purpose = await api.call("POST", "/api/flows", json={"subject_token": token})
    assert without_purpose.status == 400 and '"purpose": "manage"' in without_purpose.problem["detail"]
    not_admin = await create_account_flow(api, {"user": {"id": user["id"]}})
    assert not_admin.status == 403
    assert (await create_account_flow(api, {"subject_token": token})).status == 201


@pytest.fixture(scope="module")
def impatient_server(start_server):
    """A server where a sign-in may start an account flow for one second only."""
    return start_server(MFA_FLOW_MANAGE_MAX_AGE="1")


async def test_a_result_token_too_old_to_start_an_account_flow_is_refused(impatient_server, http):
    api = Api(impatient_server.base_url, http)
    await api.configure(["totp"], "user_controlled")
    user = await api.new_user(unique("old"))
    token = await signed_in_without_mfa(api, user)
    await asyncio.sleep(2.1)  # the token itself lives 300 s: only MFA_FLOW_MANAGE_MAX_AGE has passed
    reply = await create_account_flow(api, {"subject_token": token})
    assert reply.status == 401
    assert reply.problem["type"] == "urn:mfa-flow:problem:subject-token-too-old"
    assert reply.problem["detail"] == (
        "the sign-in behind the subject token is older than 1 seconds; sign in again to manage your account"
        " (a result token starts an account flow within 1 seconds of its sign-in)")


async def test_audit_verify_replays_account_flows(api, accounts_server):
    """Over every flow of this module's database: sign-ins, and account flows of every kind."""
    await api.configure(ALL_FACTORS, "user_controlled")
    user = await api.new_user(unique("aud"))
    flow = await account_flow(api, await signed_in_without_mfa(api, user))
    await flow.ok("add_factor", factor="totp")
    used: set[int] = set()
    secret = flow.flow["challenge"]["secret"]
    await flow.ok("submit_totp", code=await fresh_code(secret, used))
    await flow.ok("acknowledge_backup_codes")
    await flow.ok("regenerate_backup_codes")
    await flow.ok("acknowledge_backup_codes")
    await flow.ok("finish")
    stepped_up = await admin_account_flow(api, user)
    # The last used factor first, the backup codes a switch away.
    assert stepped_up.state == "totp_verify" and stepped_up.flow["factors"] == ["totp", "backup_code"]
    await stepped_up.ok("switch_factor")
    await stepped_up.ok("select_factor", factor="totp")
    await stepped_up.ok("submit_totp", code=await fresh_code(secret, used))
    await stepped_up.ok("remove_factor", verification_id=stepped_up.flow["challenge"]["factors"][0]["id"])
    await stepped_up.ok("cancel")

    verified = mfa_flow(accounts_server, "audit", "verify", "--no-progress")
    assert verified.code == 0, verified.out + verified.err
    assert "OK: every chain holds" in verified.out
    assert int(verified.out.split("flows replayed: ")[1].split(";")[0]) >= 3


async def test_a_user_opts_out_of_verification_at_sign_in_unless_mfa_is_mandatory_for_them(api):
    await api.configure(["totp", "backup_code"], "user_controlled")
    user = await api.new_user(unique("opt"))
    secret = (await api.admin("POST", f"/api/users/{user['id']}/mfa-verifications", {"type": "totp"})).body["secret"]
    used: set[int] = set()
    signed_in = await api.start()
    await signed_in.password(user["username"])
    await signed_in.ok("submit_totp", code=await fresh_code(secret, used))
    flow = await account_flow(api, signed_in.flow["result"]["token"])
    assert flow.state == "manage", "the sign-in proved MFA: no second step-up"
    assert (flow.flow["challenge"]["mfa_enabled"], flow.flow["challenge"]["opt_out_allowed"]) == (True, True)

    await flow.ok("regenerate_backup_codes")
    await flow.ok("acknowledge_backup_codes")
    await flow.ok("set_mfa_enabled", enabled=False)
    assert flow.state == "manage" and flow.flow["challenge"]["mfa_enabled"] is False
    await flow.ok("finish")
    assert (await api.admin("GET", f"/api/users/{user['id']}")).body["mfa"]["skip_on_sign_in"] is True

    # The next sign-in asks for no factor; the log says which setting decided.
    again = await api.start()
    await again.password(user["username"])
    assert again.state == "done" and again.flow["result"]["amr"] == ["pwd"]
    first = (await api.transitions(again.id))[0]["data"]
    assert (first["rule"], first["override"]) == ("done.opted_out", "skip_on_sign_in")

    # Under the mandatory policy the opt-out holds no more and cannot be chosen again.
    await api.configure(["totp", "backup_code"], "mandatory")
    stepped_up = await admin_account_flow(api, user)
    assert stepped_up.state == "totp_verify", "an opted-out user still steps up to manage their factors"
    await stepped_up.ok("submit_totp", code=await fresh_code(secret, used))
    refused = await stepped_up.send("set_mfa_enabled", enabled=False)
    assert refused.status == 422 and refused.problem["type"] == "urn:mfa-flow:problem:mfa-required"
    assert refused.problem["detail"] == ("MFA cannot be turned off: the MFA policy is mandatory, so every sign-in"
                                         " verifies a factor")
    assert stepped_up.flow["challenge"]["opt_out_allowed"] is False
    await stepped_up.ok("set_mfa_enabled", enabled=True)
    assert stepped_up.flow["challenge"]["mfa_enabled"] is True
    log = await api.transitions(stepped_up.id)
    assert [(t["event"], t["data"].get("enabled")) for t in log][-1] == ("set_mfa_enabled", True)

    # A user the organisation requires MFA of cannot opt out under a lenient policy either.
    await api.configure(["totp", "backup_code"], "user_controlled")
    assert (await api.admin("PATCH", f"/api/users/{user['id']}", {"mfa": {"required": True}})).status == 200
    required = await stepped_up.send("set_mfa_enabled", enabled=False)
    assert required.status == 422 and required.problem["detail"] == (
        "MFA cannot be turned off: MFA is required for this user (mfa.required), so every sign-in verifies a factor")


async def test_a_user_revokes_their_trusted_devices(api):
    await api.admin("PUT", "/api/config/mfa", {"factors": ["totp"], "policy": "mandatory",
                                               "trusted_devices": {"enabled": True, "days": 30}})
    user = await api.new_user(unique("dev"))
    secret = (await api.admin("POST", f"/api/users/{user['id']}/mfa-verifications", {"type": "totp"})).body["secret"]
    used: set[int] = set()
    remembered = await api.start()
    await remembered.password(user["username"])
    await remembered.ok("submit_totp", code=await fresh_code(secret, used), remember_device=True)
    device_token = remembered.flow["result"]["device_token"]
    trusted = await api.start()
    await trusted.ok("submit_password", username=user["username"], password="correct horse battery",
                     device_token=device_token)
    assert trusted.state == "done", "the device stands in for the factor"

    flow = await account_flow(api, remembered.flow["result"]["token"])
    assert flow.flow["challenge"]["trusted_devices"] == 1
    await flow.ok("revoke_trusted_devices")
    assert flow.state == "manage" and flow.flow["challenge"]["trusted_devices"] == 0
    assert (await api.transitions(flow.id))[-1]["data"] == {"guard": "always", "revoked": 1}
    await flow.ok("finish")
    assert (await api.admin("GET", f"/api/users/{user['id']}/trusted-devices")).body == []

    after = await api.start()
    await after.ok("submit_password", username=user["username"], password="correct horse battery",
                   device_token=device_token)
    assert after.state == "totp_verify", "a revoked device stands in for nothing"
    # The admin's account flow never counts a trusted device as MFA: the step-up comes first.
    assert (await admin_account_flow(api, user)).state == "totp_verify"


async def test_only_the_flow_token_and_the_admin_see_the_users_address_and_phone(api, http):
    """Issue 21, defect 8: the auditor read the user's full email address and phone number in
    an account flow's challenge.factors, and on /api/flows/sse. Masked for every reader but
    the flow's own token and the admin."""
    await api.configure(["totp", "email_code", "sms_code", "backup_code"], "user_controlled")
    user = await api.new_user(unique("contacts"))
    email, phone = f"{unique('Someone')}@Example.com".lower(), "+14155550123"
    secret = (await api.admin("POST", f"/api/users/{user['id']}/mfa-verifications", {"type": "totp"})).body["secret"]
    for factor, destination in (("email_code", {"email": email}), ("sms_code", {"phone": phone})):
        reply = await api.admin("POST", f"/api/users/{user['id']}/mfa-verifications", {"type": factor, **destination})
        assert reply.status == 201, reply
    streams = {key: FlowEvents(await http.get(f"{api.base_url}/api/flows/sse", headers={"Authorization": f"Bearer {key}"}))
               for key in (ADMIN_KEY, AUDITOR_KEY)}
    flow = await admin_account_flow(api, user)
    if flow.state == "factor_selection":
        await flow.ok("select_factor", factor="totp")
    await flow.ok("submit_totp", code=await fresh_code(secret))
    assert flow.state == "manage"

    def contacts(view: dict) -> tuple[str, str]:
        shown = {f["type"]: f for f in view["challenge"]["factors"]}
        return shown["email_code"]["email"], shown["sms_code"]["phone"]

    full, masked = (email, phone), (email[0] + "***@example.com", "+1 *** *** **23")
    assert contacts(flow.flow) == full, "the flow token's holder"
    assert contacts((await api.call("GET", f"/api/flows/{flow.id}", flow.token)).body) == full
    assert contacts((await api.admin("GET", f"/api/flows/{flow.id}")).body) == full
    assert contacts((await api.auditor("GET", f"/api/flows/{flow.id}")).body) == masked
    for key, expected in ((ADMIN_KEY, full), (AUDITOR_KEY, masked)):
        [listed] = [f for f in (await api.call("GET", "/api/flows?limit=20", key)).body["items"] if f["id"] == flow.id]
        assert contacts(listed) == expected, key
        while True:
            event = await streams[key].next_event()
            assert event is not None and event.event == "flow"
            if event.flow["id"] == flow.id and event.flow["state"] == "manage":
                assert contacts(check_flow(event.flow)) == expected, key
                break
        streams[key].response.close()


# --- issue 21, defect 1: an opt-out planted with a password alone -----------------------------------


async def opted_out_with_a_password_alone(api: Api, user: dict) -> FlowClient:
    """What someone holding only the user's password can do while the user has no factor: sign
    in (acr pwd), open an account flow with that result token and turn verification off."""
    flow = await account_flow(api, await signed_in_without_mfa(api, user))
    assert flow.state == "manage", "no factor: nothing to step up with"
    await flow.ok("set_mfa_enabled", enabled=False)
    assert (await api.transitions(flow.id))[-1]["data"]["without_factor"] is True
    assert (await api.admin("GET", f"/api/users/{user['id']}")).body["mfa"]["skip_on_sign_in"] is True
    return flow


async def password_sign_in(api: Api, user: dict) -> FlowClient:
    flow = await api.start()
    await flow.password(user["username"])
    return flow


async def test_an_opt_out_made_without_a_factor_ends_when_the_user_sets_one_up_in_their_account(api):
    await api.configure(["totp", "backup_code"], "prompt_at_sign_in_and_sign_up")
    user = await api.new_user(unique("pln"))
    await opted_out_with_a_password_alone(api, user)
    # The user, in an account flow of their own, sets an authenticator app up.
    own = await account_flow(api, await signed_in_without_mfa(api, user))
    await own.ok("add_factor", factor="totp")
    secret = own.flow["challenge"]["secret"]
    await own.ok("submit_totp", code=await fresh_code(secret))
    await own.ok("acknowledge_backup_codes")
    assert own.flow["challenge"]["mfa_enabled"] is True, "the opt-out went with the first factor"
    await own.ok("finish")
    assert (await api.admin("GET", f"/api/users/{user['id']}")).body["mfa"]["skip_on_sign_in"] is False

    # The password alone no longer signs in: the next sign-in verifies the new factor.
    attacker = await password_sign_in(api, user)
    assert attacker.state == "totp_verify", attacker.flow
    assert (await api.transitions(attacker.id))[-1]["data"]["rule"] == "verify.last_used"


async def test_an_opt_out_made_without_a_factor_ends_when_the_admin_adds_one(api):
    await api.configure(["totp"], "prompt_only_at_sign_in")
    user = await api.new_user(unique("adm"))
    await opted_out_with_a_password_alone(api, user)
    assert (await api.admin("POST", f"/api/users/{user['id']}/mfa-verifications", {"type": "totp"})).status == 201
    assert (await api.admin("GET", f"/api/users/{user['id']}")).body["mfa"]["skip_on_sign_in"] is False
    assert (await password_sign_in(api, user)).state == "totp_verify"


async def test_an_opt_out_made_without_a_factor_never_stands_in_for_one_the_user_has(api, accounts_db):
    """Should enrolment and the opt-out race (or the row be written behind the service's
    back), the opt-out made without a factor still does not hold once the user has one."""
    await api.configure(["totp"], "no_prompt")
    user = await api.new_user(unique("bnd"))
    assert (await api.admin("POST", f"/api/users/{user['id']}/mfa-verifications", {"type": "totp"})).status == 201
    conn = await asyncpg.connect(accounts_db)
    try:
        await conn.execute("UPDATE users SET mfa_skip_on_sign_in = true, mfa_skip_without_factor = true WHERE id = $1",
                           user["id"])
    finally:
        await conn.close()
    assert (await password_sign_in(api, user)).state == "totp_verify"
    # The admin's word is the embedding backend's: an opt-out it sets holds.
    assert (await api.admin("PATCH", f"/api/users/{user['id']}", {"mfa": {"skip_on_sign_in": True}})).status == 200
    opted_out = await password_sign_in(api, user)
    assert opted_out.state == "done" and (await api.transitions(opted_out.id))[-1]["data"]["rule"] == "done.opted_out"


async def test_turning_mfa_off_needs_a_factor_proven_in_the_flow_when_the_user_has_one(api):
    await api.configure(["totp"], "prompt_at_sign_in_and_sign_up")
    user = await api.new_user(unique("rac"))
    # Opened while the user had no factor: manage at once, nothing proved.
    flow = await account_flow(api, await signed_in_without_mfa(api, user))
    assert flow.state == "manage"
    assert (await api.admin("POST", f"/api/users/{user['id']}/mfa-verifications", {"type": "totp"})).status == 201
    refused = await flow.send("set_mfa_enabled", enabled=False)
    assert refused.status == 403 and refused.problem["type"] == "urn:mfa-flow:problem:step-up-required", refused
    assert "without a factor proven in this account flow" in refused.problem["detail"]
    assert (await api.admin("GET", f"/api/users/{user['id']}")).body["mfa"]["skip_on_sign_in"] is False
    await flow.ok("set_mfa_enabled", enabled=True)  # opting back in needs no proof
