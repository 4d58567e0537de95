"""The sign-in page bound to an authorization, in a real browser, for a client with no passwords
of its own: the page asks for the password and the code, then sends the browser back to the
app with a code authlib exchanges; a person who cancels goes back with access_denied."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from aiohttp import web

from tests.e2e.browser.steps import enter_code, enter_password
from tests.support.names import unique
from tests.support.otp import fresh_code
from tests.support.relying_party import RelyingParty
from tests.support.server import free_port


@pytest.fixture
async def app_callback():
    """The app's redirect URI: a page that only says it was reached (the test reads its URL)."""

    async def callback(request: web.Request) -> web.Response:
        return web.Response(text="<!doctype html><title>App</title><link rel=icon href='data:,'><h1>Back at the app</h1>",
                            content_type="text/html")

    app = web.Application()
    app.router.add_get("/callback", callback)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield f"http://127.0.0.1:{port}/callback"
    await runner.cleanup()


async def test_a_sign_in_client_gets_the_password_and_a_code_then_a_cancel_is_access_denied(api, server, page, shots,
                                                                                            app_callback):
    await api.configure(["totp"], "mandatory")
    user = await api.new_user(unique("page"))
    secret = (await api.admin("POST", f"/api/users/{user['id']}/mfa-verifications", {"type": "totp"})).body["secret"]
    registered = await api.admin("POST", "/api/oidc/clients", {
        "name": "Notes", "kind": "sign_in", "redirect_uris": [app_callback]})
    client = registered.body
    rp = RelyingParty(f"http://localhost:{server.port}", client["client_id"], client["client_secret"])

    begun = await rp.begin(app_callback)
    await page.goto(begun["url"])
    await page.get_by_text("Signing in to continue to Notes").wait_for()
    await shots.take(page, "password-for-the-app")
    await enter_password(page, user["username"])
    await page.get_by_role("heading", name="Enter your authenticator code").wait_for()
    await enter_code(page, await fresh_code(secret))
    await page.get_by_role("heading", name="Back at the app").wait_for()
    _, claims = await rp.finish(page.url, begun, app_callback)
    assert claims["sub"] == user["id"] and claims["acr"] == "urn:mfa-flow:acr:mfa"

    begun = await rp.begin(app_callback)
    await page.goto(begun["url"])
    await page.get_by_role("button", name="Cancel").click()
    await page.get_by_role("heading", name="Back at the app").wait_for()
    answer = parse_qs(urlsplit(page.url).query)
    assert answer["error"] == ["access_denied"] and answer["state"] == [begun["state"]]
    assert "code" not in answer
