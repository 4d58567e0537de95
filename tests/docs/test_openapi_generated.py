"""schemas/openapi.yaml and schemas/flow.schema.json are what ``scripts/docs generate`` writes:
every part the factor registry decides comes from it (the factors' event schemas, the ``Event``
union, each list of factors, states and events), so a new factor changes them through the
command, never by hand; the rest is written by hand and kept as it is."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import yaml

from mfa_flow.factors.registry import FACTORS, Registry
from mfa_flow.http.validation import follow_registry
from tests.unit.factors.test_registry import VoiceCode

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("docs_reference", ROOT / "scripts" / "docs_reference.py")
assert _spec and _spec.loader
docs_reference = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(docs_reference)


def test_the_committed_documents_are_the_generated_ones():
    for path, text in docs_reference.schema_files().items():
        assert path.read_text() == text, f"{path.relative_to(ROOT)} is stale: run scripts/docs generate"


def test_generating_twice_changes_nothing():
    first = docs_reference.schema_files()
    again = docs_reference.schema_files(openapi=first[docs_reference.OPENAPI], flow=first[docs_reference.FLOW_SCHEMA])
    assert again == first


def test_a_new_factor_is_written_into_both_documents_by_the_command():
    registry = Registry((*FACTORS, VoiceCode()))
    written = docs_reference.schema_files(registry)
    openapi = yaml.safe_load(written[docs_reference.OPENAPI])
    flow = json.loads(written[docs_reference.FLOW_SCHEMA])
    # exactly what the service validates with and serves for that registry
    expected_openapi = yaml.safe_load(docs_reference.OPENAPI.read_text())
    expected_flow = json.loads(docs_reference.FLOW_SCHEMA.read_text())
    follow_registry(expected_openapi, expected_flow, registry)
    assert (openapi, flow) == (expected_openapi, expected_flow)
    components = openapi["components"]["schemas"]
    assert components["CallAgainEvent"] == registry.event_schemas()["CallAgainEvent"]
    assert "voice_code" in components["NewVerification"]["properties"]["type"]["enum"]
    assert "voice_code_verify" in flow["properties"]["state"]["enum"]
    # the hand-written rest is untouched, comments included
    assert written[docs_reference.OPENAPI].count("# --- webhooks ---") == docs_reference.OPENAPI.read_text().count("# --- webhooks ---") == 2

