"""Adaptive MFA in a real browser: the sign-in page's device id (a browser seen before signs in
with its password alone), the console's user page listing the sign-ins and its flow timeline
saying in words which rule fired, and the account page's recent sign-ins."""

from __future__ import annotations

from tests.e2e.browser.conftest import axe_violations
from tests.e2e.browser.steps import enter_code, page_url, sign_in_with_password, wait_for_state
from tests.e2e.browser.test_console import open_console
from tests.support.names import unique
from tests.support.otp import fresh_code

NO_SKIP = "prompt_at_sign_in_and_sign_up_mandatory"


async def test_a_browser_seen_before_needs_no_second_step_and_the_console_says_why(api, server, page, shots):
    reply = await api.admin("PUT", "/api/config/mfa", {"factors": ["totp"], "policy": NO_SKIP,
                                                       "adaptive": {"enabled": True}})
    assert reply.status == 200, reply
    user = await api.new_user(unique("adaptive"))
    secret = (await api.admin("POST", f"/api/users/{user['id']}/mfa-verifications", {"type": "totp"})).body["secret"]

    # A browser the user never signed in from: rule new_device asks for the authenticator code.
    await sign_in_with_password(page, server, user["username"])
    await page.get_by_role("heading", name="Enter your authenticator code").wait_for()
    await enter_code(page, await fresh_code(secret))
    await wait_for_state(page, "done")
    # The same browser again (the page keeps its device id): the password is enough.
    await sign_in_with_password(page, server, user["username"])
    await wait_for_state(page, "done")

    history = (await api.admin("GET", f"/api/users/{user['id']}/sign-ins")).body["items"]
    assert len(history) == 2 and history[0]["device"] == history[1]["device"] is not None
    first_flow = history[1]["flow_id"]

    await open_console(page, server, section=f"users/{user['id']}")
    panel = page.locator("#sign-ins")
    await panel.get_by_role("heading", name="Recent sign-ins").wait_for()
    assert await panel.locator("tbody tr").count() == 2
    assert await axe_violations(page) == []
    await shots.take(page, "console-sign-ins")

    await page.goto(page_url(server, f"/console#flows/{first_flow}"))
    words = page.locator("#timeline .adaptive").first
    await words.wait_for()
    said = await words.inner_text()
    assert said.startswith("Adaptive MFA asked for a second step: new device, a device not seen"), said
    assert "No signal for:" in said
    await page.goto(page_url(server, f"/console#flows/{history[0]['flow_id']}"))
    await page.locator("#timeline .adaptive").filter(has_text="Adaptive MFA found no risk").wait_for()


async def test_the_account_page_lists_the_persons_recent_sign_ins(api, server, page, shots):
    await api.configure(["totp"], "no_prompt")
    user = await api.new_user(unique("recent"))
    await api.admin("POST", "/api/flows", {"user": {"id": user["id"]}, "context": {"country": "FR", "city": "Lyon"}})
    await sign_in_with_password(page, server, user["username"], path="/account")
    await page.get_by_role("heading", name="Your account").wait_for()
    recent = page.locator("#recent-sign-ins li strong")
    await recent.first.wait_for()
    assert await recent.all_inner_texts() == ["Place unknown", "Lyon, FR"]  # this sign-in, then the backend's
    assert await axe_violations(page) == []
    await shots.take(page, "account-recent-sign-ins")
