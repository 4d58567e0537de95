"""Steps a person takes on the pages, for the browser tests."""

from __future__ import annotations

import subprocess
from pathlib import Path
from urllib.parse import parse_qs, urlparse

PASSWORD = "correct horse battery"


def page_url(server, path: str = "/") -> str:
    # localhost, not 127.0.0.1: the WebAuthn RP ID is localhost, and the origin includes the port
    return f"http://localhost:{server.port}{path}"


async def sign_in_with_password(page, server, username: str, path: str = "/") -> None:
    await page.goto(page_url(server, path))
    await enter_password(page, username)


async def enter_password(page, username: str, password: str = PASSWORD) -> None:
    await page.get_by_label("Username").fill(username)
    await page.get_by_label("Password").fill(password)
    await page.get_by_role("button", name="Sign in", exact=True).click()


async def enter_code(page, code: str, label: str = "6-digit code", button: str = "Verify") -> None:
    await page.get_by_label(label, exact=True).fill(code)
    await page.get_by_role("button", name=button).click()


async def read_qr_code(page, folder: Path) -> str:
    """The otpauth URI in the page's QR code, as zbarimg (Debian) reads a screenshot of it."""
    png = folder / "qr-code.png"
    await page.locator(".qr svg").screenshot(path=str(png))
    out = subprocess.run(["zbarimg", "--quiet", "--raw", str(png)], capture_output=True, text=True, check=True)
    return out.stdout.strip()


def secret_of(otpauth_uri: str) -> str:
    return parse_qs(urlparse(otpauth_uri).query)["secret"][0]


async def wait_for_state(page, state: str, timeout: float = 15_000) -> None:
    await page.locator(f"body[data-state={state}]").wait_for(timeout=timeout)


async def confirm(page, title: str, button: str) -> None:
    """Answer yes to the question a page asks before an action that cannot be undone."""
    dialog = page.get_by_role("dialog", name=title)
    await dialog.get_by_role("button", name=button, exact=True).click()
    await dialog.wait_for(state="detached")
