"""The sign-in page in a real browser: passkey set-up and sign-in, and an authenticator app."""

from __future__ import annotations

import re

from tests.e2e.test_setup_flows import unique
from tests.support.otp import fresh_code, wrong_code


async def sign_in_with_password(page, base_url: str, username: str) -> None:
    await page.goto(base_url + "/")
    await page.get_by_label("Username").fill(username)
    await page.get_by_label("Password").fill("correct horse battery")
    await page.get_by_role("button", name="Sign in").click()


async def test_a_passkey_is_created_and_then_used_to_sign_in(api, server, page, virtual_authenticator):
    await api.configure(["webauthn"], "mandatory")
    user = await api.new_user(unique("chrome"))
    base_url = f"http://localhost:{server.port}"  # the RP ID is localhost, and the origin includes the port

    await sign_in_with_password(page, base_url, user["username"])
    await page.get_by_role("button", name="Create a passkey").click()
    await page.locator("#signed-in").wait_for()
    assert "hwk" in await page.locator("#signed-in").inner_text()

    credentials = await virtual_authenticator.send(
        "WebAuthn.getCredentials", {"authenticatorId": virtual_authenticator.authenticator_id})
    assert len(credentials["credentials"]) == 1
    listed = (await api.admin("GET", f"/api/users/{user['id']}/mfa-verifications")).body
    assert [v["type"] for v in listed] == ["webauthn"]

    await sign_in_with_password(page, base_url, user["username"])
    await page.get_by_role("button", name="Use your passkey").click()
    await page.locator("#signed-in").wait_for()
    assert re.search(r"pwd, hwk, mfa", await page.locator("#signed-in").inner_text())
    credentials = await virtual_authenticator.send(
        "WebAuthn.getCredentials", {"authenticatorId": virtual_authenticator.authenticator_id})
    assert credentials["credentials"][0]["signCount"] >= 1


async def test_authenticator_app_set_up_with_backup_codes_in_the_page(api, server, page):
    await api.configure(["totp", "backup_code"], "mandatory")
    user = await api.new_user(unique("pager"))
    await sign_in_with_password(page, f"http://localhost:{server.port}", user["username"])
    secret = (await page.locator(".secret").inner_text()).strip()
    assert re.fullmatch(r"[A-Z2-7]{32}", secret)
    assert await page.locator(".qr svg").count() == 1
    await page.get_by_label("Code from the app").fill(wrong_code(secret))
    await page.get_by_role("button", name="Verify").click()
    await page.get_by_text("4 attempts left").wait_for()
    assert "does not match" in await page.locator("#error").inner_text()
    await page.get_by_label("Code from the app").fill(await fresh_code(secret))
    await page.get_by_role("button", name="Verify").click()
    await page.get_by_role("button", name="I have saved these codes").click()
    await page.locator("#signed-in").wait_for()



async def test_the_page_follows_changes_made_elsewhere(api, server, page):
    await page.goto(f"http://localhost:{server.port}/")
    await page.get_by_label("Username").wait_for()
    flow_id = await page.get_attribute("body", "data-flow")
    # A support agent cancels the page's flow with the admin key: the page learns it over SSE.
    reply = await api.admin("POST", f"/api/flows/{flow_id}/events", {"type": "cancel"})
    assert reply.status == 200
    await page.get_by_text("The sign-in was cancelled.").wait_for()
    assert await page.get_attribute("body", "data-state") == "cancelled"


async def test_the_page_works_under_its_content_security_policy(api, server, page):
    """The page runs with nothing inline and nothing from elsewhere: the browser reports no
    violation while it shows a TOTP set-up (QR code as inline SVG, the secret, the form)."""
    await api.configure(["totp"], "mandatory")
    user = await api.new_user(unique("csp"))
    violations: list[str] = []
    page.on("console", lambda message: violations.append(message.text)
            if "Content Security Policy" in message.text else None)
    await sign_in_with_password(page, f"http://localhost:{server.port}", user["username"])
    await page.locator(".secret").wait_for()
    assert await page.locator(".qr svg").count() == 1
    policy = await page.evaluate("async () => (await fetch('/')).headers.get('content-security-policy')")
    assert "frame-ancestors 'none'" in policy
    assert violations == []
