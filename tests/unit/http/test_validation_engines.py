"""The two JSON Schema engines behind request validation: jsonschema-rs answers for every
request whether its body is valid; the pure-Python jsonschema words what is wrong, and only
runs when the first refused. So a body the fast engine accepts must be one the Python engine
accepts too, for every schema a request is checked against (where the fast engine is the
stricter one, the Python engine still lets the body through: it has the last word)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, find, given, settings
from hypothesis import strategies as st

from mfa_flow import bootstrap
from mfa_flow.http.problems import Problem
from mfa_flow.http.validation import Schemas

SCHEMAS = Schemas(Path(__file__).resolve().parents[3] / "schemas", bootstrap.registry())
REQUEST_COMPONENTS = sorted(
    {*SCHEMAS.event_schemas, *(c for c in SCHEMAS.openapi["components"]["schemas"] if c.endswith("Event")),
     "CreateFlow", "MfaConfig", "NewUser", "UserPatch", "NewVerification", "NewWebhookEndpoint"}
    & {*SCHEMAS.event_schemas, *SCHEMAS.openapi["components"]["schemas"]}
)


def _words(node: Any) -> set[str]:
    """Every property name and enum or const value in a schema: what a body is made of."""
    found: set[str] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "properties" and isinstance(value, dict):
                found.update(value)
            if key in ("enum", "const"):
                found.update(v for v in (value if isinstance(value, list) else [value]) if isinstance(v, str))
            found |= _words(value)
    elif isinstance(node, list):
        for value in node:
            found |= _words(value)
    return found


WORDS = sorted(_words(SCHEMAS.openapi) | _words(SCHEMAS.event_schemas))
# The edges where two engines could read a rule differently: control characters and a trailing
# newline (regex dialects), long and empty text, integers past 64 bits, floats that are whole.
TEXT = st.one_of(
    st.sampled_from(WORDS),
    st.text(max_size=12),
    st.sampled_from(["", "123456", "abc\n", "\x00", "a\x7f", "\u0661\u0662\u0663\u0664\u0665\u0666", "x" * 300,
                     "user@example.com", "+14155550100", "whsec_abc", "2026-12-01T00:00:00Z", "3-4"]),
)
SCALARS = st.one_of(TEXT, st.booleans(), st.none(), st.integers(), st.integers(min_value=2**63, max_value=2**70),
                    st.sampled_from([0.0, 1.0, 1.5, -3.0, 1e300]))
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                      st.dictionaries(TEXT, inner, max_size=4)), max_leaves=12)


def _resolve(schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        node: Any = SCHEMAS.openapi
        for part in schema["$ref"].split("#/", 1)[1].split("/"):
            node = node[part]
        schema = node
    return schema


def shaped_like(schema: Any, depth: int = 0) -> st.SearchStrategy[Any]:
    """Bodies shaped by a schema, mostly valid, now and then a value of any kind in any place:
    the bodies near the line between valid and not, where two engines could disagree."""
    if not isinstance(schema, dict) or depth > 6:
        return VALUES
    schema = _resolve(schema)
    anything = SCALARS if depth else VALUES
    if "const" in schema:
        shaped: st.SearchStrategy[Any] = st.just(schema["const"])
    elif "enum" in schema:
        shaped = st.sampled_from(schema["enum"])
    elif "oneOf" in schema or "anyOf" in schema:
        shaped = st.one_of(*(shaped_like(s, depth + 1) for s in schema.get("oneOf", schema.get("anyOf"))))
    elif "properties" in schema:
        properties = schema["properties"]
        required = [k for k in schema.get("required", []) if k in properties]
        optional = [k for k in properties if k not in required]
        shaped = st.fixed_dictionaries(
            {k: shaped_like(properties[k], depth + 1) for k in required},
            optional={k: shaped_like(properties[k], depth + 1) for k in optional},
        )
    else:
        kinds = schema.get("type", [])
        kinds = [kinds] if isinstance(kinds, str) else kinds
        by_kind = {"string": TEXT, "integer": st.integers(-5, 10**6), "number": st.floats(allow_nan=False),
                   "boolean": st.booleans(), "null": st.none(),
                   "array": st.lists(shaped_like(schema.get("items"), depth + 1), max_size=4),
                   "object": st.dictionaries(TEXT, SCALARS, max_size=3)}
        shaped = st.one_of(*(by_kind[k] for k in kinds if k in by_kind)) if kinds else anything
    return st.one_of(shaped, shaped, shaped, anything)  # three in four shaped as the schema says


def bodies(component: str) -> st.SearchStrategy[Any]:
    return shaped_like(SCHEMAS._schema(component))


def test_every_request_schema_has_both_engines():
    assert len(REQUEST_COMPONENTS) > 20
    for component in REQUEST_COMPONENTS:
        assert SCHEMAS.fast_validator(component) is not None


@pytest.mark.parametrize("component", REQUEST_COMPONENTS)
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_a_body_the_fast_engine_accepts_the_python_engine_accepts(component, data):
    body = data.draw(bodies(component))
    if SCHEMAS.fast_validator(component).is_valid(body):
        assert SCHEMAS.validator(component).is_valid(body), (component, body)


@pytest.mark.parametrize("component", REQUEST_COMPONENTS)
def test_the_bodies_drawn_reach_both_sides_of_the_line(component):
    """Else the property above would hold for want of accepted bodies."""
    fast = SCHEMAS.fast_validator(component)
    budget = settings(max_examples=3000, database=None)
    find(bodies(component), fast.is_valid, settings=budget)
    find(bodies(component), lambda body: not fast.is_valid(body), settings=budget)


def test_a_refused_body_is_worded_by_the_python_engine():
    with pytest.raises(Problem) as refused:
        SCHEMAS.check("SubmitTotpEvent", {"type": "submit_totp", "code": 123456})
    assert "body.code: must be of type string" in str(refused.value.detail)


def test_where_only_the_fast_engine_refuses_the_body_passes():
    """Python's ``$`` also matches before a final newline; the Rust regex does not. The Python
    engine has the last word, so such a body is treated as it always was."""
    pattern = {"type": "string", "pattern": "^[a-z]+$"}
    import jsonschema
    import jsonschema_rs

    assert jsonschema.Draft202012Validator(pattern).is_valid("abc\n")
    assert not jsonschema_rs.Draft202012Validator(pattern).is_valid("abc\n")
