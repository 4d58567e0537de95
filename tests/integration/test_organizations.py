"""Organisations at the service level, on a real database (contract, third part,
"Organisations"): a member of an organisation that requires MFA is treated as ``mfa.required``
(set-up without skip, verification at every sign-in, adaptive MFA never waives it); leaving it,
or the organisation turning ``require_mfa`` off, restores the policy; deleting a user or an
organisation ends the memberships, each with its webhook in the change's own transaction."""

from __future__ import annotations

import json
from datetime import datetime

import pytest

from mfa_flow.domain.errors import Conflict, InvalidInput, NotFound
from mfa_flow.domain.organizations import Organization, page_cursor
from tests.integration.conftest import InProcess
from tests.support.otp import fresh_code

ADAPTIVE = {"enabled": True, "rules": {name: {"enabled": False} for name in (
    "new_country", "geo_velocity", "long_inactivity", "untrusted_ip", "new_device", "failure_burst")}}


async def organization(service: InProcess, require_mfa: bool = True, name: str | None = None) -> dict:
    import uuid

    return await service.management.organizations.create(
        {"name": name or f"org-{uuid.uuid4().hex[:8]}", "require_mfa": require_mfa})


async def join(service: InProcess, org: dict, user: dict) -> None:
    _, added = await service.management.organizations.add_member(org["id"], user["id"])
    assert added


async def subscribed(service: InProcess) -> None:
    """An endpoint for every event: only then are messages kept."""
    await service.webhooks.create({"url": "http://127.0.0.1:9/hook", "events": ["*"]})


async def messages_about(service: InProcess, user_id: str) -> list[tuple[str, dict]]:
    rows = await service.db.pool.fetch(
        "SELECT type, data::text AS data FROM webhook_messages WHERE ordering_key = $1 ORDER BY seq",
        f"user:{user_id}")
    return [(r["type"], json.loads(r["data"])) for r in rows if r["type"].startswith("organization.")]


# --- the decision ------------------------------------------------------------------------------


async def test_under_no_prompt_a_member_sets_up_without_skip_then_verifies_at_every_sign_in(service: InProcess):
    await service.configure(["totp"], "no_prompt")
    user = await service.new_user()
    outsider = await service.new_user()
    org = await organization(service)
    await join(service, org, user)

    assert (await service.signed_in_with_password(outsider["username"])).state == "done", "the policy, unchanged"
    flow = await service.signed_in_with_password(user["username"])
    assert flow.state == "totp_setup" and "skip" not in service.flows.view(flow, owner=True)["allowed_events"]
    first = (await service.log(flow.id))[0]["data"]
    assert (first["rule"], first["override"], first["organization"]) == ("setup.required", "organization", org["id"])
    secret = service.flows.view(flow, owner=True)["challenge"]["secret"]
    used: set[int] = set()
    assert (await service.send(flow.id, "submit_totp", code=await fresh_code(secret, used))).state == "done"

    for _ in range(2):
        again = await service.signed_in_with_password(user["username"])
        assert again.state == "totp_verify"
        first = (await service.log(again.id))[0]["data"]
        assert (first["rule"], first.get("override"), first["organization"]) == (
            "verify.only_factor", None, org["id"]), "verify is the policy's own answer for a user with factors"
        assert (await service.send(again.id, "submit_totp", code=await fresh_code(secret, used))).state == "done"


async def test_the_opt_out_does_not_hold_for_a_member(service: InProcess):
    await service.configure(["totp"], "prompt_only_at_sign_in")
    user = await service.new_user()
    await service.management.add_factor(user["id"], {"type": "totp"})
    await service.management.change_user(user["id"], {"mfa": {"skip_on_sign_in": True}})
    assert (await service.signed_in_with_password(user["username"])).state == "done", "opted out"
    org = await organization(service)
    await join(service, org, user)
    flow = await service.signed_in_with_password(user["username"])
    assert flow.state == "totp_verify"
    first = (await service.log(flow.id))[0]["data"]
    assert (first["override"], first["organization"]) == ("organization", org["id"])


async def test_adaptive_mfa_with_no_rule_firing_still_verifies_a_member(service: InProcess):
    await service.management.put_config({"factors": ["totp"], "policy": "prompt_only_at_sign_in_mandatory",
                                          "adaptive": ADAPTIVE})
    member, other = await service.new_user(), await service.new_user()
    for user in (member, other):
        await service.management.add_factor(user["id"], {"type": "totp"})
    org = await organization(service)
    await join(service, org, member)

    calm = await service.signed_in_with_password(other["username"])
    assert calm.state == "done" and (await service.log(calm.id))[0]["data"]["rule"] == "done.adaptive_no_risk"
    flow = await service.signed_in_with_password(member["username"])
    assert flow.state == "totp_verify"
    first = (await service.log(flow.id))[0]["data"]
    assert (first["override"], first["organization"], first["adaptive"]["fired"]) == ("organization", org["id"], [])


async def test_leaving_the_organisation_or_turning_require_mfa_off_restores_the_policy(service: InProcess):
    await service.configure(["totp"], "no_prompt")
    user = await service.new_user()
    org = await organization(service)
    await join(service, org, user)
    assert (await service.signed_in_with_password(user["username"])).state == "totp_setup"

    await service.management.organizations.change(org["id"], {"require_mfa": False})
    flow = await service.signed_in_with_password(user["username"])
    assert flow.state == "done" and "organization" not in (await service.log(flow.id))[0]["data"]

    await service.management.organizations.change(org["id"], {"require_mfa": True})
    assert (await service.signed_in_with_password(user["username"])).state == "totp_setup"
    await service.management.organizations.remove_member(org["id"], user["id"])
    flow = await service.signed_in_with_password(user["username"])
    assert flow.state == "done" and (await service.log(flow.id))[0]["data"]["rule"] == "done.no_prompt"


async def test_an_organisation_without_require_mfa_changes_nothing(service: InProcess):
    await service.configure(["totp"], "no_prompt")
    user = await service.new_user()
    await join(service, await organization(service, require_mfa=False), user)
    flow = await service.signed_in_with_password(user["username"])
    assert flow.state == "done" and "organization" not in (await service.log(flow.id))[0]["data"]


async def test_of_several_organisations_the_log_names_the_first_by_id_that_requires_mfa(service: InProcess):
    await service.configure(["totp"], "no_prompt")
    user = await service.new_user()
    lenient = await organization(service, require_mfa=False)
    strict = [await organization(service), await organization(service)]
    for org in (*strict, lenient):
        await join(service, org, user)
    flow = await service.signed_in_with_password(user["username"])
    assert (await service.log(flow.id))[0]["data"]["organization"] == min(o["id"] for o in strict)


async def test_a_member_set_up_offered_as_skippable_cannot_be_skipped_once_the_organisation_requires_mfa(
        service: InProcess):
    await service.configure(["totp"], "prompt_only_at_sign_in")
    user = await service.new_user()
    flow = await service.signed_in_with_password(user["username"])
    assert flow.state == "totp_setup" and "skip" in service.flows.view(flow, owner=True)["allowed_events"]
    await join(service, await organization(service), user)
    refused = await service.refused(flow.id, "skip")
    assert refused.status == 422 and refused.detail == (
        "this set-up can no longer be skipped: an organisation of this user now requires MFA; set a factor up,"
        " or start a new sign-in")


# --- the resource ------------------------------------------------------------------------------


async def test_the_user_json_lists_the_organisations_by_name(service: InProcess):
    user = await service.new_user()
    zed, acme = await organization(service, name="Zed"), await organization(service, False, "  acme  ")
    assert acme["name"] == "acme", "surrounding spaces are dropped"
    assert (await service.management.get_user(user["id"]))["organizations"] == []
    for org in (zed, acme):
        await join(service, org, user)
    expected = [{"id": acme["id"], "name": "acme"}, {"id": zed["id"], "name": "Zed"}]
    assert (await service.management.get_user(user["id"]))["organizations"] == expected
    page = await service.management.list_users(None, None, 50)
    assert next(u for u in page["items"] if u["id"] == user["id"])["organizations"] == expected
    await service.management.organizations.change(zed["id"], {"name": "Zulu"})
    assert (await service.management.get_user(user["id"]))["organizations"][1]["name"] == "Zulu"


async def test_organisations_and_members_are_paged(service: InProcess):
    orgs = [await organization(service, name=f"page-{i}") for i in range(5)]
    first = await service.management.organizations.list(None, 2)
    assert [o["name"] for o in first["items"]] == ["page-0", "page-1"]
    assert first["next"] == page_cursor(Organization(**{**orgs[1], "created_at": datetime.fromisoformat(
        orgs[1]["created_at"].replace("Z", "+00:00"))}))
    rest = await service.management.organizations.list(first["next"], 10)
    assert [o["name"] for o in rest["items"]] == ["page-2", "page-3", "page-4"] and rest["next"] is None

    users = [await service.new_user(f"member-{i}") for i in (3, 1, 2)]
    for user in users:
        await join(service, orgs[0], user)
    await service.new_user("member-0")  # not a member
    page = await service.management.organizations.members(orgs[0]["id"], None, 2)
    assert [u["username"] for u in page["items"]] == ["member-1", "member-2"]
    rest = await service.management.organizations.members(orgs[0]["id"], page["next"], 2)
    assert [u["username"] for u in rest["items"]] == ["member-3"] and rest["next"] is None


async def test_adding_a_member_twice_is_one_membership_and_one_webhook(service: InProcess):
    await subscribed(service)
    user, org = await service.new_user(), await organization(service)
    assert await service.management.organizations.add_member(org["id"], user["id"]) == (
        {"organization_id": org["id"], "user_id": user["id"]}, True)
    assert (await service.management.organizations.add_member(org["id"], user["id"]))[1] is False
    assert await messages_about(service, user["id"]) == [
        ("organization.member_added", {"organization_id": org["id"], "user_id": user["id"]})]
    message_tx = await service.db.pool.fetchval(
        "SELECT xmin::text FROM webhook_messages WHERE ordering_key = $1", f"user:{user['id']}")
    membership_tx = await service.db.pool.fetchval(
        "SELECT xmin::text FROM organization_members WHERE user_id = $1", user["id"])
    assert message_tx == membership_tx, "the membership and its message: one transaction"


async def test_deleting_the_organisation_or_the_user_ends_the_memberships_with_their_webhooks(service: InProcess):
    await subscribed(service)
    stays, goes = await service.new_user(), await service.new_user()
    org, other = await organization(service), await organization(service)
    for user in (stays, goes):
        await join(service, org, user)
        await join(service, other, user)

    await service.management.delete_user(goes["id"])
    assert [u["id"] for u in (await service.management.organizations.members(org["id"], None, 50))["items"]] == [
        stays["id"]]
    removed = [data for kind, data in await messages_about(service, goes["id"]) if kind.endswith("removed")]
    assert sorted(removed, key=lambda d: d["organization_id"]) == [
        {"organization_id": o["id"], "user_id": goes["id"], "reason": "user_deleted"} for o in (org, other)]

    await service.management.organizations.delete(org["id"])
    with pytest.raises(NotFound):
        await service.management.organizations.get(org["id"])
    assert (await service.management.get_user(stays["id"]))["organizations"] == [
        {"id": other["id"], "name": other["name"]}]
    assert (await messages_about(service, stays["id"]))[-1] == (
        "organization.member_removed", {"organization_id": org["id"], "user_id": stays["id"],
                                        "reason": "organization_deleted"})
    left = await service.db.pool.fetchval("SELECT count(*) FROM organization_members WHERE organization_id = $1::uuid",
                                          org["id"])
    assert left == 0


async def test_every_refusal_names_what_is_wrong_and_changes_nothing(service: InProcess):
    await subscribed(service)
    orgs = service.management.organizations
    user, org = await service.new_user(), await organization(service, name="Acme")
    refusals = [
        (orgs.create({"name": "   "}), InvalidInput, "body.name: must not be empty or only spaces"),
        (orgs.create({"name": "a\tb"}), InvalidInput, "body.name: must not contain control characters"),
        (orgs.create({"name": "ACME"}), Conflict,
         "an organization named 'ACME' exists already (names are unique, whatever their case)"),
        (orgs.change(org["id"], {}), InvalidInput, "body: give name, require_mfa or both (nothing to change)"),
        (orgs.get("not-an-id"), NotFound, "organization not-an-id does not exist"),
        (orgs.get("0190f3c5-0000-7000-8000-000000000000"), NotFound,
         "organization 0190f3c5-0000-7000-8000-000000000000 does not exist"),
        (orgs.add_member(org["id"], "nobody"), NotFound, "user nobody does not exist"),
        (orgs.add_member("nope", user["id"]), NotFound, "organization nope does not exist"),
        (orgs.remove_member(org["id"], user["id"]), NotFound,
         f"membership of user {user['id']} in organization {org['id']} does not exist"),
        (orgs.list("o1.bad", 10), InvalidInput,
         "after: not a cursor this API gave (pass the 'next' of the previous page as it is)"),
        (orgs.members(org["id"], "bad", 10), InvalidInput,
         "after: not a cursor this API gave (pass the 'next' of the previous page as it is)"),
        (orgs.delete("nope"), NotFound, "organization nope does not exist"),
    ]
    for call, error, detail in refusals:
        with pytest.raises(error) as refused:
            await call
        assert refused.value.detail == detail
    other = await organization(service, name="Other")
    with pytest.raises(Conflict):
        await orgs.change(other["id"], {"name": "acme"})
    assert [o["name"] for o in (await orgs.list(None, 10))["items"]] == ["Acme", "Other"]
    assert await messages_about(service, user["id"]) == []


async def test_a_members_sign_in_costs_the_statements_of_a_required_users(service: InProcess):
    """Whether an organisation requires MFA is read in the statement that finds and locks the
    user: a member's sign-in costs no round trip more than that of a user with ``mfa.required``
    (a column of that very row)."""
    from mfa_flow import bootstrap
    from mfa_flow.domain.access import ADMIN, Principal
    from mfa_flow.store import Database

    await service.configure(["totp"], "no_prompt")
    member, other = await service.new_user(), await service.new_user()
    await join(service, await organization(service), member)
    await service.management.change_user(other["id"], {"mfa": {"required": True}})
    db = await Database.connect(service.settings.database_url, min_size=1, max_size=1)
    try:
        flows = bootstrap.build(service.settings, db).flows
        await flows.create({"id": other["id"]}, Principal(ADMIN))  # the connection asks about types once
        sent: dict[str, list[str]] = {other["id"]: [], member["id"]: []}
        current: list[list[str]] = []
        async with db.pool.acquire() as conn:  # the pool's one connection: every statement passes here
            conn.add_query_logger(lambda record: current[-1].append(record.query))
        for user in (other, member):
            current.append(sent[user["id"]])
            flow, _ = await flows.create({"id": user["id"]}, Principal(ADMIN))
            assert flow.state == "totp_setup"
    finally:
        await db.close()
    assert len(sent[member["id"]]) == len(sent[other["id"]]), sent
    assert not [q for q in sent[member["id"]] if q.lstrip().startswith("SELECT") and "FROM organization" in q]
