"""Headless Debian Chromium driven by Playwright (never Playwright's own browser download).

Every page a test opens is watched: an error in the browser's console or an uncaught
exception fails the test (``page``), and ``shots`` keeps a screenshot of each step in
``test-artifacts/browser/<module>/<test>/`` (``MFA_FLOW_TEST_ARTIFACTS`` moves it).
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import pytest
from playwright.async_api import async_playwright

CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
ROOT = Path(__file__).resolve().parents[3]
ARTIFACTS = Path(os.environ.get("MFA_FLOW_TEST_ARTIFACTS", ROOT / "test-artifacts")) / "browser"
# The README's screenshots are written by the tests when MFA_FLOW_UPDATE_SCREENSHOTS=1.
README_SHOTS = ROOT / "docs" / "screenshots"
AXE = ROOT / "tests" / "support" / "vendor" / "axe-core" / "axe.min.js"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1000, "height": 760}


@pytest.fixture(scope="module")
async def browser():
    executable = shutil.which("chromium")
    assert executable, "Debian chromium is missing: scripts/setup --test installs it (apt-get install chromium)"
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
        yield browser
        await browser.close()


class ConsoleWatch:
    """Errors the page reported: console messages of type error and uncaught exceptions."""

    def __init__(self):
        self.errors: list[str] = []
        self.allowed: list[re.Pattern] = []

    def allow(self, pattern: str) -> None:
        """A test that provokes an error on purpose names it."""
        self.allowed.append(re.compile(pattern))

    def seen(self, text: str) -> None:
        self.errors.append(text)

    def unexpected(self) -> list[str]:
        return [e for e in self.errors if not any(p.search(e) for p in self.allowed)]


@pytest.fixture
async def console():
    return ConsoleWatch()


async def _new_page(browser, console: ConsoleWatch, viewport: dict, **context_options):
    context = await browser.new_context(viewport=viewport, accept_downloads=True, **context_options)
    page = await context.new_page()
    page.on("console", lambda message: console.seen(f"console: {message.text}") if message.type == "error" else None)
    page.on("pageerror", lambda error: console.seen(f"uncaught: {error}"))
    return context, page


@pytest.fixture
async def page(browser, console):
    context, page = await _new_page(browser, console, DESKTOP)
    yield page
    await context.close()
    assert console.unexpected() == [], "the browser reported errors"


@pytest.fixture
async def phone(browser, console):
    """A phone-sized, touch screen."""
    context, page = await _new_page(browser, console, PHONE, is_mobile=True, has_touch=True, device_scale_factor=2)
    yield page
    await context.close()
    assert console.unexpected() == [], "the browser reported errors"


@pytest.fixture
async def virtual_authenticator(page):
    """A CTAP2 platform authenticator with resident keys and user verification, on the page's own session."""
    return await add_virtual_authenticator(page)


async def add_virtual_authenticator(page):
    cdp = await page.context.new_cdp_session(page)
    await cdp.send("WebAuthn.enable")
    added = await cdp.send("WebAuthn.addVirtualAuthenticator", {"options": {
        "protocol": "ctap2", "transport": "internal", "hasResidentKey": True, "hasUserVerification": True,
        "isUserVerified": True, "automaticPresenceSimulation": True,
    }})
    cdp.authenticator_id = added["authenticatorId"]
    return cdp


class Shots:
    """A numbered screenshot per step of one test, kept as the test's artifacts."""

    def __init__(self, folder: Path):
        self.folder = folder
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        self.count = 0

    async def take(self, page, step: str, readme: str | None = None) -> Path:
        self.count += 1
        path = self.folder / f"{self.count:02d}-{step}.png"
        await page.screenshot(path=str(path), full_page=True)
        if readme and os.environ.get("MFA_FLOW_UPDATE_SCREENSHOTS") == "1":
            README_SHOTS.mkdir(parents=True, exist_ok=True)
            await page.screenshot(path=str(README_SHOTS / f"{readme}.png"), full_page=True)
        return path


@pytest.fixture
def shots(request) -> Shots:
    module = request.module.__name__.rsplit(".", 1)[-1]
    return Shots(ARTIFACTS / module / re.sub(r"[^\w.-]+", "_", request.node.name))


async def axe_violations(page, impacts: tuple[str, ...] = ("serious", "critical")) -> list[dict]:
    """Run the vendored axe-core in the page (through the DevTools protocol, which the page's
    Content-Security-Policy does not govern) and return the violations of those impacts."""
    if not await page.evaluate("() => typeof window.axe !== 'undefined'"):
        await page.evaluate(AXE.read_text())
    results = await page.evaluate("async () => JSON.stringify((await axe.run(document)).violations)")
    violations = json.loads(results)
    return [
        {"id": v["id"], "impact": v["impact"], "help": v["help"], "nodes": [n["html"][:160] for n in v["nodes"][:3]]}
        for v in violations if v["impact"] in impacts
    ]
