"""The machine's table: every legal edge is taken, everything else is refused."""

from __future__ import annotations

import pytest

from mfa_flow.domain.machine import TERMINAL_STATES, IllegalTransition, Step
from mfa_flow.factors.registry import default

machine = default().machine  # the table as assembled from the factors of this build
MACHINE, TABLE, advance = machine, machine.table, machine.advance


def every_edge():
    for event, sources, guard, destinations in TABLE:
        for source in sources:
            for dest in destinations:
                yield source, Step(event, guard, source if dest == "=" else dest)


@pytest.mark.parametrize("source,step", list(every_edge()), ids=lambda v: getattr(v, "event", v))
def test_every_edge_of_the_table_can_be_taken(source, step):
    assert advance(source, step) == step.to_state


def test_no_flow_stays_attached_to_the_shared_machine():
    advance("first_factor", Step("cancel", "always", "cancelled"))
    with pytest.raises(IllegalTransition):
        advance("done", Step("cancel", "always", "cancelled"))
    assert MACHINE.models == []


@pytest.mark.parametrize("state", TERMINAL_STATES)
def test_terminal_states_have_no_way_out(state):
    assert machine.events_from(state) == set()
    for event in machine.events:
        with pytest.raises(IllegalTransition):
            advance(state, Step(event, "always", "done"))


def test_a_guard_that_does_not_belong_to_the_edge_is_refused():
    with pytest.raises(IllegalTransition, match="guard credentials_wrong cannot lead to totp_verify"):
        advance("first_factor", Step("submit_password", "credentials_wrong", "totp_verify"))


def test_a_destination_outside_the_table_is_refused():
    with pytest.raises(IllegalTransition):
        advance("totp_verify", Step("submit_totp", "proof_ok", "backup_codes"))  # only set-up leads there


def test_an_event_of_another_state_is_refused():
    with pytest.raises(IllegalTransition, match="submit_backup_code is not an event of state totp_verify"):
        advance("totp_verify", Step("submit_backup_code", "proof_ok", "done"))


def test_every_active_state_can_be_cancelled_expired_and_locked():
    for state in machine.active_states:
        assert {"cancel", "expire", "lock"} <= machine.events_from(state)


def test_a_wrong_proof_leaves_the_state_unchanged():
    for state in ("totp_setup", "totp_verify", "webauthn_setup", "webauthn_verify", "backup_code_verify"):
        event = machine.proof_event[machine.factor_of_state[state]]
        assert advance(state, Step(event, "proof_wrong", state)) == state


def test_only_the_set_up_states_of_factors_are_setting_up():
    machine = default().machine
    setting_up = {state for state in machine.states if machine.setting_up(state)}
    assert setting_up == set(machine.setup_state.values())
    assert "totp_setup" in setting_up and "totp_verify" not in setting_up and "backup_codes" not in setting_up


def test_only_a_primary_factor_s_set_up_leads_on_to_the_follow_up():
    """Rule 2 follows a *primary* set-up; a factor that needs another first, even one with a
    set-up state of its own, gets no edge from its set-up to the follow-up or to done."""
    from mfa_flow.domain.machine import FactorStates, FlowMachine

    primary = FactorStates("app", True, "submit_app", "app_setup", "app_verify")
    helper = FactorStates("helper", False, "submit_helper", "helper_setup", "helper_verify")
    built = FlowMachine([primary, helper])
    proofs_ok = {(source, dest) for source, event, guard, dest in built.edges() if guard == "proof_ok"}
    assert ("app_setup", "done") in proofs_ok
    assert not any(source == "helper_setup" for source, _ in proofs_ok)
