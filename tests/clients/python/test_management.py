"""The Management API through the Python client: configuration, users and their factors, webhook
endpoints and OpenID Connect clients, against a real server; refusals carry the problem document."""

from __future__ import annotations

import pytest
from mfa_flow_client import Conflict, Forbidden, NotFound, WrongProof

from tests.support.names import unique


async def test_the_configuration_is_written_and_read(admin):
    written = await admin.config.put({"factors": ["totp", "backup_code"], "policy": "mandatory"})
    assert written["factors"] == ["totp", "backup_code"]
    assert (await admin.config.get())["policy"] == "mandatory"


async def test_a_refused_configuration_names_the_field(admin):
    with pytest.raises(WrongProof) as refused:  # 422: backup codes alone
        await admin.config.put({"factors": ["backup_code"], "policy": "mandatory"})
    assert refused.value.status == 422 and "backup" in refused.value.detail


async def test_a_user_is_created_found_changed_given_factors_and_deleted(admin):
    name = unique("managed")
    user = await admin.users.create({"username": name, "password": "a long enough password", "email": f"{name}@example.com"})
    with pytest.raises(Conflict):
        await admin.users.create({"username": name})
    assert [u["id"] async for u in admin.users.iterate(search=name, page_size=1)] == [user["id"]]
    assert (await admin.users.update(user["id"], {"mfa": {"required": True}}))["mfa"]["required"] is True
    totp = await admin.users.add_factor(user["id"], {"type": "totp"})
    assert totp["otpauth_uri"].startswith("otpauth://totp/")
    codes = await admin.users.add_factor(user["id"], {"type": "backup_code"})
    assert len(codes["codes"]) == 10
    assert sorted(f["type"] for f in await admin.users.factors(user["id"])) == ["backup_code", "totp"]
    await admin.users.remove_factor(user["id"], totp["id"])
    assert await admin.users.factors(user["id"]) == []  # the last primary factor takes the backup codes with it
    assert await admin.users.trusted_devices(user["id"]) == []
    await admin.users.reset_mfa(user["id"])
    await admin.users.delete(user["id"])
    with pytest.raises(NotFound) as gone:
        await admin.users.get(user["id"])
    assert gone.value.kind == "not-found"


async def test_a_webhook_endpoint_is_added_changed_rotated_and_removed(admin):
    created = await admin.webhooks.create({"url": "http://127.0.0.1:9/hook", "events": ["flow.completed"]})
    assert created["secret"].startswith("whsec_")
    assert created["id"] in [h["id"] for h in await admin.webhooks.list()]
    assert (await admin.webhooks.update(created["id"], {"events": ["*"]}))["events"] == ["*"]
    rotated = await admin.webhooks.rotate_secret(created["id"])
    assert rotated["secret"] != created["secret"]
    assert (await admin.webhooks.deliveries(created["id"]))["items"] == []
    await admin.webhooks.delete(created["id"])
    with pytest.raises(NotFound):
        await admin.webhooks.get(created["id"])


async def test_an_oidc_client_is_registered_changed_rotated_and_removed(admin):
    created = await admin.oidc_clients.create({"name": unique("shop"), "kind": "asserting",
                                               "redirect_uris": ["https://shop.example/callback"]})
    assert created["client_secret"]
    assert created["client_id"] in [c["client_id"] for c in await admin.oidc_clients.list()]
    assert "client_secret" not in await admin.oidc_clients.get(created["client_id"])
    changed = await admin.oidc_clients.update(created["client_id"], {"name": "Shop, renamed"})
    assert changed["name"] == "Shop, renamed"
    rotated = await admin.oidc_clients.rotate_secret(created["client_id"])
    assert rotated["client_secret"] != created["client_secret"]
    assert rotated["previous_secret_expires_at"] is not None
    await admin.oidc_clients.delete(created["client_id"])
    with pytest.raises(NotFound):
        await admin.oidc_clients.get(created["client_id"])


async def test_the_auditor_key_reads_but_may_not_manage(auditor):
    assert (await auditor.whoami())["role"] == "auditor"
    with pytest.raises(Forbidden) as refused:
        await auditor.config.put({"factors": [], "policy": "mandatory"})
    assert refused.value.problem["status"] == 403


async def test_an_organisation_is_created_renamed_given_members_and_deleted(admin):
    user = await admin.users.create({"username": unique("member")})
    created = await admin.organizations.create({"name": unique("Acme"), "require_mfa": True})
    assert created["require_mfa"] is True
    with pytest.raises(Conflict) as taken:
        await admin.organizations.create({"name": created["name"].upper()})
    assert taken.value.kind == "organization-exists"
    assert created["id"] in [o["id"] async for o in admin.organizations.iterate(page_size=1)]
    renamed = await admin.organizations.update(created["id"], {"name": unique("Acme, renamed")})
    assert (await admin.organizations.get(created["id"]))["name"] == renamed["name"]
    assert await admin.organizations.add_member(created["id"], user["id"]) == {
        "organization_id": created["id"], "user_id": user["id"]}
    assert [u["id"] for u in (await admin.organizations.members(created["id"]))["items"]] == [user["id"]]
    assert (await admin.users.get(user["id"]))["organizations"] == [{"id": created["id"], "name": renamed["name"]}]
    await admin.organizations.remove_member(created["id"], user["id"])
    with pytest.raises(NotFound) as gone:
        await admin.organizations.remove_member(created["id"], user["id"])
    assert "membership" in gone.value.detail
    await admin.organizations.delete(created["id"])
    with pytest.raises(NotFound):
        await admin.organizations.get(created["id"])
