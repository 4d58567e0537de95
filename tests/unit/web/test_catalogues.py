"""The pages' message catalogues (issue 27, "Languages"): one per locale, the same keys and the
same placeholders in every one, and every key the pages ask for exists."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

from mfa_flow.http.oidc import UI_LOCALES
from mfa_flow.http.pages import negotiate

WEB = Path(__file__).resolve().parents[3] / "mfa_flow" / "web"
CATALOGUES = WEB / "i18n"
LOCALES = ("en", "de", "fr", "es", "ja", "ar")
PLURAL = re.compile(r"^(?P<base>.+)\.(?P<form>zero|one|two|few|many|other)$")
PLACEHOLDER = re.compile(r"\{(\w+)\}")


def load(code: str) -> dict[str, str]:
    return json.loads((CATALOGUES / f"{code}.json").read_text(encoding="utf-8"))


def shape(catalogue: dict[str, str]) -> dict[str, set[str]]:
    """Each message by its key (a plural's by its base key and its ``other`` form)."""
    shaped: dict[str, set[str]] = {}
    for key, text in catalogue.items():
        match = PLURAL.match(key)
        if match and match["form"] != "other":
            continue
        shaped[match["base"] if match else key] = set(PLACEHOLDER.findall(text))
    return shaped


def problems(code: str) -> list[str]:
    english, other = shape(load("en")), load(code)
    mine = shape(other)
    found = [f"{code}: missing key {key}" for key in english if key not in mine]
    found += [f"{code}: key {key} is not in en" for key in mine if key not in english]
    found += [f"{code}: {key} has placeholders {sorted(mine[key])}, en has {sorted(english[key])}"
              for key in english if key in mine and mine[key] != english[key]]
    for key, text in other.items():  # a plural's other forms may leave {count} out ("one attempt")
        match = PLURAL.match(key)
        if match and match["base"] in english and not set(PLACEHOLDER.findall(text)) <= english[match["base"]]:
            found.append(f"{code}: {key} has a placeholder en does not")
    return found


def test_there_are_six_locales_and_one_is_written_right_to_left():
    assert sorted(p.stem for p in CATALOGUES.glob("*.json")) == sorted(LOCALES)
    assert "ar" in LOCALES


@pytest.mark.parametrize("code", LOCALES[1:])
def test_every_locale_has_every_key_with_the_same_placeholders(code):
    assert problems(code) == []


def test_the_check_fails_on_a_missing_key_and_on_a_differing_placeholder(tmp_path, monkeypatch):
    broken = load("de")
    del broken["signin.username"]
    broken["signin.title"] = "Bei {produkt} anmelden"
    for code in LOCALES:
        (tmp_path / f"{code}.json").write_text(json.dumps(broken if code == "de" else load(code)), encoding="utf-8")
    monkeypatch.setattr(sys.modules[__name__], "CATALOGUES", tmp_path)
    assert problems("de") == ["de: missing key signin.username",
                              "de: signin.title has placeholders ['produkt'], en has ['product']"]


def test_every_key_the_pages_ask_for_is_in_the_english_catalogue():
    english = shape(load("en"))
    asked = set()
    for script in WEB.glob("*.js"):
        asked |= set(re.findall(r"""\b(?:t|tn|title)\(\s*"([a-z_.-]+)"\s*[,)]""", script.read_text(encoding="utf-8")))
    for page in WEB.glob("*.html"):  # the words shown before the script runs, filled in by the server
        asked |= set(re.findall(r"\{\{t:([\w.-]+)\}\}", page.read_text(encoding="utf-8")))
    # The keys the pages build: factor words, method words and the end states' words.
    asked |= {f"factor.{f}.{part}" for f in ("totp", "webauthn", "email_code", "sms_code", "backup_code")
              for part in ("name", "hint")}
    asked |= {f"method.{m}" for m in ("pwd", "otp", "hwk", "user", "sms", "tel")}
    asked |= {f"end.{s}_{part}" for s in ("failed", "expired", "cancelled") for part in ("title", "lead")}
    # (each problem type's words: test_problem_messages.py)
    assert len(asked) > 180
    assert sorted(asked - set(english)) == []


@pytest.mark.parametrize("header,expected", [
    (None, "en"), ("", "en"), ("de-DE,de;q=0.9,en;q=0.8", "de"), ("xx, ar;q=0.5", "ar"),
    ("fr;q=0.2, ja;q=0.9", "ja"), ("es;q=0", "en"), ("pt-BR", "en"), ("JA-jp", "ja"), ("de;q=abc, fr", "fr"),
])
def test_accept_language_picks_the_best_supported_locale(header, expected):
    assert negotiate(header, LOCALES, "en") == expected


def test_openid_connect_offers_the_catalogues_locales():
    assert sorted(UI_LOCALES) == sorted(LOCALES)
