"""The pages' branding: accent colours are checked when read, and text on them stays legible."""

from __future__ import annotations

import pytest

from mfa_flow.http.pages import assets_digest, text_on
from mfa_flow.settings import Settings


@pytest.mark.parametrize("colour, text", [("#0a66d8", "#ffffff"), ("#ffcc00", "#111111"), ("#000", "#ffffff"),
                                          ("#fff", "#111111"), ("#595959", "#ffffff")])
def test_text_on_the_accent_is_whichever_of_black_and_white_contrasts_more(colour, text):
    assert text_on(colour) == text


@pytest.mark.parametrize("value", ["blue", "#12345", "#1234567", "0a66d8", "#0a66d8;}body{display:none", "url(x)"])
def test_an_accent_colour_that_is_not_a_hex_colour_stops_the_start(monkeypatch, value):
    monkeypatch.setenv("MFA_FLOW_ACCENT_COLOR", value)
    with pytest.raises(SystemExit, match="MFA_FLOW_ACCENT_COLOR must be a hex colour"):
        Settings.from_env()


def test_the_product_name_defaults_to_the_issuer(monkeypatch):
    monkeypatch.setenv("MFA_FLOW_ISSUER", "Acme")
    monkeypatch.delenv("MFA_FLOW_PRODUCT_NAME", raising=False)
    assert Settings.from_env().product_name == "Acme"


def test_the_assets_digest_changes_with_any_file(tmp_path):
    (tmp_path / "a.js").write_text("one")
    before = assets_digest(tmp_path)
    (tmp_path / "a.js").write_text("two")
    assert assets_digest(tmp_path) != before
