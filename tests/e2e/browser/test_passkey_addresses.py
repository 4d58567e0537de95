"""Passkeys work at the address ``serve`` prints, and where they cannot, the page and the log
say which setting to change, and no attempt is spent.

``mfa-flow serve --port N`` with no MFA_FLOW_ORIGIN prints http://localhost:N/ (a WebAuthn RP
ID cannot be an IP address, so not 127.0.0.1) and accepts passkeys made there: Chromium, with a
virtual authenticator, opens exactly the printed URL and creates one.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from tests.e2e.browser.steps import enter_password, page_url
from tests.support.names import unique
from tests.support.server import ServerProcess, free_port


def printed_url(process: subprocess.Popen, log, timeout: float = 60) -> dict:
    """The ready line ``serve`` logs (JSON: its output is not a terminal)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in log.read_text().splitlines():
            if line.startswith("{") and "ready at" in line:
                return json.loads(line)
        assert process.poll() is None, log.read_text()
        time.sleep(0.1)
    raise AssertionError(f"serve printed no address within {timeout} s:\n{log.read_text()}")


@pytest.fixture
def serve_on_a_port(database_url):
    """``mfa-flow serve --port N`` as a newcomer runs it: no MFA_FLOW_ORIGIN, no MFA_FLOW_PORT."""
    base = ServerProcess(database_url)
    env = {k: v for k, v in base.env.items() if k not in ("MFA_FLOW_ORIGIN", "MFA_FLOW_PORT", "MFA_FLOW_RP_ID")}
    port = free_port()
    with open(base.log_path, "ab") as log:
        process = subprocess.Popen([sys.executable, "-m", "mfa_flow.cli", "serve", "--port", str(port)], env=env,
                                   stdout=log, stderr=subprocess.STDOUT)
    try:
        yield port, printed_url(process, base.log_path), base.log_path
    finally:
        process.terminate()
        process.wait(15)


async def test_a_passkey_is_created_at_exactly_the_address_serve_prints(api, serve_on_a_port, page,
                                                                        virtual_authenticator, shots):
    port, ready, _ = serve_on_a_port
    assert ready["url"] == f"http://localhost:{port}/"
    await api.configure(["webauthn"], "mandatory")  # the same database as this server's
    user = await api.new_user(unique("printed"))

    await page.goto(ready["url"])  # exactly what was printed
    await enter_password(page, user["username"])
    await page.get_by_role("heading", name="Create a passkey").wait_for()
    await page.get_by_role("button", name="Create a passkey").click()
    await page.get_by_role("heading", name="You are signed in").wait_for()
    await shots.take(page, "passkey-at-the-printed-address")
    credentials = await virtual_authenticator.send(
        "WebAuthn.getCredentials", {"authenticatorId": virtual_authenticator.authenticator_id})
    assert [c["rpId"] for c in credentials["credentials"]] == ["localhost"]


async def test_at_an_ip_address_the_page_says_where_passkeys_work(api, server, page, virtual_authenticator, shots):
    await api.configure(["webauthn"], "mandatory")
    user = await api.new_user(unique("byip"))
    await page.goto(f"http://127.0.0.1:{server.port}/")
    await enter_password(page, user["username"])
    await page.get_by_role("button", name="Create a passkey").click()
    alert = page.get_by_role("alert")
    await alert.get_by_text("Passkeys for this service work at localhost, not at 127.0.0.1").wait_for()
    assert f"open http://localhost:{server.port}/" in await alert.inner_text()
    await shots.take(page, "passkey-at-an-ip-address", readme="passkey-at-an-ip-address")


async def test_at_an_origin_the_settings_do_not_name_the_page_and_log_name_the_setting_and_no_attempt_is_spent(
        api, start_server, page, virtual_authenticator, shots):
    # The service is set up for another port than the one the page is opened at (a --port changed
    # with MFA_FLOW_ORIGIN left as it was): the browser makes the passkey, the service refuses it.
    elsewhere = f"http://localhost:{free_port()}"
    server = await start_server.started(MFA_FLOW_ORIGIN=elsewhere)
    await api.configure(["webauthn"], "mandatory")
    user = await api.new_user(unique("otherport"))
    await page.goto(page_url(server))
    await enter_password(page, user["username"])
    await page.get_by_role("button", name="Create a passkey").click()
    alert = page.get_by_role("alert")
    await alert.get_by_text("MFA_FLOW_ORIGIN").wait_for()
    said = await alert.inner_text()
    assert f"this page is at http://localhost:{server.port}" in said.lower() and elsewhere in said
    assert "no attempt was counted" in said and "attempts left" not in said
    await shots.take(page, "passkey-at-another-origin")

    [flow] = (await api.admin("GET", f"/api/flows?user_id={user['id']}")).body["items"]
    assert flow["state"] == "webauthn_setup" and flow["attempts_left"] == 5
    assert [row["event"] for row in await api.transitions(flow["id"])] == ["submit_password"], "nothing recorded"
    warning = next(json.loads(line) for line in server.log().splitlines()
                   if line.startswith("{") and "passkey refused" in line)
    assert warning["setting"] == "MFA_FLOW_ORIGIN" and warning["level"] == "warning"
    assert warning["origin"] == f"http://localhost:{server.port}" and warning["expected"] == [elsewhere]
