"""The machine against its golden specification (machine_spec.yaml), and what must hold of it.

The specification is written by hand from the contract; here it is compared both ways with
what the machine really accepts, so a forged edge (skip from a verify state, a wrong code
leading to done, lock leading to done) or a lost one fails until the specification changes
too. The properties below are then checked on the edges the machine accepts.
"""

from __future__ import annotations

import itertools
from collections import deque
from functools import cache
from pathlib import Path

import pytest
import yaml

from mfa_flow.domain.machine import TERMINAL_STATES, IllegalTransition, Step
from mfa_flow.factors.registry import default

# The few names of the machine these tests rely on (a move of the module changes only these).
MACHINE = default().machine
TABLE = MACHINE.table
STATES, EVENTS = MACHINE.states, MACHINE.events
advance = MACHINE.advance

Edge = tuple[str, str, str, str]  # (from state, event, guard, to state)

SPEC_FILE = Path(__file__).with_name("machine_spec.yaml")


@cache
def spec() -> dict:
    return yaml.safe_load(SPEC_FILE.read_text())


@cache
def spec_edges() -> frozenset[Edge]:
    document = spec()
    edges = [tuple(row) for row in document["edges"]]
    for source, event, guard, destinations in document["fan_out"]:
        edges += [(source, event, guard, dest) for dest in destinations]
    for event, guard, dest in document["from_every_active_state"]:
        edges += [(source, event, guard, dest) for source in document["active_states"]]
    assert len(edges) == len(set(edges)), "machine_spec.yaml lists an edge twice"
    return frozenset(edges)


def table_edges() -> frozenset[Edge]:
    """The table's rows spelt out one edge each ("=" meaning the state it comes from)."""
    return frozenset(
        (source, event, guard, source if dest == "=" else dest)
        for event, sources, guard, destinations in TABLE
        for source in sources
        for dest in destinations
    )


def is_edge(edge: Edge) -> bool:
    source, event, guard, dest = edge
    try:
        return advance(source, Step(event, guard, dest)) == dest
    except IllegalTransition:
        return False


@cache
def accepted_edges() -> frozenset[Edge]:
    """Every (from, event, guard, to) over the known names that the machine takes."""
    names = spec_edges() | table_edges()
    states = sorted({e[0] for e in names} | {e[3] for e in names} | set(STATES))
    events = sorted({e[1] for e in names} | set(EVENTS))
    guards = sorted({e[2] for e in names})
    return frozenset(e for e in itertools.product(states, events, guards, states) if is_edge(e))


def describe(edges) -> str:
    return "\n".join(f"  {source} --{event} [{guard}]--> {dest}" for source, event, guard, dest in sorted(edges))


# --- The specification, both ways -----------------------------------------------------------


def test_every_edge_of_the_table_is_in_the_specification():
    extra = table_edges() - spec_edges()
    assert not extra, f"edges in the machine's table but not in machine_spec.yaml:\n{describe(extra)}"


def test_every_edge_of_the_specification_is_in_the_table():
    missing = spec_edges() - table_edges()
    assert not missing, f"edges in machine_spec.yaml but not in the machine's table:\n{describe(missing)}"


def test_the_machine_takes_exactly_the_specified_edges():
    """Not the table's data but the machine built from it: what ``advance`` accepts."""
    accepted = accepted_edges()
    assert accepted - spec_edges() == set(), f"the machine takes unspecified edges:\n{describe(accepted - spec_edges())}"
    assert spec_edges() - accepted == set(), f"the machine refuses specified edges:\n{describe(spec_edges() - accepted)}"


def test_the_states_are_the_specified_ones():
    document = spec()
    assert set(TERMINAL_STATES) == set(document["terminal_states"])
    assert set(STATES) == set(document["terminal_states"]) | set(document["active_states"])


def test_the_events_are_the_specified_ones():
    assert set(EVENTS) == {event for _, event, _, _ in spec_edges()}


# Edges a forger would want in the log; none is an edge (test_audit_forgeries.py replays each).
FORGED_EDGES = [
    ("totp_verify", "skip", "setup_skippable", "done"),
    ("webauthn_verify", "skip", "setup_skippable", "done"),
    ("backup_code_verify", "skip", "setup_skippable", "done"),
    ("totp_verify", "submit_totp", "proof_wrong", "done"),
    ("totp_setup", "submit_totp", "proof_wrong", "done"),
    ("backup_code_verify", "submit_backup_code", "proof_wrong", "done"),
    ("totp_verify", "lock", "attempts_exhausted", "done"),
    ("first_factor", "submit_password", "credentials_wrong", "done"),
    ("totp_verify", "submit_totp", "proof_ok", "backup_codes"),
    ("totp_verify", "submit_webauthn", "proof_ok", "done"),
    ("totp_verify", "submit_totp", "always", "done"),
    ("done", "cancel", "always", "cancelled"),
    # Account flows: no set-up before the step-up, no way from manage to done but finish,
    # and nothing that skips proofs.
    ("first_factor", "subject_token_presented", "recent_sign_in", "totp_setup"),
    ("first_factor", "subject_token_presented", "recent_sign_in", "done"),
    ("manage", "skip", "setup_skippable", "done"),
    ("manage", "remove_factor", "factor_of_user", "done"),
    ("manage", "add_factor", "factor_enabled", "backup_codes"),
    ("backup_codes", "finish", "always", "done"),
    ("totp_setup", "finish", "always", "done"),
    ("totp_verify", "submit_totp", "proof_wrong", "manage"),
    # ``transitions`` can add a ``to_<state>`` event to every state (auto transitions), with no
    # guard: a log naming one must not replay.
    ("totp_verify", "to_done", "always", "done"),
    ("first_factor", "to_done", "always", "done"),
]


def edge_id(edge: Edge) -> str:
    return "-".join(edge)


@pytest.mark.parametrize("forged", FORGED_EDGES, ids=edge_id)
def test_the_forgeries_an_attacker_would_want_are_not_edges(forged):
    assert forged not in spec_edges()
    assert not is_edge(forged)


# --- Properties of the machine --------------------------------------------------------------


def reachable(start: str, edges) -> set[str]:
    seen, queue = {start}, deque([start])
    while queue:
        state = queue.popleft()
        for source, _, _, dest in edges:
            if source == state and dest not in seen:
                seen.add(dest)
                queue.append(dest)
    return seen


ACTIVE_STATES = sorted(set(STATES) - set(TERMINAL_STATES))
SETUP_OR_VERIFY = sorted(s for s in STATES if s.endswith(("_setup", "_verify")))


@pytest.mark.parametrize("state", ACTIVE_STATES)
def test_every_active_state_can_reach_done_and_cancelled(state):
    assert {"done", "cancelled"} <= reachable(state, accepted_edges())


@pytest.mark.parametrize("state", ACTIVE_STATES)
def test_every_active_state_can_be_cancelled_expired_and_locked_at_once(state):
    out = {(event, dest) for source, event, _, dest in accepted_edges() if source == state}
    assert {("cancel", "cancelled"), ("expire", "expired"), ("lock", "failed")} <= out


def test_no_edge_leaves_a_terminal_state():
    leaving = {e for e in accepted_edges() if e[0] in TERMINAL_STATES}
    assert not leaving, describe(leaving)


def test_every_state_is_reachable_from_the_first_factor():
    assert reachable("first_factor", accepted_edges()) == set(STATES)


def test_skip_is_possible_only_where_a_factor_is_set_up():
    skips = {e for e in accepted_edges() if e[1] == "skip"}
    assert {source for source, *_ in skips} == {"factor_selection", "totp_setup", "webauthn_setup", "email_code_setup", "sms_code_setup"}
    assert {(guard, dest) for _, _, guard, dest in skips} == {("setup_skippable", "done")}


@pytest.mark.parametrize("state", SETUP_OR_VERIFY)
def test_done_is_reached_from_set_up_or_verify_only_through_a_proof_or_an_allowed_skip(state):
    """Take away every proven proof and every skip: done must then be out of reach."""
    unproven = {e for e in accepted_edges() if e[2] not in ("proof_ok", "setup_skippable")}
    assert "done" not in reachable(state, unproven)


# From a verify state the table alone does allow switch_factor -> factor_selection -> skip ->
# done: factor_selection serves both modes, and only the mode (from the first factor's rule)
# tells them apart. That the audit replay refuses such a path is a property of the verifier,
# tested in test_audit_forgeries.py.


def test_a_wrong_proof_never_moves_the_flow():
    wrong = {e for e in accepted_edges() if e[2] in ("proof_wrong", "credentials_wrong")}
    assert wrong and all(source == dest for source, _, _, dest in wrong)


def test_only_the_proof_event_of_a_state_s_own_factor_proves_it():
    proofs = {(source, event) for source, event, guard, _ in accepted_edges() if guard == "proof_ok"}
    assert proofs == {(state, MACHINE.proof_event[MACHINE.factor_of_state[state]]) for state in SETUP_OR_VERIFY}
