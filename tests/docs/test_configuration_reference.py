"""The configuration reference cannot drift from the settings code: the page is what
scripts/docs generate writes from mfa_flow/settings_catalogue.py and the defaults of Settings,
and the catalogue names every setting the package reads, and only those."""

from __future__ import annotations

import dataclasses
import importlib.util
import os
import re
from pathlib import Path
from unittest import mock

from mfa_flow.settings import Settings, data_dir_from_env
from mfa_flow.settings_catalogue import SETTINGS

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("docs_reference", ROOT / "scripts" / "docs_reference.py")
assert _spec and _spec.loader
docs_reference = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(docs_reference)

NAME = re.compile(r"\b(MFA_FLOW_[A-Z0-9_]*[A-Z0-9]|DATABASE_URL)\b")


def names_the_package_reads() -> set[str]:
    found: set[str] = set()
    for path in (ROOT / "mfa_flow").rglob("*.py"):
        if path.name != "settings_catalogue.py":
            found |= set(NAME.findall(path.read_text()))
    return found


def test_the_committed_page_is_what_the_settings_code_says():
    for path, text in docs_reference.pages().items():
        assert path.read_text() == text, f"{path.relative_to(ROOT)} is stale: run scripts/docs generate"


def test_every_setting_the_package_reads_is_documented_and_nothing_else():
    documented = [s.name for s in SETTINGS]
    assert len(documented) == len(set(documented))
    read = names_the_package_reads()
    assert read - set(documented) == set(), "add these to mfa_flow/settings_catalogue.py"
    assert set(documented) - read == set(), "the package no longer reads these"


def test_every_field_of_the_settings_is_set_by_a_documented_setting():
    fields = {f.name for f in dataclasses.fields(Settings)}
    documented = {s.field for s in SETTINGS if s.field}
    assert documented <= fields
    # workers and the rest of serve's command-line options are settings too; none is left out
    assert fields - documented == set(), "document these in mfa_flow/settings_catalogue.py"


def test_each_setting_is_described_with_its_default_and_what_it_allows():
    page = (ROOT / "docs" / "configuration.md").read_text()
    for setting in SETTINGS:
        assert setting.meaning.strip() and setting.allowed.strip(), setting.name
        assert f"### `{setting.name}`" in page


def test_the_defaults_in_words_are_the_code_s():
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MFA_FLOW_") and k != "DATABASE_URL"}
    with mock.patch.dict(os.environ, clean, clear=True):
        settings = Settings.from_env()
        assert data_dir_from_env() == Path("./.mfa-flow").resolve()
    assert settings.database_url is None and not settings.admin_key and not settings.secret_key
    assert settings.token_audience == settings.issuer and settings.product_name == settings.issuer
    assert settings.log_origin == f"{settings.issuer}/audit" and settings.trusted_proxies == ()
    assert settings.schemas_dir == ROOT / "schemas"
    by_name = {s.name: s for s in SETTINGS}
    assert f"`{settings.password_hash.setting}`" == by_name["MFA_FLOW_PASSWORD_HASH"].default
