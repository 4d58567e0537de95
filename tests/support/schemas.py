"""Responses are checked against the JSON Schemas the project publishes in schemas/."""

from __future__ import annotations

import json
from pathlib import Path

from jsonschema import Draft202012Validator, FormatChecker

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"


def _validator(name: str) -> Draft202012Validator:
    schema = json.loads((SCHEMAS / name).read_text())
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=FormatChecker())


_FLOW = _validator("flow.schema.json")
_TRANSITION = _validator("transition.schema.json")


def check_flow(body: dict) -> dict:
    _FLOW.validate(body)
    return body


def check_transition(row: dict) -> dict:
    _TRANSITION.validate(row)
    return row
