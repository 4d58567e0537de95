"""The sign-in page in a real browser: what a person sees and does at each step.

Every test fails on an error in the browser's console (``page`` and ``phone`` watch it), keeps
a screenshot of each step (``shots``) and, where it says so, scans the page with axe-core.
"""

from __future__ import annotations

import re
import uuid

from tests.e2e.browser.conftest import axe_violations
from tests.e2e.browser.steps import (
    enter_code,
    enter_password,
    page_url,
    read_qr_code,
    secret_of,
    sign_in_with_password,
    wait_for_state,
)
from tests.support.client import Api
from tests.support.names import unique
from tests.support.otp import fresh_code, wrong_code
from tests.support.smtp import SmtpServer


async def assert_accessible(page) -> None:
    assert await axe_violations(page) == []


async def test_an_authenticator_app_is_set_up_from_the_qr_code_then_a_code_and_a_backup_code_sign_in(api, server, page, shots):
    await api.configure(["totp", "backup_code"], "mandatory")
    user = await api.new_user(unique("pager"))

    await page.goto(page_url(server))
    await page.get_by_role("heading", name="Sign in to mfa-flow").wait_for()
    await assert_accessible(page)
    await shots.take(page, "password", readme="sign-in")
    await enter_password(page, user["username"])

    # Set-up: the QR code read back from the screen, the code from oathtool.
    await page.get_by_role("heading", name="Set up your authenticator app").wait_for()
    await page.get_by_text("Cannot scan it? Enter a key instead").click()
    await shots.take(page, "authenticator-app-set-up", readme="sign-in-authenticator-set-up")
    await assert_accessible(page)
    uri = await read_qr_code(page, shots.folder)
    assert uri.startswith("otpauth://totp/")
    secret = secret_of(uri)
    assert await page.locator("#secret").get_attribute("data-secret") == secret
    assert (await page.locator("#secret").inner_text()).replace(" ", "") == secret
    assert await page.get_by_label("Code from the app").get_attribute("autocomplete") == "one-time-code"

    # A wrong code: it says so, and how many attempts are left.
    await enter_code(page, wrong_code(secret), "Code from the app", "Verify and turn on")
    await page.get_by_text("That code is not right. 4 attempts left.").wait_for()
    assert await page.locator(".attempts").is_hidden()  # the message says it
    await shots.take(page, "wrong-code")

    used: set[int] = set()
    await enter_code(page, await fresh_code(secret, used), "Code from the app", "Verify and turn on")

    # Backup codes: downloaded as .txt, confirmed, then done.
    await page.get_by_role("heading", name="Save your backup codes").wait_for()
    await assert_accessible(page)
    await shots.take(page, "backup-codes", readme="sign-in-backup-codes")
    shown = [c.strip() for c in await page.locator("#backup-codes li").all_inner_texts()]
    assert len(shown) == 10 and all(re.fullmatch(r"[0-9a-z]{5}-[0-9a-z]{5}", c) for c in shown)
    async with page.expect_download() as waiting:
        await page.get_by_role("button", name="Download .txt").click()
    download = await waiting.value
    assert download.suggested_filename == "mfa-flow-backup-codes.txt"
    saved = shots.folder / download.suggested_filename
    await download.save_as(saved)
    assert [line for line in saved.read_text().splitlines() if re.fullmatch(r"[0-9a-z]{5}-[0-9a-z]{5}", line)] == shown
    assert await page.get_by_role("button", name="Continue").is_disabled()
    await page.get_by_label("I have saved my backup codes somewhere safe").check()
    await page.get_by_role("button", name="Continue").click()

    await page.get_by_role("heading", name="You are signed in").wait_for()
    assert await page.locator("#signed-in").inner_text() == "✓ Signed in to mfa-flow with your password and one-time code."
    await assert_accessible(page)
    await shots.take(page, "signed-in", readme="sign-in-done")

    # A second sign-in: straight to the authenticator code.
    await sign_in_with_password(page, server, user["username"])
    await page.get_by_role("heading", name="Enter your authenticator code").wait_for()
    await shots.take(page, "second-sign-in-code")
    await enter_code(page, await fresh_code(secret, used))
    await page.get_by_role("heading", name="You are signed in").wait_for()

    # A third, with a backup code (typed in capitals with spaces: entry is forgiving).
    await sign_in_with_password(page, server, user["username"])
    await page.get_by_role("heading", name="Enter your authenticator code").wait_for()
    await page.get_by_role("button", name="Use another method").click()
    await page.get_by_role("heading", name="Confirm it is you").wait_for()
    choices = await page.locator(".choice-name").all_inner_texts()
    assert choices == ["Authenticator appLast used", "Backup code"]  # the last used first
    await assert_accessible(page)
    await shots.take(page, "choose-another-method")
    await page.get_by_role("button", name=re.compile("^Backup code")).click()
    await enter_code(page, " " + shown[3].upper().replace("-", " ") + " ", "Backup code")
    await page.get_by_role("heading", name="You are signed in").wait_for()
    await shots.take(page, "signed-in-with-a-backup-code")

    listed = (await api.admin("GET", f"/api/users/{user['id']}/mfa-verifications")).body
    assert {v["type"]: v.get("remaining") for v in listed} == {"totp": None, "backup_code": 9}


async def test_a_passkey_is_created_and_then_used_to_sign_in(api, server, page, virtual_authenticator, shots):
    await api.configure(["webauthn"], "mandatory")
    user = await api.new_user(unique("chrome"))

    await sign_in_with_password(page, server, user["username"])
    await page.get_by_role("heading", name="Create a passkey").wait_for()
    await shots.take(page, "create-a-passkey")
    await assert_accessible(page)
    await page.get_by_role("button", name="Create a passkey").click()
    await page.get_by_role("heading", name="You are signed in").wait_for()
    assert "passkey" in await page.locator("#signed-in").inner_text()
    await shots.take(page, "signed-in")

    credentials = await virtual_authenticator.send(
        "WebAuthn.getCredentials", {"authenticatorId": virtual_authenticator.authenticator_id})
    assert len(credentials["credentials"]) == 1
    listed = (await api.admin("GET", f"/api/users/{user['id']}/mfa-verifications")).body
    assert [v["type"] for v in listed] == ["webauthn"]

    await sign_in_with_password(page, server, user["username"])
    await page.get_by_role("heading", name="Use your passkey").wait_for()
    await shots.take(page, "use-your-passkey")
    await page.get_by_role("button", name="Use your passkey").click()
    await page.get_by_role("heading", name="You are signed in").wait_for()
    assert await page.locator("#signed-in").inner_text() == "✓ Signed in to mfa-flow with your password and passkey."
    credentials = await virtual_authenticator.send(
        "WebAuthn.getCredentials", {"authenticatorId": virtual_authenticator.authenticator_id})
    assert credentials["credentials"][0]["signCount"] >= 1


async def test_under_user_controlled_mfa_a_person_may_skip_the_set_up_once(api, server, page, shots):
    await api.configure(["totp", "webauthn"], "user_controlled")
    user = await api.new_user(unique("skipper"))

    await sign_in_with_password(page, server, user["username"])
    await page.get_by_role("heading", name="Add a second step to your sign-in").wait_for()
    assert await page.locator(".choice-name").all_inner_texts() == ["Authenticator app", "Passkey"]
    await assert_accessible(page)
    await shots.take(page, "offered-a-second-step")
    await page.get_by_role("button", name="Skip for now").click()
    await page.get_by_role("heading", name="You are signed in").wait_for()
    assert await page.locator("#signed-in").inner_text() == "✓ Signed in to mfa-flow with your password."
    await shots.take(page, "skipped")

    await sign_in_with_password(page, server, user["username"])  # asked once only
    await page.get_by_role("heading", name="You are signed in").wait_for()


async def start_with_a_wrong_password(page, server) -> str:
    """The page's flow, made by a first (wrong) try: the page makes none until the form is sent."""
    await page.goto(page_url(server))
    await enter_password(page, unique("nobody"), "not the password")
    await page.get_by_text("The username or password is not right. 4 attempts left.").wait_for()
    return await page.get_attribute("body", "data-flow")


async def test_the_page_follows_changes_made_elsewhere_over_its_websocket(api, server, page, shots):
    await start_with_a_wrong_password(page, server)
    await page.locator("body[data-live=websocket]").wait_for()
    flow_id = await page.get_attribute("body", "data-flow")
    # A support agent cancels the page's flow with the admin key: the page learns it live.
    reply = await api.admin("POST", f"/api/flows/{flow_id}/events", {"type": "cancel"})
    assert reply.status == 200
    await page.get_by_role("heading", name="This sign-in was cancelled").wait_for()
    await shots.take(page, "cancelled-elsewhere")
    await page.get_by_role("button", name="Start again").click()
    await wait_for_state(page, "first_factor")
    assert await page.get_attribute("body", "data-flow") is None  # a new one comes with the next try
    await enter_password(page, unique("nobody"), "still not the password")
    await page.get_by_text("The username or password is not right. 4 attempts left.").wait_for()
    assert await page.get_attribute("body", "data-flow") not in (None, flow_id)


async def test_without_websockets_the_page_falls_back_to_long_polling(api, server, page, console):
    console.allow(r"422 \(Unprocessable")  # the wrong password, answered over HTTP without a socket
    await page.route_web_socket(re.compile(r"/ws"), lambda socket: socket.close())
    flow_id = await start_with_a_wrong_password(page, server)
    await page.locator("body[data-live=long-poll]").wait_for()
    reply = await api.admin("POST", f"/api/flows/{flow_id}/events", {"type": "cancel"})
    assert reply.status == 200
    await page.get_by_role("heading", name="This sign-in was cancelled").wait_for()


async def test_a_person_signs_in_with_the_keyboard_alone_on_a_phone(api, server, phone, shots):
    await api.configure(["totp"], "mandatory")
    user = await api.new_user(unique("thumbs"))
    enrolled = await api.admin("POST", f"/api/users/{user['id']}/mfa-verifications", {"type": "totp"})
    secret = enrolled.body["secret"]

    await phone.goto(page_url(server))
    await phone.get_by_label("Username").wait_for()
    # The page puts the focus where typing starts; Tab and Enter do the rest.
    await phone.keyboard.type(user["username"])
    await phone.keyboard.press("Tab")
    await phone.keyboard.type("correct horse battery")
    await shots.take(phone, "phone-password")
    await phone.keyboard.press("Enter")
    await phone.get_by_role("heading", name="Enter your authenticator code").wait_for()
    assert await phone.evaluate("document.activeElement.id") == "code"
    await phone.keyboard.type(await fresh_code(secret))
    await shots.take(phone, "phone-code", readme="sign-in-phone")
    await phone.keyboard.press("Enter")
    await phone.get_by_role("heading", name="You are signed in").wait_for()
    # Nothing wider than the screen: no sideways scrolling.
    assert await phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    await shots.take(phone, "phone-signed-in")


async def test_an_expired_sign_in_says_so_and_starts_again(start_server, page, shots):
    server = await start_server.started(MFA_FLOW_FLOW_TTL="3", MFA_FLOW_SWEEP_INTERVAL="1")
    flow_id = await start_with_a_wrong_password(page, server)
    await page.get_by_text("This sign-in times out in").wait_for()
    await page.get_by_role("heading", name="This sign-in timed out").wait_for(timeout=15_000)
    await shots.take(page, "expired")
    await page.get_by_role("button", name="Start again").click()
    await wait_for_state(page, "first_factor")
    assert await page.get_attribute("body", "data-flow") != flow_id


async def test_a_locked_account_shows_when_it_may_try_again(start_server, http, page, shots):
    server = await start_server.started(MFA_FLOW_LOCKOUT_THRESHOLD="2", MFA_FLOW_LOCKOUT_SECONDS="120")
    user = await Api(server.base_url, http).new_user(unique("locked"))

    await page.goto(page_url(server))
    await enter_password(page, user["username"], "wrong password")
    await page.get_by_text("The username or password is not right. 4 attempts left.").wait_for()
    await enter_password(page, user["username"], "wrong password again")  # the second in a row locks the user
    await page.get_by_role("heading", name="This sign-in was stopped").wait_for()
    await shots.take(page, "stopped")
    await page.get_by_role("button", name="Start again").click()
    await enter_password(page, user["username"])
    await page.get_by_text("Too many failed attempts for this account.").wait_for()
    await page.get_by_text(re.compile(r"You can try again in [12]:\d\d\.")).wait_for()
    assert await page.get_by_role("button", name="Sign in", exact=True).is_disabled()
    await shots.take(page, "locked")


async def test_an_email_address_is_added_with_a_code_and_a_new_code_can_be_asked_for_after_a_countdown(start_server, http, page, shots):
    smtp = SmtpServer()
    smtp.start()
    try:
        server = await start_server.started(MFA_FLOW_SMTP_URL=f"smtp://127.0.0.1:{smtp.port}", MFA_FLOW_CODE_RESEND="3")
        api = Api(server.base_url, http)
        await api.configure(["email_code"], "mandatory")
        user = await api.new_user(unique("mailer"))
        address = f"{uuid.uuid4().hex[:10]}@example.com"

        await sign_in_with_password(page, server, user["username"])
        await page.get_by_role("heading", name="Add your email address").wait_for()
        await page.get_by_label("Email address").fill(address)
        await shots.take(page, "add-email")
        await page.get_by_role("button", name="Send a code").click()
        await page.get_by_role("heading", name="Check your email").wait_for()
        await page.get_by_text(f"We sent a 6-digit code to {address[0]}***@example.com.").wait_for()
        assert await page.get_by_role("button", name="Send a new code").is_disabled()
        await page.get_by_text(re.compile(r"You can ask for a new code in \d s\.")).wait_for()
        await assert_accessible(page)
        await shots.take(page, "check-your-email")
        await enter_code(page, await smtp.mailbox.next_code(address, 0))
        await page.get_by_role("heading", name="You are signed in").wait_for()

        # The next sign-in sends a code at once; a new one may be asked for when the countdown ends.
        await sign_in_with_password(page, server, user["username"])
        await page.get_by_role("heading", name="Check your email").wait_for()
        await smtp.mailbox.next_code(address, 1)
        await page.get_by_role("button", name="Send a new code").click(timeout=10_000)  # enabled after 3 s
        await page.get_by_text(re.compile(r"You can ask for a new code in \d s\.")).wait_for()
        await enter_code(page, await smtp.mailbox.next_code(address, 2))
        await page.get_by_role("heading", name="You are signed in").wait_for()
        await shots.take(page, "signed-in-with-an-email-code")
    finally:
        smtp.stop()


async def test_a_remembered_device_needs_only_the_password_next_time(api, server, page, shots):
    reply = await api.admin("PUT", "/api/config/mfa", {"factors": ["totp"], "policy": "mandatory",
                                                       "trusted_devices": {"enabled": True, "days": 30}})
    assert reply.status == 200, reply
    user = await api.new_user(unique("trusting"))
    secret = (await api.admin("POST", f"/api/users/{user['id']}/mfa-verifications", {"type": "totp"})).body["secret"]

    await sign_in_with_password(page, server, user["username"])
    await page.get_by_role("heading", name="Enter your authenticator code").wait_for()
    await page.get_by_label("Remember this device for 30 days").check()
    await shots.take(page, "remember-this-device")
    await enter_code(page, await fresh_code(secret))
    await page.get_by_text("This device is remembered: next time, your password is enough here.").wait_for()

    await sign_in_with_password(page, server, user["username"])
    await page.get_by_text("This device is remembered, so no second step was needed.").wait_for()
    await shots.take(page, "password-only-on-a-remembered-device")
    devices = (await api.admin("GET", f"/api/users/{user['id']}/trusted-devices")).body
    assert len(devices) == 1


async def newest_flow(api) -> str | None:
    items = (await api.admin("GET", "/api/flows?limit=1")).body["items"]
    return items[0]["id"] if items else None


async def test_opening_or_reloading_the_page_creates_no_flow_and_a_reload_carries_on_the_sign_in(api, server, page, shots):
    await api.configure(["totp"], "mandatory")
    user = await api.new_user(unique("reloader"))
    secret = (await api.admin("POST", f"/api/users/{user['id']}/mfa-verifications", {"type": "totp"})).body["secret"]
    before = await newest_flow(api)

    await page.goto(page_url(server))
    for _ in range(3):
        await page.get_by_label("Username").wait_for()
        await page.reload()
    await page.get_by_label("Username").wait_for()
    assert await page.get_attribute("body", "data-flow") is None
    assert await newest_flow(api) == before  # nothing made, nothing counted against the address

    await enter_password(page, user["username"])
    await page.get_by_role("heading", name="Enter your authenticator code").wait_for()
    flow_id = await page.get_attribute("body", "data-flow")
    assert await newest_flow(api) == flow_id  # made by the password's submission

    await page.reload()  # in the middle of the sign-in: it carries on where it stood
    await page.get_by_role("heading", name="Enter your authenticator code").wait_for()
    assert await page.get_attribute("body", "data-flow") == flow_id
    await shots.take(page, "reloaded-mid-sign-in")
    await enter_code(page, await fresh_code(secret))
    await page.get_by_role("heading", name="You are signed in").wait_for()

    await page.reload()  # a finished sign-in is not picked up again: a fresh form, still no new flow
    await page.get_by_label("Username").wait_for()
    assert await newest_flow(api) == flow_id


async def test_with_sign_up_on_the_form_offers_an_account_before_any_flow_exists(start_server, page, shots):
    server = await start_server.started(MFA_FLOW_SIGN_UP="1")
    await page.goto(page_url(server))
    create = page.get_by_role("button", name="Create an account")
    await create.wait_for()
    assert await page.get_attribute("body", "data-flow") is None
    await page.get_by_label("Username").fill(unique("newcomer"))
    await page.get_by_label("Password").fill("correct horse battery")
    await create.click()
    await page.get_by_role("heading", name="You are signed in").wait_for()
