"""Organisations against a real server and worker (contract, third part, "Organisations"): the
resource and its members, every refusal as a problem with a precise detail, the webhooks
(checked with the ``standardwebhooks`` package), and the rule: a member of an organisation that
requires MFA is treated as ``mfa.required`` — set-up without skip and verification at every
sign-in under ``no_prompt``, verification under adaptive MFA with no rule firing — which
``audit verify`` replays, refusing a forged decision."""

from __future__ import annotations

import json
import uuid

import asyncpg
import pytest
from standardwebhooks import Webhook

from tests.e2e.test_account_flows import admin_account_flow
from tests.support.cli import mfa_flow
from tests.support.client import Api, FlowClient
from tests.support.forgery import rehash_chain
from tests.support.names import unique
from tests.support.otp import fresh_code
from tests.support.receiver import Receiver, subscribed
from tests.support.server import server_and_worker
from tests.support.waiting import eventually

PASSWORD = "correct horse battery"
RULES = ("new_country", "geo_velocity", "long_inactivity", "untrusted_ip", "new_device", "failure_burst")
CURSOR_REFUSED = "after: not a cursor this API gave (pass the 'next' of the previous page as it is)"


@pytest.fixture(scope="module")
async def own_db(test_database):
    async with test_database.own("organizations") as url:
        yield url


@pytest.fixture(scope="module")
async def processes(own_db):
    async with server_and_worker(
        own_db, {"MFA_FLOW_WEBHOOK_ALLOW_PRIVATE": "1"},
        server={"MFA_FLOW_RATE_PASSWORDS": "0", "MFA_FLOW_RATE_FLOWS": "0"},
        worker={"MFA_FLOW_WEBHOOK_RETRY_SCHEDULE": "0,0.3"},
    ) as (server, worker):
        yield server, worker


@pytest.fixture
async def api(processes, http) -> Api:
    return Api(processes[0].base_url, http)


@pytest.fixture
async def hooks(api):
    """A receiver subscribed to every event, and the endpoint's signing secret."""
    async with subscribed(api, ["*"]) as receiver:
        yield receiver, receiver.secret


async def new_organization(api: Api, require_mfa: bool = True, name: str | None = None) -> dict:
    reply = await api.admin("POST", "/api/organizations", {"name": name or unique("Org"), "require_mfa": require_mfa})
    assert reply.status == 201, reply
    return reply.body


async def join(api: Api, org: dict, user: dict) -> None:
    reply = await api.admin("PUT", f"/api/organizations/{org['id']}/members/{user['id']}")
    assert reply.status == 201, reply


async def first_row(api: Api, flow: FlowClient) -> dict:
    return (await api.transitions(flow.id))[0]


async def signed_in(api: Api, user: dict) -> FlowClient:
    flow = await api.start()
    await flow.password(user["username"], PASSWORD)
    return flow


def verified_about(receiver: Receiver, secret: str, user_id: str) -> list[dict]:
    """The organisation messages about the user, each checked as Standard Webhooks says."""
    messages = [Webhook(secret).verify(r.body, r.headers) for r in receiver.received]
    return [m for m in messages if m["type"].startswith("organization.") and m["data"]["user_id"] == user_id]


# --- the resource ------------------------------------------------------------------------------


async def test_an_organisation_is_created_read_listed_renamed_and_deleted(api):
    reply = await api.admin("POST", "/api/organizations", {"name": "  " + (name := unique("Acme")) + " "})
    assert reply.status == 201 and reply.headers["Location"] == f"/api/organizations/{reply.body['id']}"
    created = reply.body
    assert set(created) == {"id", "name", "require_mfa", "created_at"}
    assert (created["name"], created["require_mfa"]) == (name, False), "spaces trimmed; require_mfa off by default"
    assert uuid.UUID(created["id"]).version == 7
    assert (await api.admin("GET", f"/api/organizations/{created['id']}")).body == created

    renamed = await api.admin("PATCH", f"/api/organizations/{created['id']}", {"name": name + " Ltd"})
    assert renamed.status == 200 and renamed.body == {**created, "name": name + " Ltd"}
    required = await api.admin("PATCH", f"/api/organizations/{created['id']}", {"require_mfa": True})
    assert required.body == {**renamed.body, "require_mfa": True}

    assert (await api.admin("DELETE", f"/api/organizations/{created['id']}")).status == 204
    gone = await api.admin("GET", f"/api/organizations/{created['id']}")
    assert gone.status == 404 and gone.problem["detail"] == f"organization {created['id']} does not exist"


async def test_organisations_are_listed_oldest_first_a_page_at_a_time(api):
    made = [await new_organization(api, False) for _ in range(3)]
    seen: list[dict] = []
    after = None
    while True:
        reply = await api.admin("GET", "/api/organizations?limit=2" + (f"&after={after}" if after else ""))
        assert reply.status == 200 and len(reply.body["items"]) <= 2
        seen += reply.body["items"]
        after = reply.body["next"]
        if after is None:
            break
    assert [o["id"] for o in made] == [o["id"] for o in seen if o in made]
    assert len({o["id"] for o in seen}) == len(seen), "no organisation twice"
    assert [(o["created_at"], o["id"]) for o in seen] == sorted((o["created_at"], o["id"]) for o in seen), \
        "creation order"


async def test_members_are_added_listed_shown_on_the_user_and_removed(api, hooks):
    receiver, secret = hooks
    org = await new_organization(api, False)
    users = [await api.new_user(unique(f"m{i}"), PASSWORD) for i in range(3)]
    for user in users:
        reply = await api.admin("PUT", f"/api/organizations/{org['id']}/members/{user['id']}")
        assert reply.status == 201 and reply.body == {"organization_id": org["id"], "user_id": user["id"]}
    again = await api.admin("PUT", f"/api/organizations/{org['id']}/members/{users[0]['id']}")
    assert again.status == 200, "a member already: nothing changes"

    page = await api.admin("GET", f"/api/organizations/{org['id']}/members?limit=2")
    rest = await api.admin("GET", f"/api/organizations/{org['id']}/members?after={page.body['next']}")
    assert [u["username"] for u in page.body["items"] + rest.body["items"]] == sorted(u["username"] for u in users)
    assert rest.body["next"] is None
    shown = (await api.admin("GET", f"/api/users/{users[0]['id']}")).body
    assert shown["organizations"] == [{"id": org["id"], "name": org["name"]}]

    assert (await api.admin("DELETE", f"/api/organizations/{org['id']}/members/{users[0]['id']}")).status == 204
    assert (await api.admin("GET", f"/api/users/{users[0]['id']}")).body["organizations"] == []

    def joined_and_left():
        messages = verified_about(receiver, secret, users[0]["id"])
        return messages if len(messages) == 2 else None

    added, removed = await eventually(joined_and_left)
    assert (added["type"], added["data"]) == ("organization.member_added",
                                              {"organization_id": org["id"], "user_id": users[0]["id"]})
    assert (removed["type"], removed["data"]) == ("organization.member_removed",
                                                  {"organization_id": org["id"], "user_id": users[0]["id"],
                                                   "reason": "admin"})


async def test_deleting_an_organisation_or_a_user_ends_their_memberships(api, hooks):
    receiver, secret = hooks
    doomed, kept = await new_organization(api), await new_organization(api)
    stays, goes = await api.new_user(unique("stays"), PASSWORD), await api.new_user(unique("goes"), PASSWORD)
    for user in (stays, goes):
        await join(api, doomed, user)
        await join(api, kept, user)

    assert (await api.admin("DELETE", f"/api/users/{goes['id']}")).status == 204
    members = (await api.admin("GET", f"/api/organizations/{kept['id']}/members")).body["items"]
    assert [u["id"] for u in members] == [stays["id"]]
    assert (await api.admin("DELETE", f"/api/organizations/{doomed['id']}")).status == 204
    assert (await api.admin("GET", f"/api/users/{stays['id']}")).body["organizations"] == [
        {"id": kept["id"], "name": kept["name"]}]

    def removals(user: dict, count: int):
        found = [m for m in verified_about(receiver, secret, user["id"]) if m["type"] == "organization.member_removed"]
        return found if len(found) == count else None

    left = await eventually(lambda: removals(goes, 2))
    assert sorted((m["data"]["organization_id"], m["data"]["reason"]) for m in left) == sorted(
        [(doomed["id"], "user_deleted"), (kept["id"], "user_deleted")])
    [dissolved] = await eventually(lambda: removals(stays, 1))
    assert dissolved["data"] == {"organization_id": doomed["id"], "user_id": stays["id"],
                                 "reason": "organization_deleted"}


# --- refusals ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("body", "detail"), [
    ({"name": ""}, "body.name: must be at least 1 characters long"),
    ({"name": "   "}, "body.name: must not be empty or only spaces"),
    ({"name": "x" * 101}, "body.name: must be at most 100 characters long"),
    ({"name": "line\nbreak"}, "body.name: must not contain control characters"),
    ({"name": 7}, "body.name: must be of type string"),
    ({"require_mfa": True}, "body: 'name' is a required property"),
    ({"name": "a", "require_mfa": "yes"}, "body.require_mfa: must be of type boolean"),
    ({"name": "a", "members": []}, "body: Additional properties are not allowed ('members' was unexpected)"),
], ids=["empty", "spaces", "too-long", "control", "not-a-string", "no-name", "not-boolean", "unknown-field"])
async def test_a_bad_organisation_is_refused_with_a_precise_problem(api, body, detail):
    reply = await api.admin("POST", "/api/organizations", body)
    assert reply.status == 400 and reply.problem["detail"] == detail


async def test_names_are_unique_whatever_their_case(api):
    org = await new_organization(api, name=unique("Unique"))
    reply = await api.admin("POST", "/api/organizations", {"name": org["name"].upper()})
    assert reply.status == 409 and reply.problem["type"] == "urn:mfa-flow:problem:organization-exists"
    assert reply.problem["detail"] == (f"an organization named {org['name'].upper()!r} exists already"
                                       " (names are unique, whatever their case)")
    other = await new_organization(api)
    renamed = await api.admin("PATCH", f"/api/organizations/{other['id']}", {"name": org["name"].lower()})
    assert renamed.status == 409
    assert (await api.admin("GET", f"/api/organizations/{other['id']}")).body == other, "nothing changed"


async def test_every_unknown_thing_is_a_404_that_names_it(api):
    org, user = await new_organization(api), await api.new_user(unique("nf"), PASSWORD)
    missing = "0190f3c5-0000-7000-8000-000000000000"
    cases = [
        ("GET", f"/api/organizations/{missing}", f"organization {missing} does not exist"),
        ("GET", "/api/organizations/not-a-uuid", "organization not-a-uuid does not exist"),
        ("PATCH", f"/api/organizations/{missing}", f"organization {missing} does not exist"),
        ("DELETE", f"/api/organizations/{missing}", f"organization {missing} does not exist"),
        ("GET", f"/api/organizations/{missing}/members", f"organization {missing} does not exist"),
        ("PUT", f"/api/organizations/{missing}/members/{user['id']}", f"organization {missing} does not exist"),
        ("PUT", f"/api/organizations/{org['id']}/members/nobody-here", "user nobody-here does not exist"),
        ("DELETE", f"/api/organizations/{org['id']}/members/nobody-here", "user nobody-here does not exist"),
        ("DELETE", f"/api/organizations/{org['id']}/members/{user['id']}",
         f"membership of user {user['id']} in organization {org['id']} does not exist"),
    ]
    for method, path, detail in cases:
        reply = await api.admin(method, path, {"name": "x"} if method == "PATCH" else None)
        assert (reply.status, reply.problem["detail"]) == (404, detail), (method, path)


async def test_bad_pages_and_an_empty_change_are_refused(api):
    org = await new_organization(api)
    for path, detail in [
        ("/api/organizations?after=o1.nope", CURSOR_REFUSED),
        ("/api/organizations?limit=0", "limit must be a whole number from 1 to 200"),
        (f"/api/organizations/{org['id']}/members?after=nope", CURSOR_REFUSED),
        (f"/api/organizations/{org['id']}/members?limit=201", "limit must be a whole number from 1 to 200"),
    ]:
        reply = await api.admin("GET", path)
        assert (reply.status, reply.problem["detail"]) == (400, detail), path
    empty = await api.admin("PATCH", f"/api/organizations/{org['id']}", {})
    assert (empty.status, empty.problem["detail"]) == (400, "body: give name, require_mfa or both (nothing to change)")


async def test_only_the_admin_key_manages_organisations(api):
    org, user = await new_organization(api), await api.new_user(unique("key"), PASSWORD)
    for method, path in [("POST", "/api/organizations"), ("GET", "/api/organizations"),
                         ("GET", f"/api/organizations/{org['id']}"), ("PATCH", f"/api/organizations/{org['id']}"),
                         ("DELETE", f"/api/organizations/{org['id']}"),
                         ("GET", f"/api/organizations/{org['id']}/members"),
                         ("PUT", f"/api/organizations/{org['id']}/members/{user['id']}"),
                         ("DELETE", f"/api/organizations/{org['id']}/members/{user['id']}")]:
        body = {"name": "x"} if method in ("POST", "PATCH") else None
        assert (await api.auditor(method, path, body)).status == 403, (method, path)
        assert (await api.call(method, path, json=body)).status == 401, (method, path)
    assert (await api.admin("GET", f"/api/organizations/{org['id']}")).body == org


# --- the rule ----------------------------------------------------------------------------------


async def test_under_no_prompt_a_member_sets_up_without_skip_then_verifies_at_every_sign_in(api, processes):
    await api.configure(["totp", "backup_code"], "no_prompt")
    member, outsider = await api.new_user(unique("mem"), PASSWORD), await api.new_user(unique("out"), PASSWORD)
    org = await new_organization(api)
    await join(api, org, member)

    assert (await signed_in(api, outsider)).state == "done", "no_prompt holds for everyone else"
    flow = await signed_in(api, member)
    assert flow.state == "totp_setup" and "skip" not in flow.flow["allowed_events"]
    data = (await first_row(api, flow))["data"]
    assert (data["rule"], data["override"], data["organization"]) == ("setup.required", "organization", org["id"])
    secret, used = flow.flow["challenge"]["secret"], set()
    await flow.ok("submit_totp", code=await fresh_code(secret, used))
    await flow.ok("acknowledge_backup_codes")
    assert flow.state == "done"

    for _ in range(2):  # every sign-in verifies
        again = await signed_in(api, member)
        assert again.state == "totp_verify"
        assert (await first_row(api, again))["data"]["organization"] == org["id"]
        assert (await again.ok("submit_totp", code=await fresh_code(secret, used)))["result"]["amr"] == [
            "pwd", "otp", "mfa"]

    checked = mfa_flow(processes[0], "audit", "verify", "--no-progress")
    assert checked.code == 0, checked.out + checked.err


async def test_adaptive_mfa_with_no_rule_firing_still_verifies_a_member(api):
    reply = await api.admin("PUT", "/api/config/mfa", {
        "factors": ["totp"], "policy": "prompt_only_at_sign_in_mandatory",
        "adaptive": {"enabled": True, "rules": {rule: {"enabled": False} for rule in RULES}}})
    assert reply.status == 200, reply
    member, other = await api.new_user(unique("amem"), PASSWORD), await api.new_user(unique("aoth"), PASSWORD)
    for user in (member, other):
        assert (await api.admin("POST", f"/api/users/{user['id']}/mfa-verifications", {"type": "totp"})).status == 201
    org = await new_organization(api)
    await join(api, org, member)

    calm = await signed_in(api, other)
    assert calm.state == "done" and (await first_row(api, calm))["data"]["rule"] == "done.adaptive_no_risk"
    flow = await signed_in(api, member)
    assert flow.state == "totp_verify"
    data = (await first_row(api, flow))["data"]
    assert (data["override"], data["organization"], data["adaptive"]["fired"]) == ("organization", org["id"], [])


async def test_leaving_the_organisation_or_its_require_mfa_going_off_restores_the_policy(api):
    await api.configure(["totp"], "no_prompt")
    user = await api.new_user(unique("rest"), PASSWORD)
    org = await new_organization(api)
    await join(api, org, user)
    assert (await signed_in(api, user)).state == "totp_setup"

    assert (await api.admin("PATCH", f"/api/organizations/{org['id']}", {"require_mfa": False})).status == 200
    relaxed = await signed_in(api, user)
    assert relaxed.state == "done" and "organization" not in (await first_row(api, relaxed))["data"]

    assert (await api.admin("PATCH", f"/api/organizations/{org['id']}", {"require_mfa": True})).status == 200
    assert (await signed_in(api, user)).state == "totp_setup"
    assert (await api.admin("DELETE", f"/api/organizations/{org['id']}/members/{user['id']}")).status == 204
    left = await signed_in(api, user)
    assert left.state == "done" and (await first_row(api, left))["data"]["rule"] == "done.no_prompt"


async def test_audit_verify_refuses_a_member_offered_a_forged_skippable_set_up(fresh_database, start_server, http):
    server = await start_server.started(fresh_database, MFA_FLOW_CHECKPOINT_SECONDS="3600")  # a log of its own
    api = Api(server.base_url, http)
    await api.configure(["totp"], "prompt_only_at_sign_in")
    user = await api.new_user(unique("forge"), PASSWORD)
    org = await new_organization(api)
    await join(api, org, user)
    flow = await signed_in(api, user)
    assert flow.state == "totp_setup" and "skip" not in flow.flow["allowed_events"]
    assert mfa_flow(server, "audit", "verify", "--no-progress").code == 0

    conn = await asyncpg.connect(fresh_database)
    try:
        await conn.execute("ALTER TABLE transitions DISABLE TRIGGER transitions_append_only")
        try:
            # The forger makes the set-up the policy's skippable offer, and re-hashes the chain
            # so that every hash holds; the first row still names the organisation.
            rows = [dict(r) for r in await conn.fetch(
                "SELECT xid::text || '-' || id::text AS cursor, * FROM transitions WHERE flow_id = $1 ORDER BY seq",
                uuid.UUID(flow.id))]
            for row in rows:
                row["flow_id"], row["data"] = str(row["flow_id"]), json.loads(row["data"])
            rows[0]["data"] = {k: v for k, v in rows[0]["data"].items() if k != "override"} | {"rule": "setup.offered"}
            head = rehash_chain(rows)
            for row in rows:
                await conn.execute("UPDATE transitions SET data = $2::jsonb, prev_hash = $3, hash = $4 WHERE id = $1",
                                   row["id"], json.dumps(row["data"]), row["prev_hash"], row["hash"])
            await conn.execute("UPDATE flows SET chain_head = $2 WHERE id = $1", uuid.UUID(flow.id), head)
        finally:
            await conn.execute("ALTER TABLE transitions ENABLE TRIGGER transitions_append_only")
    finally:
        await conn.close()
    outcome = mfa_flow(server, "audit", "verify", "--no-progress")
    assert outcome.code == 1, outcome.out
    assert f"rule setup.offered for a member of organisation {org['id']}, which requires MFA" in outcome.out


async def test_a_member_cannot_opt_out_in_an_account_flow(api):
    await api.configure(["totp"], "prompt_only_at_sign_in")
    user = await api.new_user(unique("optout"), PASSWORD)
    secret = (await api.admin("POST", f"/api/users/{user['id']}/mfa-verifications", {"type": "totp"})).body["secret"]
    await join(api, await new_organization(api), user)
    flow = await admin_account_flow(api, user)
    assert flow.state == "totp_verify", "the step-up first"
    await flow.ok("submit_totp", code=await fresh_code(secret))
    assert flow.state == "manage" and flow.flow["challenge"]["opt_out_allowed"] is False
    refused = await flow.send("set_mfa_enabled", enabled=False)
    assert refused.status == 422 and refused.problem["type"] == "urn:mfa-flow:problem:mfa-required"
    assert refused.problem["detail"] == ("MFA cannot be turned off: an organisation of this user requires MFA, so every"
                                         " sign-in verifies a factor")
