"""The console in a real browser: an admin configures MFA, looks after users and webhooks,
watches sign-ins live and checks a flow's audit chain; an auditor reads only."""

from __future__ import annotations

import re

from tests.e2e.browser.conftest import axe_violations
from tests.e2e.browser.steps import confirm, enter_code, page_url, read_qr_code, secret_of, sign_in_with_password
from tests.support.names import unique
from tests.support.otp import fresh_code
from tests.support.server import ADMIN_KEY, AUDITOR_KEY
from tests.support.waiting import eventually


async def open_console(page, server, key: str = ADMIN_KEY, section: str = "") -> None:
    await page.goto(page_url(server, "/console" + (f"#{section}" if section else "")))
    await page.get_by_label("Admin or auditor key").fill(key)
    await page.get_by_role("button", name="Open the console").click()
    await page.locator(f"body[data-role={'admin' if key == ADMIN_KEY else 'auditor'}]").wait_for()


async def test_an_admin_turns_on_mfa_a_user_sets_it_up_and_the_console_verifies_the_flow_chain(api, server, browser, page, shots):
    await api.configure([], "user_controlled")
    await page.goto(page_url(server, "/console"))
    await page.get_by_label("Admin or auditor key").wait_for()
    # No sidebar yet: the form has the page's width to itself, not the sidebar's narrow column.
    field = await page.get_by_label("Admin or auditor key").bounding_box()
    assert field["width"] >= 400 and field["x"] > 200, field
    assert await axe_violations(page) == []
    await shots.take(page, "key", readme="console-key")
    await page.get_by_label("Admin or auditor key").fill(ADMIN_KEY)
    await page.get_by_role("button", name="Open the console").click()

    # Multi-factor auth, grouped as the product guide groups it.
    await page.get_by_role("heading", name="Multi-factor auth").wait_for()
    backup = page.get_by_role("checkbox", name=re.compile("^Backup codes"))
    assert await backup.is_disabled()
    assert await page.locator("#backup-reason").is_visible()
    await shots.take(page, "mfa-nothing-on")
    await page.get_by_role("checkbox", name=re.compile("^Authenticator app OTP")).check()
    await page.get_by_role("checkbox", name=re.compile(r"^Passkeys \(WebAuthn\)")).check()
    assert await backup.is_enabled() and not await page.locator("#backup-reason").is_visible()
    await backup.check()
    # With every primary factor off, backup codes are off too; the admin's choice comes back with one.
    app = page.get_by_role("checkbox", name=re.compile("^Authenticator app OTP"))
    passkeys = page.get_by_role("checkbox", name=re.compile(r"^Passkeys \(WebAuthn\)"))
    await app.uncheck()
    await passkeys.uncheck()
    assert await backup.is_disabled() and not await backup.is_checked()
    await app.check()
    assert await backup.is_enabled() and await backup.is_checked()
    await passkeys.check()
    await page.get_by_role("radio", name=re.compile("^Mandatory MFA")).check()
    assert await axe_violations(page) == []
    await page.get_by_role("button", name="Save").click()
    await page.get_by_text("Saved. New sign-ins follow these settings.").wait_for()
    await shots.take(page, "mfa-saved", readme="console-mfa")
    config = (await api.admin("GET", "/api/config/mfa")).body
    assert sorted(config["factors"]) == ["backup_code", "totp", "webauthn"] and config["policy"] == "mandatory"

    # The Flows page lists sign-ins live while a user signs in on the sign-in page.
    await page.get_by_role("link", name="Flows").click()
    await page.locator("body[data-live=on]").wait_for()
    user = await api.new_user(unique("journey"))
    person = await (await browser.new_context()).new_page()
    await sign_in_with_password(person, server, user["username"])
    await person.get_by_role("heading", name="Add a second step to your sign-in").wait_for()
    flow_id = await person.get_attribute("body", "data-flow")
    row = page.locator(f"tr[data-flow='{flow_id}']")
    await row.get_by_text("choosing a method").wait_for()
    await row.get_by_role("link", name=user["username"], exact=True).wait_for()  # the person, by name
    await person.get_by_role("button", name=re.compile("^Authenticator app")).click()
    await row.get_by_text("setting up an authenticator app").wait_for()
    secret = secret_of(await read_qr_code(person, shots.folder))
    await enter_code(person, await fresh_code(secret), "Code from the app", "Verify and turn on")
    await person.get_by_label("I have saved my backup codes somewhere safe").check()
    await person.get_by_role("button", name="Continue").click()
    await person.get_by_role("heading", name="You are signed in").wait_for()
    await row.get_by_text("done").wait_for()
    await shots.take(page, "flows-live", readme="console-flows")
    await person.context.close()

    # The flow's timeline, its chain checked in this browser.
    await row.get_by_role("link").first.click()
    await page.get_by_text("✓ Chain verified in this browser: 4 transitions").wait_for()
    await page.get_by_role("link", name=user["username"], exact=True).wait_for()
    events = await page.locator("#timeline .event").all_inner_texts()
    assert events == ["submit_password", "select_factor", "submit_totp", "acknowledge_backup_codes"]
    rules = await page.locator("#timeline .rule").all_inner_texts()
    assert all(rule != "—" for rule in rules), rules  # each row names its rule or guard
    assert await axe_violations(page) == []
    await shots.take(page, "flow-timeline", readme="console-flow")


async def test_an_auditor_reads_flows_and_keys_only(api, server, page, shots):
    flow = await api.start()
    assert (await flow.send("submit_password", username=unique("nobody"), password="wrong")).status == 422
    await flow.ok("cancel")
    await open_console(page, server, AUDITOR_KEY)
    assert await page.locator("#links a").all_inner_texts() == ["Flows", "Keys"]
    await page.get_by_role("heading", name="Flows").wait_for()
    await page.locator(f"tr[data-flow='{flow.id}'] a").first.click()
    await page.get_by_text("✓ Chain verified in this browser: 2 transitions").wait_for()
    await shots.take(page, "auditor-flow")

    # The same page with one row's contents changed on the way: the browser names the row.
    async def tamper(route):
        response = await route.fetch()
        rows = await response.json()
        rows[1]["actor"] = "someone else"
        await route.fulfill(response=response, json=rows)

    await page.route(re.compile(r"/transitions$"), tamper)
    await page.reload()
    await page.get_by_text("✗ Chain broken at transition 2: its hash does not match its contents.").wait_for()
    await page.unroute(re.compile(r"/transitions$"))
    await page.get_by_role("link", name="Keys").click()
    await page.get_by_role("heading", name="Signing keys in use").wait_for()
    jwks = (await api.call("GET", "/.well-known/jwks.json")).body
    await page.get_by_text(jwks["keys"][0]["kid"]).wait_for()
    assert await axe_violations(page) == []
    await shots.take(page, "auditor-keys")


async def test_a_wrong_key_is_refused_and_the_key_is_kept_for_the_tab_only(server, page, console):
    console.allow(r"401 \(Unauthorized\)")
    await page.goto(page_url(server, "/console"))
    await page.get_by_label("Admin or auditor key").fill("not-a-key")
    await page.get_by_role("button", name="Open the console").click()
    await page.get_by_text("That key is not valid.").wait_for()
    await page.get_by_label("Admin or auditor key").fill(ADMIN_KEY)
    await page.get_by_role("button", name="Open the console").click()
    await page.get_by_role("heading", name="Multi-factor auth").wait_for()
    assert await page.evaluate("sessionStorage.getItem('mfa-flow.console.key')") == ADMIN_KEY
    assert await page.evaluate("localStorage.length") == 0
    await page.reload()  # asked once per tab
    await page.get_by_role("heading", name="Multi-factor auth").wait_for()
    await page.get_by_role("button", name="Sign out").click()
    await page.get_by_label("Admin or auditor key").wait_for()
    assert await page.evaluate("sessionStorage.getItem('mfa-flow.console.key')") is None


async def test_an_admin_creates_a_user_and_removes_a_factor(api, server, page, shots):
    await api.configure(["totp"], "mandatory")
    await open_console(page, server, section="users")
    await page.get_by_role("heading", name="Create a user").wait_for()
    username = unique("consoled")
    await page.get_by_label("Username", exact=True).fill(username)
    await page.get_by_label("Password (optional)").fill("correct horse battery")
    await page.get_by_role("button", name="Create the user").click()
    await page.get_by_role("heading", name=username).wait_for()
    user_id = page.url.rsplit("/", 1)[-1]
    await api.admin("POST", f"/api/users/{user_id}/mfa-verifications", {"type": "totp"})
    await page.reload()
    await page.get_by_role("button", name="Remove Authenticator app").wait_for()
    assert await axe_violations(page) == []
    await shots.take(page, "user", readme="console-user")
    await page.get_by_role("button", name="Remove Authenticator app").click()
    dialog = page.get_by_role("dialog", name=f"Remove Authenticator app of {username}?")
    says = await dialog.inner_text()
    assert f"{username} can no longer sign in with it." in says and "It is their only second step" in says
    await shots.take(page, "remove-asked")
    await dialog.get_by_role("button", name="Cancel").click()
    await dialog.wait_for(state="detached")
    assert len((await api.admin("GET", f"/api/users/{user_id}/mfa-verifications")).body) == 1  # nothing removed
    await page.get_by_role("button", name="Remove Authenticator app").click()
    await confirm(page, f"Remove Authenticator app of {username}?", "Remove")
    await page.get_by_text("None set up.").wait_for()
    assert (await api.admin("GET", f"/api/users/{user_id}/mfa-verifications")).body == []


async def test_an_admin_adds_a_webhook_endpoint_sees_its_deliveries_and_rotates_its_secret(start_server, http, browser, console, shots):
    server = await start_server.started(MFA_FLOW_WEBHOOK_ALLOW_PRIVATE="1")
    context = await browser.new_context()
    page = await context.new_page()
    page.on("console", lambda message: console.seen(message.text) if message.type == "error" else None)
    console.allow(r"422 \(Unprocessable")  # the refused URL below
    await open_console(page, server, section="webhooks")
    await page.get_by_label("Endpoint URL").fill("http://192.0.2.1/hooks")  # a documentation address: always refused
    await page.get_by_role("button", name="Add the endpoint").click()
    await page.get_by_role("alert").filter(has_text=re.compile("192.0.2.1|address")).wait_for()
    await shots.take(page, "refused-url")
    await page.get_by_label("Endpoint URL").fill("http://127.0.0.1:9/hooks")
    await page.get_by_role("button", name="Add the endpoint").click()
    first = await page.locator("pre.secret-once").inner_text()
    assert first.startswith("whsec_")
    await shots.take(page, "secret-shown-once")

    from tests.support.client import Api
    flow = await Api(server.base_url, http).start()  # flow.created: one delivery, pending (no worker runs here)
    await page.get_by_role("link", name="http://127.0.0.1:9/hooks").click()
    await page.get_by_role("heading", name="Deliveries").wait_for()
    await eventually(lambda: page.get_by_text("flow.created").count(), what="the delivery listed")
    await page.get_by_role("button", name="Rotate the secret").click()
    await page.get_by_text("Signing secret (shown once)").wait_for()
    assert (await page.locator("pre.secret-once").inner_text()) != first
    assert await axe_violations(page) == []
    await shots.take(page, "rotated")
    await context.close()
    assert flow.id
    assert console.unexpected() == []


async def test_trusted_devices_are_turned_on_and_the_api_s_validation_message_is_shown(api, server, page, console, shots):
    console.allow(r"status of 400 \(Bad Request\)")  # the out-of-range number of days, refused by the API
    await api.configure(["totp"], "mandatory")
    await open_console(page, server)
    await page.get_by_role("heading", name="Multi-factor auth").wait_for()
    days = page.get_by_label("Remember a device for (days)")
    assert await days.is_hidden()  # while the feature is off, its number of days means nothing
    await page.get_by_role("checkbox", name=re.compile("^Let users remember a device")).check()
    assert await days.is_visible()
    await page.get_by_label("Remember a device for (days)").fill("400")
    await page.get_by_role("button", name="Save").click()
    alert = page.locator("#mfa-form [role=alert]")
    await alert.filter(has_text="365").wait_for()  # the API's own words, naming the limit
    await shots.take(page, "validation-message")
    await page.get_by_label("Remember a device for (days)").fill("14")
    await page.get_by_role("button", name="Save").click()
    await page.get_by_text("Saved. New sign-ins follow these settings.").wait_for()
    assert await alert.inner_text() == ""
    config = (await api.admin("GET", "/api/config/mfa")).body
    assert config["trusted_devices"] == {"enabled": True, "days": 14}


async def test_an_admin_finds_users_by_the_start_of_their_username(api, server, page, shots):
    prefix = unique("found")
    for n in (1, 2):
        await api.new_user(f"{prefix}-{n}")
    await open_console(page, server, section="users")
    await page.get_by_label("Username, email or phone starts with").fill(prefix)
    await page.get_by_role("button", name="Search").click()
    names = page.locator("#user-results tbody tr td:first-child")
    # The page listed every user first; the search's answer replaces that list.
    await eventually(lambda: names.all_inner_texts(), what="the search's answer")
    await eventually(lambda: _equal(names.all_inner_texts(), [f"{prefix}-1", f"{prefix}-2"]), what="only the matching users")
    assert await axe_violations(page) == []
    await shots.take(page, "search")
    await page.get_by_role("link", name=f"{prefix}-1").click()
    await page.get_by_role("heading", name=f"{prefix}-1").wait_for()


async def _equal(texts, expected) -> bool:
    return await texts == expected
