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
