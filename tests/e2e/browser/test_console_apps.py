"""The console's Apps page in a real browser: an admin registers an OpenID Connect app, sees
its secret once, rotates it and deletes the app."""

from __future__ import annotations

import re

from tests.e2e.browser.conftest import axe_violations
from tests.e2e.browser.test_console import open_console
from tests.support.names import unique


async def test_an_admin_registers_an_app_sees_its_secret_once_rotates_it_and_deletes_it(api, server, page, shots):
    await open_console(page, server, section="apps")
    await page.get_by_role("heading", name="Apps", exact=True).wait_for()
    name = unique("Shop")
    await page.get_by_label("Name").fill(name)
    await page.get_by_role("radio", name=re.compile("^Checks passwords itself")).check()
    await page.get_by_label("Redirect URIs").fill("https://shop.example/callback\nhttp://localhost:5000/callback")
    assert await axe_violations(page) == []
    await page.get_by_role("button", name="Register the app").click()

    shown = page.locator("#client-secret")
    await shown.wait_for()
    secret = (await shown.locator("pre").inner_text()).strip()
    client_id = (await shown.locator("code").inner_text()).strip()
    await shots.take(page, "app-registered", readme="console-apps")
    registered = (await api.admin("GET", f"/api/oidc/clients/{client_id}")).body
    assert registered["name"] == name and registered["kind"] == "asserting" and secret.startswith("cs_")
    assert registered["redirect_uris"] == ["https://shop.example/callback", "http://localhost:5000/callback"]

    await page.get_by_role("link", name=name).click()
    await page.get_by_role("heading", name=name).wait_for()
    await page.get_by_role("button", name="Rotate the secret").click()
    await page.locator("#client-secret").wait_for()
    assert (await page.locator("#client-secret pre").inner_text()).strip() != secret
    await page.get_by_text("The previous secret also works until").wait_for()

    await page.get_by_role("button", name="Delete the app").click()
    await page.locator("#confirm-yes").click()  # it asks first, saying what will happen
    await page.get_by_role("heading", name="Apps", exact=True).wait_for()
    assert (await api.admin("GET", f"/api/oidc/clients/{client_id}")).status == 404


async def test_a_redirect_uri_that_cannot_work_is_refused_in_words(server, page, console):
    console.allow("status of 400")  # the refusal itself
    await open_console(page, server, section="apps")
    await page.get_by_label("Name").fill("Plain")
    await page.get_by_label("Redirect URIs").fill("http://shop.example/callback")
    await page.get_by_role("button", name="Register the app").click()
    await page.get_by_text("plain http is allowed only on localhost").wait_for()
