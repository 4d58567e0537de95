"""The console's Organisations pages in a real browser: an admin creates an organisation that
requires MFA, renames it, adds a member (who then sees it on their user page), turns the
requirement off, removes the member and deletes the organisation; refusals are shown in words."""

from __future__ import annotations

from tests.e2e.browser.conftest import axe_violations
from tests.e2e.browser.steps import confirm, page_url
from tests.e2e.browser.test_console import open_console
from tests.support.names import unique


async def test_an_admin_manages_an_organisation_and_its_members(api, server, page, shots):
    user = await api.new_user(unique("orgmember"))
    await open_console(page, server, section="organizations")
    await page.get_by_role("heading", name="Create an organisation").wait_for()
    name = unique("Acme")
    await page.get_by_label("Name", exact=True).fill(name)
    await page.get_by_label("Require MFA of its members").check()
    assert await axe_violations(page) == []
    await page.get_by_role("button", name="Create the organisation").click()
    await page.get_by_role("heading", name=name).wait_for()
    org_id = page.url.rsplit("/", 1)[-1]
    assert (await api.admin("GET", f"/api/organizations/{org_id}")).body["require_mfa"] is True
    await page.get_by_text("required at every sign-in").wait_for()

    await page.get_by_label("Name", exact=True).fill(name + " Ltd")
    await page.get_by_role("button", name="Rename").click()
    await page.get_by_role("heading", name=name + " Ltd").wait_for()

    await page.get_by_label("Username or user id").fill(user["username"])
    await page.get_by_role("button", name="Add the member").click()
    await page.get_by_role("button", name=f"Remove {user['username']}").wait_for()
    assert await axe_violations(page) == []
    await shots.take(page, "organization")
    members = (await api.admin("GET", f"/api/organizations/{org_id}/members")).body["items"]
    assert [m["id"] for m in members] == [user["id"]]

    await page.get_by_role("link", name=user["username"]).click()
    await page.get_by_role("heading", name=user["username"]).wait_for()
    await page.locator("#user-organizations").get_by_role("link", name=name + " Ltd").click()
    await page.get_by_role("heading", name=name + " Ltd").wait_for()

    await page.get_by_role("button", name="Stop requiring MFA").click()
    await page.get_by_text("as the policy says").wait_for()
    assert (await api.admin("GET", f"/api/organizations/{org_id}")).body["require_mfa"] is False

    await page.get_by_role("button", name=f"Remove {user['username']}").click()
    await confirm(page, f"Remove {user['username']} from {name} Ltd?", "Remove")
    await page.get_by_text("No members yet.").wait_for()
    assert (await api.admin("GET", f"/api/users/{user['id']}")).body["organizations"] == []

    await page.get_by_role("button", name="Delete the organisation").click()
    await confirm(page, f"Delete {name} Ltd?", "Delete the organisation")
    await page.get_by_role("heading", name="Organisations", exact=True).wait_for()
    assert (await api.admin("GET", f"/api/organizations/{org_id}")).status == 404


async def test_a_taken_name_and_an_unknown_member_are_refused_in_words(api, server, page, console):
    console.allow("status of 409")  # the refusals themselves
    console.allow("status of 404")
    taken = (await api.admin("POST", "/api/organizations", {"name": unique("Taken")})).body
    await open_console(page, server, section="organizations")
    await page.get_by_label("Name", exact=True).fill(taken["name"].upper())
    await page.get_by_role("button", name="Create the organisation").click()
    await page.get_by_text("exists already (names are unique, whatever their case)").wait_for()

    await page.goto(page_url(server, f"/console#organizations/{taken['id']}"))  # the key is kept for the tab
    await page.get_by_role("heading", name=taken["name"]).wait_for()
    await page.get_by_label("Username or user id").fill("nobody-by-that-name")
    await page.get_by_role("button", name="Add the member").click()
    await page.get_by_text("user nobody-by-that-name does not exist").wait_for()
