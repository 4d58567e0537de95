"""The README's tour in the browser, step by step as it is written: the console, the sign-in
page with an authenticator app (oathtool standing in for the phone), the account page. The
words the README tells a reader to look for and press are the ones this test clicks."""

from __future__ import annotations

import re
from pathlib import Path

from tests.e2e.browser.steps import enter_code, page_url
from tests.support.otp import fresh_code, oathtool
from tests.support.server import ServerProcess

ROOT = Path(__file__).resolve().parents[3]


def browser_tour() -> str:
    readme = (ROOT / "README.md").read_text()
    section = re.search(r"^### In the browser\n(.*?)^### ", readme, re.S | re.M)
    assert section is not None, "the README has no browser tour"
    return " ".join(section.group(1).split())  # one line: the README wraps its paragraphs anywhere


def test_the_browser_tour_names_what_the_pages_show():
    tour = browser_tour()
    for pressed in ("Authenticator app OTP", "Backup codes", "Mandatory MFA", "Save", "Create the user",
                    "Verify and turn on", "Continue", "Remove", "Get new codes", "Done"):
        assert f"**{pressed}**" in tour, pressed
    for seen in ("Multi-factor auth", "Users", "Cannot scan it? Enter a key instead",
                 "I have saved my backup codes somewhere safe", "You are signed in", "Flows", "Your sign-in methods"):
        assert f"*{seen}*" in tour, seen
    for address in ("http://localhost:8080/console", "http://localhost:8080/", "http://localhost:8080/account"):
        assert f"`{address}`" in tour, address
    assert "`alice`" in tour and "`correct horse`" in tour


async def test_the_readme_browser_tour_reaches_done(fresh_database, start_server, page, shots):
    server: ServerProcess = await start_server.started(fresh_database)
    used: set[int] = set()

    # 1. The console: the admin key, then Multi-factor auth and Users.
    await page.goto(page_url(server, "/console"))
    await page.get_by_label("Admin or auditor key").fill(server.env["MFA_FLOW_ADMIN_KEY"])
    await page.get_by_role("button", name="Open the console").click()
    await page.get_by_role("heading", name="Multi-factor auth").wait_for()
    await page.get_by_role("checkbox", name=re.compile("^Authenticator app OTP")).check()
    await page.get_by_role("checkbox", name=re.compile("^Backup codes")).check()
    await page.get_by_role("radio", name=re.compile("^Mandatory MFA")).check()
    await page.get_by_role("button", name="Save").click()
    await page.get_by_text("Saved. New sign-ins follow these settings.").wait_for()
    await shots.take(page, "console-mfa")
    await page.get_by_role("link", name="Users").click()
    await page.get_by_role("heading", name="Create a user").wait_for()
    await page.get_by_label("Username", exact=True).fill("alice")
    await page.get_by_label("Password (optional)").fill("correct horse")
    await page.get_by_role("button", name="Create the user").click()
    await page.get_by_role("heading", name="alice").wait_for()
    await shots.take(page, "console-user")

    # 2. The sign-in page: set up an authenticator app, save the backup codes.
    person = await page.context.new_page()
    await person.goto(page_url(server, "/"))
    await person.get_by_label("Username").fill("alice")
    await person.get_by_label("Password").fill("correct horse")
    await person.get_by_role("button", name="Sign in", exact=True).click()
    await person.get_by_role("heading", name="Set up your authenticator app").wait_for()
    await person.get_by_text("Cannot scan it? Enter a key instead").click()
    secret = await person.locator("#secret").get_attribute("data-secret")
    assert secret
    await shots.take(person, "sign-in-authenticator")
    await enter_code(person, await fresh_code(secret, used), label="Code from the app", button="Verify and turn on")
    await person.get_by_label("I have saved my backup codes somewhere safe").check()
    await shots.take(person, "sign-in-backup-codes")
    await person.get_by_role("button", name="Continue").click()
    await person.get_by_role("heading", name="You are signed in").wait_for()
    await shots.take(person, "sign-in-done")

    # The console's Flows shows it.
    await page.get_by_role("link", name="Flows").click()
    await page.get_by_role("heading", name="Flows").wait_for()
    await page.locator("tr[data-flow]").first.wait_for()

    # 3. The account page: sign in again with a new code, see the methods, Done.
    await person.goto(page_url(server, "/account"))
    await person.get_by_label("Username").fill("alice")
    await person.get_by_label("Password").fill("correct horse")
    await person.get_by_role("button", name="Sign in", exact=True).click()
    await person.get_by_role("heading", name="Enter your authenticator code").wait_for()
    await enter_code(person, await fresh_code(secret, used))
    await person.get_by_text("Your sign-in methods").wait_for()
    methods = await person.locator("#methods .method strong").all_inner_texts()
    assert "Authenticator app" in methods, methods
    await person.get_by_role("button", name=re.compile("^Get new codes")).first.wait_for()
    await person.get_by_role("button", name=re.compile("^Remove")).first.wait_for()
    await shots.take(person, "account")
    await person.get_by_role("button", name="Done").click()
    await person.get_by_role("heading", name="Your changes are saved").wait_for()
    await shots.take(person, "account-done")
    assert oathtool(secret)  # the key the page showed is an authenticator key oathtool reads
