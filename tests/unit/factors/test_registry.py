"""Each factor owns its event schemas (tests/docs/test_openapi_generated.py keeps the documents' copies equal)."""

from __future__ import annotations

from pathlib import Path

import yaml

from mfa_flow.app import handlers
from mfa_flow.app.handlers.factor_event import FactorEvent
from mfa_flow.app.handlers.submit_proof import SubmitProof
from mfa_flow.app.outcomes import Outcomes
from mfa_flow.domain.machine import SAME, FactorStates, Row, Step
from mfa_flow.factors.base import Factor, FactorContext, JsonObject, event_schema
from mfa_flow.factors.registry import FACTORS, Registry, default
from mfa_flow.settings import Settings

OPENAPI = Path(__file__).resolve().parents[3] / "schemas" / "openapi.yaml"


def test_every_factor_event_has_a_schema():
    registry = default()
    owned = set(registry.event_schemas())
    for factor in registry:
        for event in (factor.states.proof_event, *factor.states.events):
            assert "".join(p.capitalize() for p in event.split("_")) + "Event" in owned


# --- a new factor is a package and a registry entry ------------------------------------------------

class VoiceCode(Factor):
    """A factor this build does not have (a code read out by a phone call): its states, a proof and a ``call_again`` event."""

    name = "voice_code"
    amr = "otp"
    states = FactorStates(
        name="voice_code", primary=True, proof_event="submit_voice_code",
        setup_state="voice_code_setup", verify_state="voice_code_verify",
        rows=(Row("call_again", ("voice_code_setup", "voice_code_verify"), "call_placed", (SAME,)),),
        events=("call_again",),
    )
    schemas = {
        "SubmitVoiceCodeEvent": event_schema("submit_voice_code", {"code": {"type": "string"}}, ("code",)),
        "CallAgainEvent": event_schema("call_again", {}, ()),
    }

    async def handle_event(self, ctx: FactorContext, event: JsonObject) -> Step:
        return Step("call_again", "call_placed", ctx.flow.state)


def test_a_new_factor_brings_its_states_rows_events_and_handlers():
    registry = Registry((*FACTORS, VoiceCode()))
    machine = registry.machine
    assert {"voice_code_setup", "voice_code_verify"} <= set(machine.states)
    assert {"submit_voice_code", "call_again"} <= set(machine.client_events)
    assert machine.advance("voice_code_verify", Step("call_again", "call_placed", "voice_code_verify")) == "voice_code_verify"
    assert machine.advance("voice_code_setup", Step("submit_voice_code", "proof_ok", "backup_codes")) == "backup_codes"
    assert "voice_code_setup" in machine.after_first_factor
    table = handlers.table(registry, Outcomes(Settings(database_url=None, data_dir=Path(".")), registry,
                                              None))  # type: ignore[arg-type]
    assert isinstance(table.with_user["call_again"], FactorEvent)
    assert isinstance(table.with_user["submit_voice_code"], SubmitProof)
    assert "CallAgainEvent" in registry.event_schemas()
    # the build's own table is untouched
    assert "voice_code_setup" not in default().machine.states


def test_a_new_factor_is_validated_and_published_without_editing_the_documents():
    import json

    from mfa_flow.http.validation import follow_registry

    registry = Registry((*FACTORS, VoiceCode()))
    openapi = yaml.safe_load(OPENAPI.read_text())
    flow_schema = json.loads((OPENAPI.parent / "flow.schema.json").read_text())
    follow_registry(openapi, flow_schema, registry)
    components = openapi["components"]["schemas"]
    assert "voice_code" in components["MfaConfig"]["properties"]["factors"]["items"]["enum"]
    assert {"$ref": "#/components/schemas/CallAgainEvent"} in components["Event"]["oneOf"]
    assert "voice_code_verify" in flow_schema["properties"]["state"]["enum"]


def test_every_event_that_can_complete_a_sign_in_may_ask_to_remember_the_device():
    registry = Registry((*FACTORS, VoiceCode()))
    schemas = registry.event_schemas()
    # Every factor's proof (the new one's too), and the acknowledgement that ends a set-up.
    completing = {"".join(p.capitalize() for p in f.states.proof_event.split("_")) + "Event" for f in registry}
    assert {"SubmitTotpEvent", "SubmitVoiceCodeEvent"} <= completing
    completing.add("AcknowledgeBackupCodesEvent")
    for name, schema in schemas.items():
        assert ("remember_device" in schema["properties"]) == (name in completing), name
    assert schemas["SubmitVoiceCodeEvent"]["properties"]["remember_device"]["type"] == "boolean"
    assert "remember_device" not in VoiceCode.schemas["SubmitVoiceCodeEvent"]["properties"]  # the factor's own is untouched
