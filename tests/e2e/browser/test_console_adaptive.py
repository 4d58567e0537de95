"""The console's adaptive MFA settings in a real browser: each rule explained with its
default threshold, turned on with a no-skip policy, and the API's 422 shown in its words."""

from __future__ import annotations

import re

from tests.e2e.browser.conftest import axe_violations
from tests.e2e.browser.test_console import open_console


async def test_an_admin_turns_adaptive_mfa_on_and_sets_a_threshold(api, server, page, console):
    console.allow(r"status of 422 \(Unprocessable")  # adaptive with a policy that lets users skip: refused
    await api.configure(["totp"], "mandatory")
    await open_console(page, server)
    await page.get_by_role("heading", name="Multi-factor auth").wait_for()
    adaptive = page.locator("#adaptive")
    for words in ("180 days", "900 km/h", "30 by default", "30 by default), or the address", "device id",
                  "5 within 15"):
        await adaptive.get_by_text(words).first.wait_for()
    assert await axe_violations(page) == []
    await page.get_by_role("checkbox", name=re.compile("^Ask users with MFA only when a risk rule fires")).check()
    await page.get_by_role("button", name="Save").click()
    alert = page.locator("#mfa-form [role=alert]")
    await alert.filter(has_text="prompt_at_sign_in_and_sign_up_mandatory").wait_for()  # the API's own words
    await page.get_by_role("radio", name=re.compile(r"^Ask at sign-up and sign-in, no skip")).check()
    await page.get_by_label("Maximum speed (km/h)").fill("1000")
    await page.get_by_role("checkbox", name=re.compile("^New device")).uncheck()
    await page.get_by_label("Untrusted networks (CIDRs, one a line)").fill("203.0.113.0/24\n198.51.100.0/24")
    await page.get_by_role("button", name="Save").click()
    await page.get_by_text("Saved. New sign-ins follow these settings.").wait_for()
    config = (await api.admin("GET", "/api/config/mfa")).body
    assert config["policy"] == "prompt_at_sign_in_and_sign_up_mandatory" and config["adaptive"]["enabled"]
    rules = config["adaptive"]["rules"]
    assert rules["geo_velocity"] == {"enabled": True, "max_kmh": 1000}
    assert rules["new_device"] == {"enabled": False}
    assert rules["untrusted_ip"]["networks"] == ["203.0.113.0/24", "198.51.100.0/24"]
