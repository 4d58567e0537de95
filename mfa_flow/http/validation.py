"""Request bodies are checked against JSON Schemas: the factors' own schemas for their events
(each factor package owns its payloads), ``schemas/openapi.yaml`` for the rest.

Two libraries read the same schemas. jsonschema-rs (compiled, about a hundred times faster)
answers "is this body valid?" for every request; the pure-Python jsonschema, whose errors carry
the path and rule we word into ``detail``, runs only for a body the first one refused. It has
the last word: a body is refused only when it finds an error too
(``tests/unit/http/test_validation_engines.py`` holds the two to the same verdicts).
The documents on disk describe this build for readers; where they list factors, states or
events, the copies the service validates with and serves follow the factor registry instead
(``follow_registry``), so a new factor needs no edit here. A test keeps the files equal to them."""

from __future__ import annotations

import asyncio
import copy
import json
import re
from pathlib import Path
from typing import Any, overload

import jsonschema_rs
import yaml
from aiohttp import web
from jsonschema import Draft202012Validator, ValidationError
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from .. import jsoncodec
from ..factors.base import Factor
from ..factors.registry import Registry as FactorRegistry
from ..numbers import whole_number
from .keys import SETTINGS
from .problems import Handler, Problem, invalid

_SCHEMA_FILES = {"Flow": "flow.schema.json", "Transition": "transition.schema.json"}


def _anchored(schema: Any, base: str) -> Any:
    """A factor's schema with its ``#/components/...`` references pointed at the OpenAPI document."""
    if isinstance(schema, dict):
        return {k: (base + v if k == "$ref" and isinstance(v, str) and v.startswith("#/") else _anchored(v, base))
                for k, v in schema.items()}
    if isinstance(schema, list):
        return [_anchored(v, base) for v in schema]
    return schema


def component_of(event: str) -> str:
    """The schema component of an event: ``submit_totp`` -> ``SubmitTotpEvent``."""
    return "".join(part.capitalize() for part in event.split("_")) + "Event"


def follow_registry(openapi: dict[str, Any], flow_schema: dict[str, Any], registry: FactorRegistry) -> None:
    """Make every list of factors, states and events in the documents the registry's."""
    machine = registry.machine
    names = list(machine.all_factors)
    components = openapi["components"]["schemas"]
    components["MfaConfig"]["properties"]["factors"]["items"]["enum"] = names
    user_mfa = components["User"]["properties"]["mfa"]["properties"]
    user_mfa["last_used"]["enum"] = [*machine.primary_factors, None]
    user_mfa["factors"]["items"]["enum"] = names
    components["NewVerification"]["properties"]["type"]["enum"] = names
    components["Verification"]["properties"]["type"]["enum"] = names
    components["CreatedVerification"]["properties"]["type"]["enum"] = [
        f.name for f in registry if type(f).add_by_admin is not Factor.add_by_admin
    ]
    components["SelectFactorEvent"]["properties"]["factor"]["enum"] = names
    components["AddFactorEvent"]["properties"]["factor"]["enum"] = names  # backup_code: a clear 422, not a 400
    components["Event"]["oneOf"] = [{"$ref": f"#/components/schemas/{component_of(e)}"} for e in machine.client_events]
    components.update(registry.event_schemas())
    flow = flow_schema["properties"]
    flow["state"]["enum"] = list(machine.states)
    flow["allowed_events"]["items"]["enum"] = list(machine.client_events)
    flow["factors"]["items"]["enum"] = names
    flow["preferred_factor"]["enum"] = [*names, None]


class Schemas:
    def __init__(self, folder: Path, registry: FactorRegistry) -> None:
        folder = folder.resolve()
        if not (folder / "openapi.yaml").exists():
            raise SystemExit(f"no openapi.yaml in {folder}; set MFA_FLOW_SCHEMAS_DIR to the project's schemas/ folder")
        self.openapi = yaml.safe_load((folder / "openapi.yaml").read_text())
        flow_schema = json.loads((folder / _SCHEMA_FILES["Flow"]).read_text())
        follow_registry(self.openapi, flow_schema, registry)
        self._base = (folder / "openapi.yaml").as_uri()
        resources = [(self._base, Resource.from_contents(self.openapi, default_specification=DRAFT202012))]
        self.files = {}
        for name, filename in _SCHEMA_FILES.items():
            contents = flow_schema if name == "Flow" else json.loads((folder / filename).read_text())
            self.files[name] = contents
            resources.append(((folder / filename).as_uri(), Resource.from_contents(contents)))
        self.registry = Registry().with_resources(resources)
        self._fast_registry = jsonschema_rs.Registry([(uri, resource.contents) for uri, resource in resources])
        self.event_schemas = registry.event_schemas()
        self.client_events = registry.machine.client_events
        # Every validator is built once, here, so that no request pays for one.
        self._validators: dict[str, Draft202012Validator] = {}
        self._fast: dict[str, Any] = {}
        for component in [*self.openapi["components"]["schemas"], *self.event_schemas]:
            self.validator(component)
        self.query_parameters = _query_parameters(self.openapi)

    def _schema(self, component: str) -> dict[str, Any]:
        if component in self.event_schemas:  # the factor's own schema
            return _anchored(self.event_schemas[component], self._base)  # type: ignore[no-any-return]
        return {"$ref": f"{self._base}#/components/schemas/{component}"}

    def validator(self, component: str) -> Draft202012Validator:
        """The validator that explains what is wrong (jsonschema)."""
        if component not in self._validators:
            schema = self._schema(component)
            self._validators[component] = Draft202012Validator(schema, registry=self.registry)
            self._fast[component] = jsonschema_rs.Draft202012Validator(schema, registry=self._fast_registry)
        return self._validators[component]

    def fast_validator(self, component: str) -> Any:
        """The validator that only says whether a body is valid (jsonschema-rs)."""
        self.validator(component)
        return self._fast[component]

    def check(self, component: str, instance: Any) -> None:
        if not jsoncodec.encodable(instance):
            raise invalid("the body holds text that is not valid Unicode (an unpaired surrogate escape)")
        if self.fast_validator(component).is_valid(instance):
            return
        errors = sorted(self.validator(component).iter_errors(instance), key=lambda e: (len(e.path), e.message))
        if errors:
            error = errors[0]
            where = "".join(f"[{p!r}]" if isinstance(p, int) else f".{p}" for p in error.path)
            raise invalid(f"body{where}: {_without_value(error)}")

    def bundled(self) -> dict[str, Any]:
        """The OpenAPI document as one JSON object, the schema files inlined as components."""
        document: dict[str, Any] = copy.deepcopy(self.openapi)
        for name, contents in self.files.items():
            schema = {k: v for k, v in contents.items() if k != "$schema"}
            document["components"]["schemas"][name] = schema
        return document


SCHEMAS = web.AppKey("schemas", Schemas)


def _query_parameters(openapi: dict[str, Any]) -> dict[tuple[str, str], frozenset[str]]:
    """The query parameters each operation declares, by (METHOD, path template)."""
    shared = openapi.get("components", {}).get("parameters", {})

    def names(parameters: list[dict[str, Any]]) -> set[str]:
        found = set()
        for parameter in parameters:
            if "$ref" in parameter:
                parameter = shared[parameter["$ref"].rsplit("/", 1)[-1]]
            if parameter.get("in") == "query":
                found.add(parameter["name"])
        return found

    declared = {}
    for path, item in openapi.get("paths", {}).items():
        common = names(item.get("parameters", []))
        for method, operation in item.items():
            if isinstance(operation, dict) and method in ("get", "put", "post", "patch", "delete"):
                declared[(method.upper(), path)] = frozenset(common | names(operation.get("parameters", [])))
    return declared


def declare_query_refusals(document: dict[str, Any], declared: dict[tuple[str, str], frozenset[str]]) -> dict[str, Any]:
    """The served document (``GET /openapi.json``): every operation with a query parameter may
    answer 400 (``query_middleware``), and says so, including one whose author did not write
    it. Not in ``bundled()``, which the clients' types are generated from."""
    for (method, path), names in declared.items():
        responses = document["paths"][path][method.lower()].setdefault("responses", {})
        if names and "400" not in responses:
            responses["400"] = {"$ref": "#/components/responses/Problem"}
    return document


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@web.middleware
async def query_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every query parameter of the API is checked like a body field before a handler reads it:
    no control characters in its name or value (PostgreSQL's text cannot hold NUL, and no
    parameter has a use for the others), and a parameter the operation declares given at most
    once. The problem names the parameter, never repeats its value. The handlers then check
    each value's own form (a whole number, a cursor, a state)."""
    if request.query_string and request.path.startswith("/api/"):
        resource = request.match_info.route.resource
        declared = request.app[SCHEMAS].query_parameters.get(
            (request.method, resource.canonical if resource is not None else ""), frozenset())
        for name in dict.fromkeys(request.query):
            if _CONTROL.search(name):
                raise invalid("a query parameter's name holds control characters")
            values = request.query.getall(name)
            if any(_CONTROL.search(value) for value in values):
                raise invalid(f"query.{name}: must not contain control characters", parameter=name)
            if name in declared and len(values) > 1:
                raise invalid(f"query.{name}: must be given once, not {len(values)} times", parameter=name)
    return await handler(request)


def _without_value(error: ValidationError) -> str:
    """What is wrong, in words that never repeat the value sent: it may be a password or a code."""
    rule, limit = error.validator, error.validator_value
    if rule in ("required", "additionalProperties", "dependentRequired"):
        return str(error.message)  # names fields, not values
    if rule == "type":
        return f"must be of type {limit if isinstance(limit, str) else ' or '.join(limit)}"
    if rule == "enum":
        return "must be one of: " + ", ".join("null" if v is None else str(v) for v in limit)
    if rule == "const":
        return f"must be {limit!r}"
    if rule in ("minLength", "maxLength"):
        return f"must be {'at least' if rule == 'minLength' else 'at most'} {limit} characters long"
    if rule in ("minItems", "maxItems"):
        return f"must have {'at least' if rule == 'minItems' else 'at most'} {limit} items"
    if rule in ("minimum", "maximum"):
        return f"must be {'at least' if rule == 'minimum' else 'at most'} {limit}"
    if rule == "pattern":
        return "has characters that are not allowed here (control characters, or the wrong format)"
    if rule == "uniqueItems":
        return "must not repeat an item"
    return f"is not valid here ({rule})"


async def read_json(request: web.Request, component: str, optional: bool = False) -> dict[str, Any]:
    """The request body as JSON, valid against ``component``, or a 400/415 problem."""
    body = await read_json_object(request, optional)
    if body is None:
        return {}
    request.app[SCHEMAS].check(component, body)
    return body


async def read_json_object(request: web.Request, optional: bool = False) -> dict[str, Any] | None:
    """The request body as a JSON object (not yet checked against a schema), None when an
    optional body is absent, or a 400/415 problem."""
    timeout = request.app[SETTINGS].body_timeout
    try:
        # aiohttp enforces client_max_size (413) but waits for a slow body for ever: a client
        # trickling bytes would hold a connection and a handler as long as it liked.
        async with asyncio.timeout(timeout):  # no task of its own, as wait_for would make
            raw = await request.read()
    except TimeoutError:
        raise Problem(408, "request-timeout", "Request timeout",
                      f"the request body did not arrive within {timeout:g} s (MFA_FLOW_BODY_TIMEOUT)") from None
    if not raw.strip():
        if optional:
            return None
        raise invalid("the request needs a JSON body")
    if request.content_type not in ("application/json", "application/octet-stream", ""):
        if not request.content_type.endswith("+json"):
            raise Problem(415, "unsupported-media-type", "Unsupported media type", "send the body as application/json")
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise invalid(f"the body is not valid JSON: {exc}") from None
    except RecursionError:
        raise invalid("the body is nested too deeply") from None
    if not isinstance(body, dict):
        raise invalid("the body must be a JSON object")
    return body


@overload
def query_int(request: web.Request, name: str, default: int, low: int, high: int) -> int: ...
@overload
def query_int(request: web.Request, name: str, default: None, low: int, high: int) -> int | None: ...
def query_int(request: web.Request, name: str, default: int | None, low: int, high: int) -> int | None:
    """A whole-number query parameter within [low, high], its default when absent, else a 400."""
    raw = request.query.get(name)
    if raw is None:
        return default
    value = whole_number(raw)
    if value is None or not low <= value <= high:
        raise invalid(f"{name} must be a whole number from {low} to {high}")
    return value


def event_component(body: dict[str, Any], client_events: tuple[str, ...]) -> str:
    """The schema of one event, chosen by its type (so errors name the right fields)."""
    kind = body.get("type")
    if not isinstance(kind, str):
        raise invalid("body.type: the event needs a 'type' string, one of: " + ", ".join(client_events))
    if kind not in client_events:
        raise invalid(f"body.type: unknown event {kind!r}; expected one of: {', '.join(client_events)}")
    return component_of(kind)
