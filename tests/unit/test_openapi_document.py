"""The published OpenAPI document is valid OpenAPI 3.1, as written and as served."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import pytest
import yaml
from openapi_spec_validator import OpenAPIV31SpecValidator

from mfa_flow import bootstrap
from mfa_flow.http.validation import Schemas, declare_query_refusals

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"
OPENAPI = SCHEMAS / "openapi.yaml"


def written() -> dict[str, Any]:
    return yaml.safe_load(OPENAPI.read_text())


def served() -> dict[str, Any]:
    """What ``GET /openapi.json`` answers: the JSON Schema files inlined."""
    return Schemas(SCHEMAS, bootstrap.registry()).bundled()


@pytest.mark.parametrize("document", [written, served], ids=["openapi.yaml", "openapi.json"])
def test_the_document_is_valid_openapi_3_1(document):
    errors = [f"{'/'.join(map(str, e.path))}: {e.message}"
              for e in OpenAPIV31SpecValidator(document(), base_uri=OPENAPI.as_uri()).iter_errors()]
    assert errors == []


def _keys(node: Any, path: str = "") -> Iterator[tuple[str, str, Any]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield path, key, value
            yield from _keys(value, f"{path}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _keys(value, f"{path}/{index}")


def test_no_flow_style_comma_split_a_description_into_a_key():
    """``{description: a, b}`` in YAML is ``{"description": "a", "b": null}``: JSON Schema lets
    unknown keywords pass, so the validator cannot see these slips inside schemas."""
    slips = [f"{path}: {key!r}" for path, key, value in _keys(written())
             if value is None and key not in ("default", "const", "example")]
    assert slips == []


def test_every_operation_with_a_query_parameter_documents_the_400_it_may_answer():
    """A control character in any query parameter is a 400 (issue 21, defect 12): the served
    document declares it wherever a query parameter is declared."""
    schemas = Schemas(SCHEMAS, bootstrap.registry())
    document = declare_query_refusals(schemas.bundled(), schemas.query_parameters)  # as create_app serves it
    missing = [f"{method} {path}" for path, item in document["paths"].items() for method, operation in item.items()
               if isinstance(operation, dict) and method in ("get", "put", "post", "patch", "delete")
               and any(p.get("in") == "query" for p in [*item.get("parameters", []), *operation.get("parameters", [])]
                       if isinstance(p, dict))
               and "400" not in operation["responses"]]
    assert missing == []
