"""Each factor owns its event schemas; the OpenAPI document's copies must equal them."""

from __future__ import annotations

from pathlib import Path

import yaml

from mfa_flow.app.handlers import factor_event, handlers, submit_proof
from mfa_flow.app.rules import Rules
from mfa_flow.domain.machine import SAME, FactorStates, Row, Step
from mfa_flow.factors.base import Factor, FactorContext, JsonObject, event_schema
from mfa_flow.factors.registry import FACTORS, Registry, default
from mfa_flow.settings import Settings

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


# --- a new factor is a package and a registry entry ------------------------------------------------

class EmailCode(Factor):
    """The shape the email_code factor will have: its states, a proof and a ``send_code`` event."""

    name = "email_code"
    amr = "otp"
    states = FactorStates(
        name="email_code", primary=True, proof_event="submit_email_code",
        setup_state="email_code_setup", verify_state="email_code_verify",
        rows=(Row("send_code", ("email_code_setup", "email_code_verify"), "code_sent", (SAME,)),),
        events=("send_code",),
    )
    schemas = {
        "SubmitEmailCodeEvent": event_schema("submit_email_code", {"code": {"type": "string"}}, ("code",)),
        "SendCodeEvent": event_schema("send_code", {}, ()),
    }

    async def handle_event(self, ctx: FactorContext, event: JsonObject) -> Step:
        return Step("send_code", "code_sent", ctx.flow.state)


def test_a_new_factor_brings_its_states_rows_events_and_handlers():
    registry = Registry((*FACTORS, EmailCode()))
    machine = registry.machine
    assert {"email_code_setup", "email_code_verify"} <= set(machine.states)
    assert {"submit_email_code", "send_code"} <= set(machine.client_events)
    assert machine.advance("email_code_verify", Step("send_code", "code_sent", "email_code_verify")) == "email_code_verify"
    assert machine.advance("email_code_setup", Step("submit_email_code", "proof_ok", "backup_codes")) == "backup_codes"
    assert "email_code_setup" in machine.after_first_factor
    table = handlers(Rules(Settings(database_url=None, data_dir=Path(".")), registry, None))  # type: ignore[arg-type]
    assert table["send_code"] is factor_event.handle and table["submit_email_code"] is submit_proof.handle
    assert "SendCodeEvent" in registry.event_schemas()
    # the build's own table is untouched
    assert "email_code_setup" not in default().machine.states


def test_the_documents_on_disk_list_this_builds_factors_states_and_events():
    """The service validates with, and serves, copies that follow the registry; the files on
    disk must say the same for this build (a new factor shows up here, not as a failure)."""
    import copy
    import json

    from mfa_flow.http.validation import follow_registry

    folder = OPENAPI.parent
    openapi = yaml.safe_load(OPENAPI.read_text())
    flow_schema = json.loads((folder / "flow.schema.json").read_text())
    expected_openapi, expected_flow = copy.deepcopy(openapi), copy.deepcopy(flow_schema)
    follow_registry(expected_openapi, expected_flow, default())
    assert openapi == expected_openapi
    assert flow_schema == expected_flow


def test_a_new_factor_is_validated_and_published_without_editing_the_documents():
    import json

    from mfa_flow.http.validation import follow_registry

    registry = Registry((*FACTORS, EmailCode()))
    openapi = yaml.safe_load(OPENAPI.read_text())
    flow_schema = json.loads((OPENAPI.parent / "flow.schema.json").read_text())
    follow_registry(openapi, flow_schema, registry)
    components = openapi["components"]["schemas"]
    assert "email_code" in components["MfaConfig"]["properties"]["factors"]["items"]["enum"]
    assert {"$ref": "#/components/schemas/SendCodeEvent"} in components["Event"]["oneOf"]
    assert "email_code_verify" in flow_schema["properties"]["state"]["enum"]


def test_every_event_that_can_complete_a_sign_in_may_ask_to_remember_the_device():
    registry = Registry((*FACTORS, EmailCode()))
    schemas = registry.event_schemas()
    completing = {"SubmitTotpEvent", "SubmitWebauthnEvent", "SubmitBackupCodeEvent", "AcknowledgeBackupCodesEvent",
                  "SubmitEmailCodeEvent"}
    for name, schema in schemas.items():
        assert ("remember_device" in schema["properties"]) == (name in completing), name
    assert schemas["SubmitEmailCodeEvent"]["properties"]["remember_device"]["type"] == "boolean"
    assert "remember_device" not in EmailCode.schemas["SubmitEmailCodeEvent"]["properties"]  # the factor's own is untouched
