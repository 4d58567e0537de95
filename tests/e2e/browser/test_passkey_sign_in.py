"""Passkey sign-in on the sign-in page, in headless Chromium with its virtual authenticator.

The passkey is registered on the page itself (a password sign-in's set-up, which asks for a
discoverable credential while passkey sign-in is on), so the virtual authenticator holds a
resident key with the service's user handle, as a phone or laptop would.
"""

from __future__ import annotations

import re

from tests.e2e.browser.conftest import axe_violations
from tests.e2e.browser.steps import enter_code, page_url, sign_in_with_password, wait_for_state
from tests.e2e.browser.test_console import open_console
from tests.support.names import unique
from tests.support.otp import fresh_code


async def configure(api, counts_as_mfa: bool) -> None:
    reply = await api.admin("PUT", "/api/config/mfa", {
        "factors": ["webauthn", "totp"], "policy": "mandatory",
        "passkey_sign_in": {"enabled": True, "counts_as_mfa": counts_as_mfa, "user_verification": "required"}})
    assert reply.status == 200, reply


async def register_passkey_on_the_page(api, server, page, virtual_authenticator) -> tuple[dict, str]:
    """A user with a passkey made on this page's authenticator, and an authenticator app (admin)."""
    user = await api.new_user(unique("pkpage"))
    await sign_in_with_password(page, server, user["username"])
    await page.get_by_role("button", name="Passkey").click()
    await page.get_by_role("button", name="Create a passkey").click()
    await page.get_by_role("heading", name="You are signed in").wait_for()
    credentials = (await virtual_authenticator.send(
        "WebAuthn.getCredentials", {"authenticatorId": virtual_authenticator.authenticator_id}))["credentials"]
    assert len(credentials) == 1 and credentials[0]["isResidentCredential"] is True
    reply = await api.admin("POST", f"/api/users/{user['id']}/mfa-verifications", {"type": "totp"})
    assert reply.status == 201, reply
    return user, reply.body["secret"]


async def test_autofill_offers_the_passkey_and_without_counts_as_mfa_totp_follows(api, server, page,
                                                                                  virtual_authenticator, shots):
    await configure(api, counts_as_mfa=False)
    user, secret = await register_passkey_on_the_page(api, server, page, virtual_authenticator)

    # What the page looked like when it asked for a passkey: the mediation of each request and
    # the username field's autocomplete at that moment (the page's own calls, recorded).
    await page.add_init_script("""
        window.__requests = [];
        const get = navigator.credentials.get.bind(navigator.credentials);
        navigator.credentials.get = (options) => {
          const field = document.querySelector("#username");
          window.__requests.push({mediation: options.mediation || "modal",
            autocomplete: field && field.getAttribute("autocomplete"),
            buttons: [...document.querySelectorAll("button")].map((b) => b.textContent)});
          return get(options);
        };
    """)
    await page.goto(page_url(server))
    assert await page.evaluate("PublicKeyCredential.isConditionalMediationAvailable()") is True
    # Conditional mediation: a request waits behind the username field. Chromium's virtual
    # authenticator (automatic presence) answers such a request at once with its discoverable
    # credential, standing in for the person who picks the passkey from the autofill list:
    # headless Chromium draws no autofill list to click.
    await wait_for_state(page, "totp_verify")
    requests = await page.evaluate("window.__requests")
    assert [r["mediation"] for r in requests] == ["conditional"], "the autofill request, never a modal one"
    assert requests[0]["autocomplete"] == "username webauthn"
    assert "Sign in with a passkey" not in requests[0]["buttons"]
    await shots.take(page, "totp-after-a-passkey")
    assert await page.get_by_role("button", name="Use another method").count() == 0
    await enter_code(page, await fresh_code(secret))
    await page.get_by_role("heading", name="You are signed in").wait_for()
    flow_id = await page.locator("body").get_attribute("data-flow")
    rows = (await api.admin("GET", f"/api/flows/{flow_id}/transitions")).body
    assert [r["event"] for r in rows] == ["submit_passkey", "submit_totp"]
    flow = (await api.admin("GET", f"/api/flows/{flow_id}")).body
    assert flow["user_id"] == user["id"] and flow["result"]["amr"] == ["hwk", "otp", "mfa"]


async def test_the_button_signs_in_where_autofill_is_unavailable(api, server, page, virtual_authenticator, shots):
    await configure(api, counts_as_mfa=True)
    user, _ = await register_passkey_on_the_page(api, server, page, virtual_authenticator)
    # A browser without conditional mediation: the page offers a button instead.
    await page.add_init_script("PublicKeyCredential.isConditionalMediationAvailable = async () => false;")
    await page.goto(page_url(server))
    button = page.get_by_role("button", name="Sign in with a passkey")
    await button.wait_for()
    assert await page.locator("body[data-flow]").count() == 0, "no flow before the person acts"
    assert await axe_violations(page) == []
    await shots.take(page, "sign-in-with-a-passkey-button")
    await button.click()
    await page.get_by_role("heading", name="You are signed in").wait_for()
    flow_id = await page.locator("body").get_attribute("data-flow")
    flow = (await api.admin("GET", f"/api/flows/{flow_id}")).body
    assert flow["user_id"] == user["id"] and flow["result"]["acr"] == "urn:mfa-flow:acr:mfa"


async def test_the_console_turns_passkey_sign_in_on_and_off_and_a_passkey_added_on_the_account_page_signs_in(
        api, server, browser, page, virtual_authenticator, shots):
    reply = await api.admin("PUT", "/api/config/mfa", {"factors": ["webauthn", "totp"], "policy": "mandatory"})
    assert reply.status == 200 and reply.body["passkey_sign_in"]["enabled"] is False, reply
    admin = await (await browser.new_context()).new_page()

    async def switch(on: bool) -> None:
        await admin.get_by_role("heading", name="Multi-factor auth").wait_for()
        box = admin.get_by_role("checkbox", name=re.compile("^Let users sign in with a passkey"))
        await (box.check() if on else box.uncheck())
        if on:
            await admin.get_by_role("checkbox", name=re.compile("^A passkey counts as both steps")).check()
        await admin.get_by_role("button", name="Save").click()
        await admin.get_by_text("Saved. New sign-ins follow these settings.").wait_for()
        setting = (await api.admin("GET", "/api/config/mfa")).body["passkey_sign_in"]
        assert setting["enabled"] is on and setting["counts_as_mfa"] is True and setting["user_verification"] == "required"

    await open_console(admin, server)
    await switch(on=True)
    await shots.take(admin, "console-passkey-sign-in-on")

    # The person adds a passkey on the account page (signed in with password and app) ...
    user = await api.new_user(unique("pkacct"))
    secret = (await api.admin("POST", f"/api/users/{user['id']}/mfa-verifications", {"type": "totp"})).body["secret"]
    await page.add_init_script("PublicKeyCredential.isConditionalMediationAvailable = async () => false;")
    await sign_in_with_password(page, server, user["username"], path="/account")
    await page.get_by_role("heading", name="Enter your authenticator code").wait_for()
    await enter_code(page, await fresh_code(secret))
    await page.get_by_role("button", name="Add a passkey").click()
    await page.get_by_role("button", name="Create a passkey").click()
    await page.locator("#methods .method[data-type=webauthn]").wait_for()
    credentials = (await virtual_authenticator.send(
        "WebAuthn.getCredentials", {"authenticatorId": virtual_authenticator.authenticator_id}))["credentials"]
    assert len(credentials) == 1 and credentials[0]["isResidentCredential"] is True

    # ... and signs in with it alone on the sign-in page: no username, no password.
    await page.goto(page_url(server))
    await page.get_by_role("button", name="Sign in with a passkey").click()
    await page.get_by_role("heading", name="You are signed in").wait_for()
    flow_id = await page.locator("body").get_attribute("data-flow")
    assert [r["event"] for r in (await api.admin("GET", f"/api/flows/{flow_id}/transitions")).body] == ["submit_passkey"]
    assert (await api.admin("GET", f"/api/flows/{flow_id}")).body["user_id"] == user["id"]

    # Off again: the sign-in page offers no passkey at the first step.
    await admin.reload()  # the console keeps its key for the tab
    await switch(on=False)
    await page.goto(page_url(server))
    await page.get_by_role("button", name="Sign in", exact=True).wait_for()
    assert await page.get_by_role("button", name="Sign in with a passkey").count() == 0
    assert await page.locator("#username").get_attribute("autocomplete") == "username"
    await admin.context.close()
