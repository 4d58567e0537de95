"""Each factor owns its event schemas; the OpenAPI document's copies must equal them."""

from __future__ import annotations

from pathlib import Path

import yaml

from mfa_flow.factors.registry import default

OPENAPI = Path(__file__).resolve().parents[3] / "schemas" / "openapi.yaml"


def test_the_openapi_copies_of_factor_event_schemas_equal_the_factors():
    components = yaml.safe_load(OPENAPI.read_text())["components"]["schemas"]
    for name, schema in default().event_schemas().items():
        assert components[name] == schema, name


def test_every_factor_event_has_a_schema():
    registry = default()
    owned = set(registry.event_schemas())
    for factor in registry:
        for event in (factor.states.proof_event, *factor.states.events):
            assert "".join(p.capitalize() for p in event.split("_")) + "Event" in owned
