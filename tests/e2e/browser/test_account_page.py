"""The account page in a real browser: a person signs in there, then manages their own sign-in
methods in an account flow."""

from __future__ import annotations

from tests.e2e.browser.conftest import axe_violations
from tests.e2e.browser.steps import enter_code, sign_in_with_password
from tests.e2e.test_setup_flows import unique
from tests.support.otp import fresh_code


async def test_a_person_adds_a_passkey_and_removes_their_authenticator_app(api, server, page, virtual_authenticator, shots):
    await api.configure(["totp", "webauthn"], "mandatory")
    user = await api.new_user(unique("owner"))
    secret = (await api.admin("POST", f"/api/users/{user['id']}/mfa-verifications", {"type": "totp"})).body["secret"]

    await sign_in_with_password(page, server, user["username"], path="/account")
    await page.get_by_role("heading", name="Enter your authenticator code").wait_for()
    await enter_code(page, await fresh_code(secret))
    # The sign-in proved MFA: the account flow opens without another step.
    await page.get_by_role("heading", name="Your account").wait_for()
    await page.locator("#methods .method").first.wait_for()
    assert await page.locator("#methods .method strong").all_inner_texts() == ["Authenticator app"]
    assert await axe_violations(page) == []
    await shots.take(page, "account", readme="account")

    await page.get_by_role("button", name="Add a passkey").click()
    await page.get_by_role("heading", name="Create a passkey").wait_for()
    await page.get_by_role("button", name="Create a passkey").click()
    await page.get_by_role("heading", name="Your account").wait_for()
    await page.locator("#methods .method[data-type=webauthn]").wait_for()
    await shots.take(page, "passkey-added")

    await page.get_by_role("button", name="Remove Authenticator app").click()
    await page.locator("#methods .method[data-type=totp]").wait_for(state="detached")
    assert await page.locator("#methods .method strong").all_inner_texts() == ["Passkey"]
    await shots.take(page, "authenticator-app-removed")
    await page.get_by_role("button", name="Done").click()
    await page.get_by_role("heading", name="Your changes are saved").wait_for()

    listed = (await api.admin("GET", f"/api/users/{user['id']}/mfa-verifications")).body
    assert [v["type"] for v in listed] == ["webauthn"]
    credentials = await virtual_authenticator.send(
        "WebAuthn.getCredentials", {"authenticatorId": virtual_authenticator.authenticator_id})
    assert len(credentials["credentials"]) == 1
