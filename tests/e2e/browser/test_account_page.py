"""The account page in a real browser: a person signs in there, then manages their own sign-in
methods in an account flow."""

from __future__ import annotations

import re

from tests.e2e.browser.conftest import axe_violations
from tests.e2e.browser.steps import confirm, enter_code, sign_in_with_password, wait_for_state
from tests.support.names import unique
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
    await confirm(page, "Remove your authenticator app?", "Remove")
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


async def open_account(page, server, api, factors: list[str], policy: str, name: str, used: set[int] | None = None):
    """A user with an authenticator app (and backup codes when enabled) signed in on the account page."""
    await api.configure(factors, policy)
    user = await api.new_user(unique(name))
    secret = (await api.admin("POST", f"/api/users/{user['id']}/mfa-verifications", {"type": "totp"})).body["secret"]
    if "backup_code" in factors:
        await api.admin("POST", f"/api/users/{user['id']}/mfa-verifications", {"type": "backup_code"})
    await sign_in_with_password(page, server, user["username"], path="/account")
    if "backup_code" in factors:  # two ways to confirm, none used yet: the person chooses
        await page.get_by_role("button", name=re.compile("^Authenticator app")).click()
    await page.get_by_role("heading", name="Enter your authenticator code").wait_for()
    await enter_code(page, await fresh_code(secret, used))
    await page.locator("#methods .method").first.wait_for()
    return user, secret


async def test_stop_asking_me_is_offered_only_where_the_policy_lets_a_person_opt_out(api, server, browser, page, shots):
    await open_account(page, server, api, ["totp"], "mandatory", "bound")
    assert await page.locator("#second-step").inner_text() == "You are asked for a second step each time you sign in."
    assert await page.get_by_role("button", name="Stop asking me").count() == 0
    assert await page.locator("#opt-out-refused").inner_text() == (
        "mfa-flow requires a second step at every sign-in, so it cannot be turned off.")
    await shots.take(page, "mandatory-no-opt-out")

    other = await (await browser.new_context()).new_page()
    await open_account(other, server, api, ["totp"], "prompt_only_at_sign_in", "free")
    await other.get_by_role("button", name="Stop asking me").click()
    await other.locator("#second-step").filter(has_text="You sign in with your password only.").wait_for()
    await other.get_by_role("button", name="Ask me each time").wait_for()
    await other.context.close()


async def test_removing_a_method_and_getting_new_codes_ask_first_and_say_what_will_happen(api, server, page, shots):
    user, _ = await open_account(page, server, api, ["totp", "backup_code"], "prompt_only_at_sign_in", "careful")

    await page.get_by_role("button", name="Get new codes").click()
    dialog = page.get_by_role("dialog", name="Get new backup codes?")
    await dialog.wait_for()
    assert "The 10 codes you have left will stop working at once." in await dialog.inner_text()
    assert await page.evaluate("document.activeElement.textContent") == "Keep my codes"  # the safe choice has the focus
    assert await axe_violations(page) == []
    await shots.take(page, "new-codes-asked")
    await page.keyboard.press("Escape")  # changed their mind: nothing happens
    await dialog.wait_for(state="detached")
    assert await page.get_attribute("body", "data-state") == "manage"

    await page.get_by_role("button", name="Remove Authenticator app").click()
    dialog = page.get_by_role("dialog", name="Remove your authenticator app?")
    says = await dialog.inner_text()
    assert "You will no longer be able to sign in with your authenticator app." in says
    assert "It is your only second step, so your backup codes will be removed too" in says
    await shots.take(page, "remove-asked")
    await dialog.get_by_role("button", name="Keep it").click()
    await dialog.wait_for(state="detached")
    listed = (await api.admin("GET", f"/api/users/{user['id']}/mfa-verifications")).body
    assert sorted(v["type"] for v in listed) == ["backup_code", "totp"]  # nothing was sent

    await page.get_by_role("button", name="Get new codes").click()
    await confirm(page, "Get new backup codes?", "Get new codes")
    await page.get_by_role("heading", name="Save your backup codes").wait_for()
    await page.get_by_label("I have saved my backup codes somewhere safe").check()
    await page.get_by_role("button", name="Continue").click()
    await wait_for_state(page, "manage")
    await page.get_by_role("button", name="Remove Authenticator app").click()
    await confirm(page, "Remove your authenticator app?", "Remove")
    await page.get_by_text("No second step is set up yet.").wait_for()
    assert (await api.admin("GET", f"/api/users/{user['id']}/mfa-verifications")).body == []


async def test_a_passkey_just_added_is_not_called_the_last_used(api, server, page, virtual_authenticator, shots):
    used: set[int] = set()
    user, secret = await open_account(page, server, api, ["totp", "webauthn"], "mandatory", "newkey", used)
    await page.get_by_role("button", name="Add a passkey").click()
    await page.get_by_role("button", name="Create a passkey").click()
    passkey = page.locator("#methods .method[data-type=webauthn]")
    await passkey.wait_for()
    assert (await passkey.locator(".hint").inner_text()).endswith(", never used")
    await shots.take(page, "passkey-never-used")

    # The next sign-in starts with the method the person last signed in with, not the new one.
    await sign_in_with_password(page, server, user["username"])
    await page.get_by_role("heading", name="Enter your authenticator code").wait_for()
    await page.get_by_role("button", name="Use another method").click()
    await page.get_by_role("heading", name="Confirm it is you").wait_for()
    assert await page.locator(".choice-name").all_inner_texts() == ["Authenticator appLast used", "Passkey"]
    await shots.take(page, "choices")
    await page.get_by_role("button", name=re.compile("^Passkey")).click()
    await page.get_by_role("button", name="Use your passkey").click()
    await page.get_by_role("heading", name="You are signed in").wait_for()

    await sign_in_with_password(page, server, user["username"])  # now it has been used
    await page.get_by_role("heading", name="Use your passkey").wait_for()
