"""The example shop (``examples/flask-shop``: Flask, its own passwords, authlib) adds mfa-flow as
its second step over OpenID Connect, in a real browser: the shop's password, mfa-flow's
authenticator set-up, back to the shop signed in with acr mfa; a second sign-in verifies a
code; ``max_age=0`` asks for a code even when mfa-flow would not."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.e2e.browser.steps import enter_code, read_qr_code, secret_of
from tests.support.client import Api
from tests.support.otp import fresh_code
from tests.support.server import free_port

SHOP = Path(__file__).resolve().parents[3] / "examples" / "flask-shop"
MFA = "urn:mfa-flow:acr:mfa"


class Shop:
    """The example app as its README runs it: ``flask --app app run``."""

    def __init__(self, mfa_flow_url: str, client_id: str, client_secret: str):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = open(SHOP.parent / f".flask-shop-{self.port}.log", "w+b")  # noqa: SIM115 (closed in stop)
        env = {**os.environ, "MFA_FLOW_URL": mfa_flow_url, "CLIENT_ID": client_id, "CLIENT_SECRET": client_secret}
        self.process = subprocess.Popen([sys.executable, "-m", "flask", "--app", "app", "run", "--port", str(self.port)],
                                        cwd=SHOP, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(self.url, timeout=1):
                    return
            except OSError:
                assert self.process.poll() is None, self.output()
                time.sleep(0.1)
        raise RuntimeError(f"the shop did not start: {self.output()}")

    def output(self) -> str:
        self.log.seek(0)
        return self.log.read().decode(errors="replace")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)
        self.log.close()
        Path(self.log.name).unlink(missing_ok=True)


@pytest.fixture
async def mfa_flow(start_server, fresh_database, http):
    """mfa-flow on a database of its own: the shop's user ``alice`` is new there."""
    server = await start_server.started(url=fresh_database)
    return server, Api(server.base_url, http)


@pytest.fixture
async def shop(mfa_flow):
    server, api = mfa_flow
    shop_port = free_port()
    reply = await api.admin("POST", "/api/oidc/clients", {
        "name": "Shop", "kind": "asserting", "redirect_uris": [f"http://127.0.0.1:{shop_port}/callback"]})
    assert reply.status == 201, reply
    running = Shop(f"http://localhost:{server.port}", reply.body["client_id"], reply.body["client_secret"])
    assert running.port != shop_port  # the shop took a port of its own: register its callback
    patched = await api.admin("PATCH", f"/api/oidc/clients/{reply.body['client_id']}",
                              {"redirect_uris": [f"{running.url}/callback"]})
    assert patched.status == 200
    yield running
    running.stop()


async def sign_in_at_shop(page, shop) -> None:
    await page.goto(shop.url)
    await page.get_by_label("Username").fill("alice")
    await page.get_by_label("Password").fill("wonderland")
    await page.get_by_role("button", name="Sign in").click()


async def signed_in_as(page, acr: str) -> str:
    who = page.locator("#who")
    await who.wait_for()
    text = await who.inner_text()
    assert text.startswith("Signed in as alice with " + acr), text
    return text


async def test_the_shop_adds_a_second_step_with_its_oidc_library(mfa_flow, shop, page, shots):
    server, api = mfa_flow
    await api.configure(["totp"], "mandatory")

    # The shop's own password, then mfa-flow's set-up page, bound to the shop's request.
    await sign_in_at_shop(page, shop)
    await page.get_by_role("heading", name="Set up your authenticator app").wait_for()
    assert page.url.startswith(f"http://localhost:{server.port}/?flow=") and "#" not in page.url
    assert (await page.locator("#for-app").inner_text()) == "Signing in to continue to Shop"
    await shots.take(page, "set-up-for-the-shop", readme="oidc-set-up")
    await page.get_by_text("Cannot scan it? Enter a key instead").click()
    secret = secret_of(await read_qr_code(page, shots.folder))
    used: set[int] = set()
    await enter_code(page, await fresh_code(secret, used), "Code from the app", "Verify and turn on")
    assert "otp" in await signed_in_as(page, MFA)
    await shots.take(page, "back-at-the-shop")

    # A second sign-in: the code, not the set-up.
    await page.get_by_role("button", name="Sign out").click()
    await sign_in_at_shop(page, shop)
    await page.get_by_role("heading", name="Enter your authenticator code").wait_for()
    await enter_code(page, await fresh_code(secret, used))
    await signed_in_as(page, MFA)

    # Where mfa-flow would not ask (the user opted out under a policy that lets them),
    # max_age=0 still asks for a code now.
    await api.configure(["totp"], "user_controlled")
    assert (await api.admin("PATCH", "/api/users/alice", {"mfa": {"skip_on_sign_in": True}})).status == 200
    await page.get_by_role("button", name="Sign out").click()
    await sign_in_at_shop(page, shop)
    await signed_in_as(page, "urn:mfa-flow:acr:pwd")
    await page.get_by_role("button", name="Verify it is me again").click()
    await page.get_by_role("heading", name="Enter your authenticator code").wait_for()
    await enter_code(page, await fresh_code(secret, used))
    await signed_in_as(page, MFA)
    await shots.take(page, "verified-again")

    flows = (await api.admin("GET", "/api/flows?user_id=alice")).body["items"]
    assert len(flows) == 4 and all(f["state"] == "done" for f in flows)
