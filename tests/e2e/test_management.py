"""The Management API: configuration, users and their factors (rules 4 and 5)."""

from __future__ import annotations

import re
import subprocess

from tests.support.names import unique
from tests.support.otp import oathtool
from tests.support.qr import svg_to_png


async def test_backup_codes_cannot_be_enabled_alone(api):
    reply = await api.admin("PUT", "/api/config/mfa", {"factors": ["backup_code"], "policy": "mandatory"})
    assert reply.status == 422 and "without a primary factor" in reply.problem["detail"]


async def test_configuration_is_validated(api):
    reply = await api.admin("PUT", "/api/config/mfa", {"factors": ["sms"], "policy": "mandatory"})
    assert reply.status == 400 and reply.problem["detail"] == "body.factors[0]: must be one of: totp, webauthn, email_code, sms_code, backup_code"
    reply = await api.admin("PUT", "/api/config/mfa", {"factors": ["totp"]})
    assert reply.status == 400 and "'policy' is a required property" in reply.problem["detail"]
    await api.configure(["backup_code", "totp"], "user_controlled")
    config = (await api.admin("GET", "/api/config/mfa")).body
    assert config["adaptive"]["enabled"] is False  # left out of the PUT: off (README, "Adaptive MFA")
    assert {k: v for k, v in config.items() if k != "adaptive"} == {
        "factors": ["totp", "backup_code"], "policy": "prompt_at_sign_in_and_sign_up",
        "trusted_devices": {"enabled": False, "days": 30},
        "passkey_sign_in": {"enabled": False, "counts_as_mfa": False, "user_verification": "required"},
    }


async def test_names_with_control_characters_are_refused(api):
    reply = await api.admin("POST", "/api/users", {"username": "line\nbreak"})
    assert reply.status == 400 and reply.problem["detail"].startswith("body.username: ")


async def test_user_ids_are_quoted_in_the_location_header(api):
    reply = await api.admin("POST", "/api/users", {"username": unique("q"), "id": "a/b c"})
    assert reply.status == 201 and reply.headers["Location"] == "/api/users/a%2Fb%20c"


async def test_users_are_created_read_and_deleted(api):
    name = unique("una")
    created = await api.admin("POST", "/api/users", {"username": name, "password": "pw", "id": f"id-{name}"})
    assert created.status == 201 and created.body["id"] == f"id-{name}" and created.body["has_password"] is True
    assert (await api.admin("POST", "/api/users", {"username": name})).status == 409
    taken_id = await api.admin("POST", "/api/users", {"username": unique("other"), "id": f"id-{name}"})
    assert taken_id.status == 409 and "id" in taken_id.problem["detail"]
    assert (await api.admin("GET", f"/api/users/id-{name}")).body["username"] == name
    assert (await api.admin("DELETE", f"/api/users/id-{name}")).status == 204
    assert (await api.admin("GET", f"/api/users/id-{name}")).status == 404
    assert (await api.admin("DELETE", f"/api/users/id-{name}")).status == 404


async def test_an_authenticator_app_added_by_the_admin_works_with_oathtool(api):
    await api.configure(["totp"], "mandatory")
    user = await api.new_user(unique("vic"))
    created = await api.admin("POST", f"/api/users/{user['id']}/mfa-verifications", {"type": "totp"})
    assert created.status == 201
    assert re.fullmatch(r"[A-Z2-7]{32}", created.body["secret"])
    assert f"otpauth://totp/mfa-flow:{user['username']}?secret=" in created.body["otpauth_uri"]
    again = await api.admin("POST", f"/api/users/{user['id']}/mfa-verifications", {"type": "totp"})
    assert again.status == 409
    flow = await api.start()
    await flow.password(user["username"])
    await flow.ok("submit_totp", code=oathtool(created.body["secret"]))
    listed = (await api.admin("GET", f"/api/users/{user['id']}/mfa-verifications")).body
    assert listed[0]["type"] == "totp" and listed[0]["last_used_at"] is not None
    assert "secret" not in listed[0]


async def test_backup_codes_need_a_primary_factor_first(api):
    user = await api.new_user(unique("wes"))
    reply = await api.admin("POST", f"/api/users/{user['id']}/mfa-verifications", {"type": "backup_code"})
    assert reply.status == 422 and "cannot stand alone" in reply.problem["detail"]


async def test_a_new_set_of_backup_codes_replaces_the_old_one(api):
    await api.configure(["totp", "backup_code"], "mandatory")
    user = await api.new_user(unique("xia"))
    await api.admin("POST", f"/api/users/{user['id']}/mfa-verifications", {"type": "totp"})
    old = (await api.admin("POST", f"/api/users/{user['id']}/mfa-verifications", {"type": "backup_code"})).body
    new = (await api.admin("POST", f"/api/users/{user['id']}/mfa-verifications", {"type": "backup_code"})).body
    assert len(new["codes"]) == 10 and set(new["codes"]).isdisjoint(old["codes"])
    flow = await api.start()
    await flow.password(user["username"])
    await flow.ok("select_factor", factor="backup_code")
    assert (await flow.send("submit_backup_code", code=old["codes"][0])).status == 422
    await flow.ok("submit_backup_code", code=new["codes"][0])


async def test_the_qr_code_decodes_to_the_otpauth_uri(api, tmp_path):
    await api.configure(["totp"], "mandatory")
    user = await api.new_user(unique("yan"))
    flow = await api.start()
    await flow.password(user["username"])
    png = svg_to_png(flow.flow["challenge"]["qr_svg"], tmp_path / "qr.png")
    decoded = subprocess.run(["zbarimg", "--quiet", "--raw", str(png)], capture_output=True, text=True, check=True)
    assert decoded.stdout.strip() == flow.flow["challenge"]["otpauth_uri"]


async def test_unknown_users_and_factors_are_404(api):
    assert (await api.admin("GET", "/api/users/nobody/mfa-verifications")).status == 404
    assert (await api.admin("GET", "/api/users/a%00b")).status == 404
    assert (await api.admin("DELETE", "/api/users/a%00b")).status == 404
    user = await api.new_user(unique("zoe"))
    reply = await api.admin("DELETE", f"/api/users/{user['id']}/mfa-verifications/not-a-uuid")
    assert reply.status == 404
    reply = await api.admin("PATCH", f"/api/users/{user['id']}/mfa-verifications/00000000-0000-4000-8000-000000000000",
                            {"name": "x"})
    assert reply.status == 404
