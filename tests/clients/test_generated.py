"""What the clients take from the service is up to date: both packages' types regenerate from
the served OpenAPI document to exactly the committed files, the Python client's version is the
service's, and the copy of the browser SDK the pages load is the package's source, byte for byte.
A failure names the file; ``.venv/bin/python clients/generate.py`` rewrites them."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def generate():
    spec = importlib.util.spec_from_file_location("clients_generate", ROOT / "clients" / "generate.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def expected(generate):
    return generate.expected_files()


def test_regenerating_the_clients_types_changes_nothing(generate, expected):
    generated = [generate.TYPESCRIPT_TYPES, generate.PYTHON_MODELS]
    stale = [str(p.relative_to(ROOT)) for p in generate.stale_files({p: expected[p] for p in generated})]
    assert stale == [], "regenerate with .venv/bin/python clients/generate.py"


def test_the_python_clients_version_is_the_services(generate, expected):
    assert generate.stale_files({generate.PYTHON_PROJECT: expected[generate.PYTHON_PROJECT]}) == []


def test_the_pages_load_the_sdks_own_modules_byte_for_byte(generate, expected):
    copies = {p: c for p, c in expected.items() if p.parent == generate.SERVED_SDK}
    assert {p.name for p in copies} == {p.name for p in (ROOT / "clients" / "js" / "src").glob("*.js")} - {"node.js"}
    stale = [str(p.relative_to(ROOT)) for p in generate.stale_files(copies) + generate.stray_copies(expected)]
    assert stale == [], "copy the SDK with .venv/bin/python clients/generate.py"
