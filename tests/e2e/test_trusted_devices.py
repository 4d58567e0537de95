"""Trusted devices ("remember this device") end to end: a real server and worker, a real
webhook receiver, result tokens checked with jwcrypto, on a database of this module's own.

The server sweeps rarely here (an expired device stays in the table, so that the test can tell
an expired device from an unknown one) and locks a user after three failures."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta

import asyncpg
import pytest
from jwcrypto import jwk, jwt

from tests.support.cli import mfa_flow
from tests.support.client import Api, FlowClient
from tests.support.names import unique
from tests.support.otp import fresh_code, wrong_code
from tests.support.receiver import subscribed
from tests.support.server import free_port, server_and_worker
from tests.support.waiting import eventually

TRUSTED = {"enabled": True, "days": 30}



@pytest.fixture(scope="module")
async def devices_db(test_database):
    async with test_database.own("devices") as url:
        yield url


@pytest.fixture(scope="module")
async def processes(devices_db):
    async with server_and_worker(
        devices_db, {"MFA_FLOW_WEBHOOK_ALLOW_PRIVATE": "1"},
        server={"MFA_FLOW_LOCKOUT_THRESHOLD": "3", "MFA_FLOW_SWEEP_INTERVAL": "3600"},
        worker={"MFA_FLOW_WEBHOOK_RETRY_SCHEDULE": "0,0.3", "MFA_FLOW_SWEEP_INTERVAL": "3600",
                "MFA_FLOW_WORKER_METRICS_PORT": str(free_port())},
    ) as (server, worker):
        yield server, worker


@pytest.fixture
async def api(processes, http) -> Api:
    return Api(processes[0].base_url, http)


@pytest.fixture
async def receiver(api):
    """A receiver subscribed to the device events; removed after the test."""
    async with subscribed(api, ["mfa.device_trusted", "mfa.device_revoked"]) as receiver:
        yield receiver


async def configure(api: Api, factors: list[str], policy: str = "mandatory", trusted: dict | None = TRUSTED) -> None:
    body: dict = {"factors": factors, "policy": policy}
    if trusted is not None:
        body["trusted_devices"] = trusted
    reply = await api.admin("PUT", "/api/config/mfa", body)
    assert reply.status == 200, reply


async def user_with_totp(api: Api, name: str) -> tuple[dict, str]:
    user = await api.new_user(unique(name))
    created = await api.admin("POST", f"/api/users/{user['id']}/mfa-verifications", {"type": "totp"})
    assert created.status == 201, created
    return user, created.body["secret"]


async def remembered_sign_in(api: Api, user: dict, secret: str, used: set[int]) -> FlowClient:
    """A sign-in that verifies TOTP and asks to remember the device."""
    flow = await api.start()
    await flow.password(user["username"])
    if flow.state == "factor_selection":  # backup codes too, and no last-used factor yet
        await flow.ok("select_factor", factor="totp")
    assert flow.state == "totp_verify"
    await flow.ok("submit_totp", code=await fresh_code(secret, used), remember_device=True)
    assert flow.state == "done"
    return flow


async def sign_in_with(api: Api, user: dict, device_token: str) -> FlowClient:
    flow = await api.start()
    await flow.ok("submit_password", username=user["username"], password="correct horse battery",
                  device_token=device_token)
    return flow


async def first_row(api: Api, flow: FlowClient) -> dict:
    return (await api.transitions(flow.id))[0]


async def verified_claims(api: Api, token: str) -> dict:
    keys = jwk.JWKSet.from_json(json.dumps((await api.call("GET", "/.well-known/jwks.json")).body))
    checked = jwt.JWT(jwt=token, key=keys, algs=["ES256"], check_claims={"iss": "mfa-flow", "exp": None})
    return json.loads(checked.claims)


async def devices_of(api: Api, user: dict) -> list[dict]:
    reply = await api.admin("GET", f"/api/users/{user['id']}/trusted-devices")
    assert reply.status == 200, reply
    return reply.body


# --- configuration ------------------------------------------------------------------------------


async def test_trusted_devices_are_off_by_default_and_configured_with_the_mfa_configuration(api):
    await configure(api, ["totp"], trusted=None)
    assert (await api.admin("GET", "/api/config/mfa")).body["trusted_devices"] == {"enabled": False, "days": 30}

    reply = await api.admin("PUT", "/api/config/mfa",
                            {"factors": ["totp"], "policy": "mandatory", "trusted_devices": {"enabled": True, "days": 7}})
    assert reply.status == 200 and reply.body["trusted_devices"] == {"enabled": True, "days": 7}
    assert (await api.admin("GET", "/api/config/mfa")).body["trusted_devices"] == {"enabled": True, "days": 7}

    # A PUT replaces the whole configuration: left out, trusted devices are off again.
    await configure(api, ["totp"], trusted=None)
    assert (await api.admin("GET", "/api/config/mfa")).body["trusted_devices"] == {"enabled": False, "days": 30}


@pytest.mark.parametrize(("trusted", "detail"), [
    ({"enabled": True, "days": 0}, "body.trusted_devices.days: must be at least 1"),
    ({"enabled": True, "days": 366}, "body.trusted_devices.days: must be at most 365"),
    ({"enabled": True, "days": 1.5}, "body.trusted_devices.days: must be of type integer"),
    ({"days": 30}, "'enabled' is a required property"),
    ({"enabled": "yes"}, "body.trusted_devices.enabled: must be of type boolean"),
    ({"enabled": True, "hours": 3}, "'hours' was unexpected"),
])
async def test_a_wrong_trusted_devices_setting_is_a_clear_problem(api, trusted, detail):
    reply = await api.admin("PUT", "/api/config/mfa", {"factors": ["totp"], "policy": "mandatory",
                                                       "trusted_devices": trusted})
    assert reply.status == 400 and detail in reply.problem["detail"], reply.body


# --- remembering and honouring ------------------------------------------------------------------


async def test_a_remembered_device_stands_in_for_verification_at_the_next_sign_in(api, processes, receiver):
    await configure(api, ["totp"], trusted={"enabled": True, "days": 14})
    user, secret = await user_with_totp(api, "rem")
    offered = await api.start()
    assert offered.flow["remember_device_days"] is None  # not before the first factor
    await offered.password(user["username"])
    assert offered.flow["remember_device_days"] == 14  # the page can offer "remember this device for 14 days"
    first = await remembered_sign_in(api, user, secret, set())
    result = first.flow["result"]
    token = result["device_token"]
    assert token.startswith("dt_") and len(token) >= 40
    device = result["trusted_device"]
    assert result["amr"] == ["pwd", "otp", "mfa"] and first.flow["remember_device_days"] is None
    created = datetime.fromisoformat((await devices_of(api, user))[0]["created_at"])
    assert datetime.fromisoformat(device["expires_at"]) - created == timedelta(days=14)

    # Shown once: a later read of the same flow has the device, not its token.
    again = await first.read()
    assert "device_token" not in again["result"] and again["result"]["trusted_device"] == device
    assert [d["id"] for d in await devices_of(api, user)] == [device["id"]]

    second = await sign_in_with(api, user, token)
    assert second.state == "done"
    assert second.flow["result"]["amr"] == ["pwd"] and second.flow["result"]["mfa_by"] == "trusted_device"
    claims = await verified_claims(api, second.flow["result"]["token"])
    assert claims["sub"] == user["id"] and claims["amr"] == ["pwd"]
    assert claims["mfa_by"] == "trusted_device" and claims["acr"] == "urn:mfa-flow:acr:trusted-device"
    row = await first_row(api, second)
    assert row["to_state"] == "done"
    assert row["data"]["rule"] == "done.trusted_device"
    assert row["data"]["trusted_device"] == "honoured" and row["data"]["device_id"] == device["id"]
    listed = await devices_of(api, user)
    assert listed[0]["last_used_at"] is not None and listed[0]["flow_id"] == first.id

    # The first sign-in's own token says MFA was proven in that flow.
    first_claims = await verified_claims(api, result["token"])
    assert first_claims["acr"] == "urn:mfa-flow:acr:mfa" and "mfa_by" not in first_claims

    trusted = await eventually(lambda: [r.message for r in receiver.received
                                        if r.message["type"] == "mfa.device_trusted"], what="mfa.device_trusted")
    assert trusted[0]["data"] == {"user_id": user["id"], "device_id": device["id"], "flow_id": first.id,
                                  "expires_at": device["expires_at"]}

    # The token is in no log row, no webhook and no line the server or the worker wrote.
    for flow in (first, second):
        assert token not in json.dumps(await api.transitions(flow.id))
    assert all(token not in r.body.decode() for r in receiver.received)
    assert token not in processes[0].log() and token not in processes[1].log()


async def test_the_backend_may_present_the_device_token_when_it_asserts_the_first_factor(api):
    await configure(api, ["totp"])
    user, secret = await user_with_totp(api, "bke")
    token = (await remembered_sign_in(api, user, secret, set())).flow["result"]["device_token"]

    reply = await api.admin("POST", "/api/flows", {"user": {"id": user["id"]}, "device_token": token})
    assert reply.status == 201, reply
    flow = reply.body["flow"]
    assert flow["state"] == "done" and flow["result"]["amr"] == [] and flow["result"]["mfa_by"] == "trusted_device"
    assert (await api.transitions(flow["id"]))[0]["data"]["rule"] == "done.trusted_device"

    # Without a user there is nobody for the token to be checked against.
    reply = await api.admin("POST", "/api/flows", {"device_token": token})
    assert reply.status == 400 and "device_token comes with user" in reply.problem["detail"]


async def test_remembering_at_the_end_of_a_set_up_trusts_the_device_when_backup_codes_are_acknowledged(api):
    await configure(api, ["totp", "backup_code"])
    user = await api.new_user(unique("set"))
    flow = await api.start()
    await flow.password(user["username"])
    assert flow.state == "totp_setup"
    secret = flow.flow["challenge"]["secret"]
    used: set[int] = set()
    await flow.ok("submit_totp", code=await fresh_code(secret, used))
    assert flow.state == "backup_codes"
    await flow.ok("acknowledge_backup_codes", remember_device=True)
    assert flow.state == "done" and flow.flow["result"]["device_token"].startswith("dt_")

    second = await sign_in_with(api, user, flow.flow["result"]["device_token"])
    assert second.state == "done" and second.flow["result"]["mfa_by"] == "trusted_device"


async def test_remember_device_while_trusted_devices_are_off_trusts_nothing(api):
    await configure(api, ["totp"], trusted={"enabled": False, "days": 30})
    user, secret = await user_with_totp(api, "off")
    offered = await api.start()
    await offered.password(user["username"])
    assert offered.state == "totp_verify" and offered.flow["remember_device_days"] is None  # nothing to offer
    flow = await remembered_sign_in(api, user, secret, set())
    assert "device_token" not in flow.flow["result"] and "trusted_device" not in flow.flow["result"]
    assert await devices_of(api, user) == []


async def test_a_device_is_not_honoured_while_trusted_devices_are_off(api):
    await configure(api, ["totp"])
    user, secret = await user_with_totp(api, "pau")
    token = (await remembered_sign_in(api, user, secret, set())).flow["result"]["device_token"]
    await configure(api, ["totp"], trusted=None)
    flow = await sign_in_with(api, user, token)
    assert flow.state == "totp_verify"
    assert (await first_row(api, flow))["data"]["trusted_device"] == "disabled"


# --- what is ignored ----------------------------------------------------------------------------


async def test_an_expired_device_is_ignored_and_the_user_verifies(api, devices_db):
    await configure(api, ["totp"])
    user, secret = await user_with_totp(api, "exp")
    used: set[int] = set()
    first = await remembered_sign_in(api, user, secret, used)
    token, device = first.flow["result"]["device_token"], first.flow["result"]["trusted_device"]
    # Set-up of the test: the device's days have passed (no clock of the server is faked).
    conn = await asyncpg.connect(devices_db)
    try:
        await conn.execute("UPDATE trusted_devices SET expires_at = now() - interval '1 second' WHERE id = $1::uuid",
                           device["id"])
    finally:
        await conn.close()

    flow = await sign_in_with(api, user, token)
    assert flow.state == "totp_verify"
    row = await first_row(api, flow)
    assert row["data"]["trusted_device"] == "expired" and row["data"]["device_id"] == device["id"]
    assert row["data"]["rule"] != "done.trusted_device"
    await flow.ok("submit_totp", code=await fresh_code(secret, used))
    assert flow.state == "done" and "mfa_by" not in flow.flow["result"]


async def test_a_device_token_of_another_user_is_ignored(api):
    await configure(api, ["totp"])
    owner, owner_secret = await user_with_totp(api, "own")
    other, _ = await user_with_totp(api, "oth")
    token = (await remembered_sign_in(api, owner, owner_secret, set())).flow["result"]["device_token"]

    flow = await sign_in_with(api, other, token)
    assert flow.state == "totp_verify"
    row = await first_row(api, flow)
    assert row["data"]["trusted_device"] == "other_user" and "device_id" not in row["data"]
    assert (await devices_of(api, owner))[0]["last_used_at"] is None


async def test_an_unknown_device_token_is_ignored(api):
    await configure(api, ["totp"])
    user, _ = await user_with_totp(api, "unk")
    flow = await sign_in_with(api, user, "dt_" + "A" * 43)
    assert flow.state == "totp_verify"
    assert (await first_row(api, flow))["data"]["trusted_device"] == "unknown"


async def test_a_device_never_stands_in_for_set_up(api):
    await configure(api, ["totp", "webauthn"])
    user, secret = await user_with_totp(api, "stp")
    token = (await remembered_sign_in(api, user, secret, set())).flow["result"]["device_token"]
    # Now only passkeys count: the user has none, so the policy asks for a set-up.
    await configure(api, ["webauthn"])
    flow = await sign_in_with(api, user, token)
    assert flow.state == "webauthn_setup"
    row = await first_row(api, flow)
    assert row["data"]["rule"] == "setup.required" and row["data"]["trusted_device"] == "not_applicable"


async def test_a_device_is_ignored_under_step_up(api):
    await configure(api, ["totp"])
    user, secret = await user_with_totp(api, "stu")
    used: set[int] = set()
    token = (await remembered_sign_in(api, user, secret, used)).flow["result"]["device_token"]

    reply = await api.admin("POST", "/api/flows", {"user": {"id": user["id"]}, "require_mfa": True,
                                                   "device_token": token})
    assert reply.status == 201, reply
    flow = FlowClient(api, reply.body["flow"], reply.body["flow_token"])
    assert flow.state == "totp_verify"
    row = await first_row(api, flow)
    assert row["data"]["trusted_device"] == "not_applicable" and row["data"]["override"] == "step_up"
    await flow.ok("submit_totp", code=await fresh_code(secret, used))
    claims = await verified_claims(api, flow.flow["result"]["token"])
    assert claims["acr"] == "urn:mfa-flow:acr:mfa" and "mfa_by" not in claims
    assert (await devices_of(api, user))[0]["last_used_at"] is None  # it stood in for nothing


# --- revocation ---------------------------------------------------------------------------------


async def test_removing_any_factor_revokes_every_device_of_the_user(api, receiver):
    await configure(api, ["totp", "backup_code"])
    user, secret = await user_with_totp(api, "rmf")
    codes = await api.admin("POST", f"/api/users/{user['id']}/mfa-verifications", {"type": "backup_code"})
    used: set[int] = set()
    tokens = [(await remembered_sign_in(api, user, secret, used)).flow["result"]["device_token"] for _ in range(2)]
    assert len(await devices_of(api, user)) == 2

    reply = await api.admin("DELETE", f"/api/users/{user['id']}/mfa-verifications/{codes.body['id']}")
    assert reply.status == 204
    assert await devices_of(api, user) == []
    for token in tokens:
        flow = await sign_in_with(api, user, token)
        assert flow.state == "totp_verify"
        assert (await first_row(api, flow))["data"]["trusted_device"] == "unknown"
    revoked = await eventually(lambda: [r.message["data"] for r in receiver.received
                                        if r.message["type"] == "mfa.device_revoked"], what="mfa.device_revoked")
    assert revoked == [{"user_id": user["id"], "reason": "factor_removed", "count": 2, "flow_id": None, "all": True}]


async def test_the_admin_revokes_one_device_or_all(api, receiver):
    await configure(api, ["totp"])
    user, secret = await user_with_totp(api, "adm")
    used: set[int] = set()
    tokens = [(await remembered_sign_in(api, user, secret, used)).flow["result"]["device_token"] for _ in range(3)]
    first, *others = await devices_of(api, user)

    assert (await api.admin("DELETE", f"/api/users/{user['id']}/trusted-devices/{first['id']}")).status == 204
    gone = await api.admin("DELETE", f"/api/users/{user['id']}/trusted-devices/{first['id']}")
    assert gone.status == 404 and first["id"] in gone.problem["detail"]
    assert [d["id"] for d in await devices_of(api, user)] == [d["id"] for d in others]
    assert (await sign_in_with(api, user, tokens[0])).state == "totp_verify"
    assert (await sign_in_with(api, user, tokens[1])).state == "done"

    assert (await api.admin("DELETE", f"/api/users/{user['id']}/trusted-devices")).status == 204
    assert await devices_of(api, user) == []
    assert (await sign_in_with(api, user, tokens[2])).state == "totp_verify"

    def revocations() -> list[dict]:
        return [r.message["data"] for r in receiver.received if r.message["type"] == "mfa.device_revoked"]

    await eventually(lambda: len(revocations()) == 2, what="two mfa.device_revoked")
    assert revocations() == [
        {"user_id": user["id"], "reason": "admin", "count": 1, "flow_id": None, "device_id": first["id"]},
        {"user_id": user["id"], "reason": "admin", "count": 2, "flow_id": None, "all": True},
    ]


async def test_the_device_endpoints_answer_404_for_an_unknown_user_or_device_and_refuse_other_keys(api):
    assert (await api.admin("GET", "/api/users/nobody-here/trusted-devices")).status == 404
    assert (await api.admin("DELETE", "/api/users/nobody-here/trusted-devices")).status == 404
    user = await api.new_user(unique("nob"))
    reply = await api.admin("DELETE", f"/api/users/{user['id']}/trusted-devices/not-a-uuid")
    assert reply.status == 404 and reply.problem["detail"]
    assert (await api.auditor("GET", f"/api/users/{user['id']}/trusted-devices")).status == 403
    assert (await api.call("GET", f"/api/users/{user['id']}/trusted-devices")).status == 401


async def test_locking_the_user_revokes_every_device(api, receiver):
    await configure(api, ["totp"])
    user, secret = await user_with_totp(api, "lck")
    token = (await remembered_sign_in(api, user, secret, set())).flow["result"]["device_token"]
    flow = await api.start()
    await flow.password(user["username"])
    for _ in range(3):  # the module's server locks at three consecutive failures
        reply = await flow.send("submit_totp", code=wrong_code(secret))
        assert reply.status == 422
    assert (await flow.read())["state"] == "failed"
    assert await devices_of(api, user) == []
    revoked = await eventually(lambda: [r.message["data"] for r in receiver.received
                                        if r.message["type"] == "mfa.device_revoked"], what="mfa.device_revoked")
    assert revoked == [{"user_id": user["id"], "reason": "user_locked", "count": 1, "flow_id": flow.id, "all": True}]

    # While locked the device opens nothing either (429, as for any password).
    locked = await api.start()
    reply = await locked.send("submit_password", username=user["username"], password="correct horse battery",
                              device_token=token)
    assert reply.status == 429 and reply.problem["type"].endswith("user-locked")

    # Unlocked, the user is who they were, but the device was revoked: verify again.
    assert (await api.admin("POST", f"/api/users/{user['id']}/unlock")).status == 200
    flow = await sign_in_with(api, user, token)
    assert flow.state == "totp_verify"
    assert (await first_row(api, flow))["data"]["trusted_device"] == "unknown"


async def test_audit_verify_replays_sign_ins_a_device_stood_in_for(api, processes):
    await configure(api, ["totp"])
    user, secret = await user_with_totp(api, "aud")
    token = (await remembered_sign_in(api, user, secret, set())).flow["result"]["device_token"]
    assert (await sign_in_with(api, user, token)).state == "done"
    verified = await asyncio.to_thread(mfa_flow, processes[0], "audit", "verify", "--no-progress")
    assert verified.code == 0 and "OK: every chain holds" in verified.out, verified.out + verified.err


async def test_an_account_flow_offers_no_device_to_remember(api):
    await configure(api, ["totp"])
    user, _ = await user_with_totp(api, "acc")
    reply = await api.admin("POST", "/api/flows", {"purpose": "manage", "user": {"id": user["id"]}})
    assert reply.status == 201, reply
    flow = reply.body["flow"]
    assert flow["state"] == "totp_verify" and flow["remember_device_days"] is None


# --- issue 21, defect 10: tightening the settings reaches devices already trusted -----------------


def revocations_of(receiver, user: dict) -> list[dict]:
    return [r.message["data"] for r in receiver.received
            if r.message["type"] == "mfa.device_revoked" and r.message["data"]["user_id"] == user["id"]]


async def test_turning_trusted_devices_off_revokes_them_so_turning_them_on_again_honours_none(api, receiver):
    await configure(api, ["totp"])
    user, secret = await user_with_totp(api, "off")
    token = (await remembered_sign_in(api, user, secret, set())).flow["result"]["device_token"]
    await configure(api, ["totp"], trusted=None)
    assert await devices_of(api, user) == []
    await configure(api, ["totp"])
    flow = await sign_in_with(api, user, token)
    assert flow.state == "totp_verify", "a device trusted before the feature was turned off stands in for nothing"
    assert (await first_row(api, flow))["data"]["trusted_device"] == "unknown"
    revoked = await eventually(lambda: revocations_of(receiver, user), what="mfa.device_revoked")
    assert revoked == [{"user_id": user["id"], "reason": "trusted_devices_disabled", "count": 1, "flow_id": None,
                        "all": True}]


async def test_fewer_days_shorten_the_devices_already_trusted(api, devices_db):
    await configure(api, ["totp"])
    user, secret = await user_with_totp(api, "cut")
    used: set[int] = set()
    old, new = [(await remembered_sign_in(api, user, secret, used)).flow["result"] for _ in range(2)]
    # Set-up of the test: the first device was trusted two days ago (no clock of the server is faked).
    conn = await asyncpg.connect(devices_db)
    try:
        await conn.execute("UPDATE trusted_devices SET created_at = created_at - interval '2 days',"
                           " expires_at = expires_at - interval '2 days' WHERE id = $1::uuid",
                           old["trusted_device"]["id"])
    finally:
        await conn.close()

    await configure(api, ["totp"], trusted={"enabled": True, "days": 1})
    listed = {d["id"]: d for d in await devices_of(api, user)}
    for device in listed.values():
        lifetime = datetime.fromisoformat(device["expires_at"]) - datetime.fromisoformat(device["created_at"])
        assert lifetime == timedelta(days=1), device
    stale = await sign_in_with(api, user, old["device_token"])
    assert stale.state == "totp_verify"
    assert (await first_row(api, stale))["data"]["trusted_device"] == "expired"
    assert (await sign_in_with(api, user, new["device_token"])).state == "done", "a day old at most: still trusted"
    # More days later do not lengthen what was cut.
    await configure(api, ["totp"])
    assert (await sign_in_with(api, user, old["device_token"])).state == "totp_verify"


async def test_a_password_change_revokes_the_users_devices(api, receiver):
    await configure(api, ["totp"])
    user, secret = await user_with_totp(api, "pwd")
    token = (await remembered_sign_in(api, user, secret, set())).flow["result"]["device_token"]
    reply = await api.admin("PATCH", f"/api/users/{user['id']}", {"password": "another horse battery"})
    assert reply.status == 200, reply
    assert await devices_of(api, user) == []
    flow = await api.start()
    await flow.ok("submit_password", username=user["username"], password="another horse battery",
                  device_token=token)
    assert flow.state == "totp_verify"
    assert (await first_row(api, flow))["data"]["trusted_device"] == "unknown"
    revoked = await eventually(lambda: revocations_of(receiver, user), what="mfa.device_revoked")
    assert revoked == [{"user_id": user["id"], "reason": "password_changed", "count": 1, "flow_id": None, "all": True}]
