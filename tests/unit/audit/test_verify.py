"""The pure audit checks: chains, replay through the machine's table, signed checkpoints."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from functools import partial

from mfa_flow.audit import verify
from mfa_flow.audit.verify import (
    Checkpoint,
    FlowHead,
    format_cursor,
    next_running_hash,
    parse_cursor,
    row_hash,
)
from mfa_flow.domain import flow as domain_flow
from mfa_flow.domain import machine
from mfa_flow.domain.flow import Flow, iso
from mfa_flow.domain.machine import Step
from mfa_flow.factors.registry import default
from mfa_flow.tokens import new_signing_key, sign_checkpoint

MACHINE = default().machine
take = partial(domain_flow.take, MACHINE)
Verifier = partial(verify.Verifier, MACHINE)

T0 = datetime(2026, 11, 5, 12, 0, tzinfo=UTC)

SIGN_IN_WITH_TOTP = [
    Step("submit_password", "credentials_ok", "totp_verify", {"rule": "verify.only_factor", "policy": "ab12"}),
    Step("submit_totp", "proof_wrong", "totp_verify", {"factor": "totp"}),
    Step("submit_totp", "proof_ok", "done", {"rule": "done.verified", "factor": "totp"}),
]


def new_flow() -> Flow:
    return Flow(str(uuid.uuid4()), machine.FIRST_FACTOR, 0, None, None, T0, 5, {}, None, "", T0, T0)


def log_of(flows_steps: list[list[Step]]) -> tuple[list[dict], list[FlowHead]]:
    """Rows as the API hands them out (global order), and the flow rows they end in."""
    rows, heads, row_id = [], [], 0
    for n, steps in enumerate(flows_steps):
        flow = new_flow()
        for step in steps:
            row_id += 1
            row = take(flow, step, "user", T0 + timedelta(seconds=n, milliseconds=row_id))
            rows.append({**row.__dict__, "at": iso(row.at), "cursor": format_cursor((1000 + row_id, row_id))})
        heads.append(FlowHead(flow.id, flow.state, flow.version, flow.chain_head))
    return rows, heads


def verify(rows, heads=None, **kwargs):
    verifier = Verifier(**kwargs)
    for row in rows:
        verifier.feed(row)
    return verifier.finish(heads)


def test_a_log_written_through_the_machine_verifies():
    rows, heads = log_of([SIGN_IN_WITH_TOTP, SIGN_IN_WITH_TOTP[:1] + [Step("cancel", "always", "cancelled")]])
    report = verify(rows, heads)
    assert report.ok, report.summary()
    assert (report.rows, report.flows, report.flow_rows_compared) == (5, 2, 2)


def test_one_changed_byte_of_data_names_that_row():
    rows, heads = log_of([SIGN_IN_WITH_TOTP])
    rows[1]["data"]["factor"] = "totq"
    report = verify(rows, heads)
    assert not report.ok
    assert report.first.where.startswith(f"row {rows[1]['cursor']} ")
    assert "was changed" in report.first.problem


def test_a_deleted_row_names_the_row_after_the_gap():
    rows, heads = log_of([SIGN_IN_WITH_TOTP])
    del rows[1]
    report = verify(rows, heads)
    assert report.first.where.startswith(f"row {rows[1]['cursor']} ")
    assert "seq 3 follows seq 1" in report.first.problem


def test_a_deleted_last_row_shows_against_the_flow_row():
    rows, heads = log_of([SIGN_IN_WITH_TOTP])
    report = verify(rows[:-1], heads)
    assert report.first.where == f"flow {heads[0].id}"
    assert "row seq 3 and after are missing" in report.first.problem


def test_re_ordered_rows_are_found():
    rows, heads = log_of([SIGN_IN_WITH_TOTP])
    rows[0]["cursor"], rows[1]["cursor"] = rows[1]["cursor"], rows[0]["cursor"]
    rows[0], rows[1] = rows[1], rows[0]
    report = verify(rows, heads)
    assert report.first.where.startswith(f"row {rows[0]['cursor']} ")
    assert "seq 2 follows seq 0" in report.first.problem


def test_a_rewritten_chain_that_skips_the_machine_is_refused():
    """A forger who recomputes hashes still cannot log an edge that is not in the table."""
    flow = new_flow()
    row = take(flow, Step("submit_password", "credentials_wrong", "first_factor"), "user", T0)
    forged = {**row.__dict__, "to_state": "done", "at": iso(row.at), "cursor": "1-1"}
    forged["hash"] = row_hash(forged)
    assert "not an edge of the machine" in verify([forged]).first.problem


def test_a_secret_in_the_data_is_a_finding():
    rows, _ = log_of([[Step("submit_password", "credentials_wrong", "first_factor", {"password": "hunter2"})]])
    assert "must never be logged: password" in verify(rows).first.problem


def signed(key, cursor: str, rows: int, running: str, id_: int = 1) -> Checkpoint:
    fields = {"cursor": cursor, "rows": rows, "running_hash": running, "at": iso(T0)}
    return Checkpoint(id_, cursor, rows, running, iso(T0), key.kid, sign_checkpoint(key, "Ed25519", fields))


def running_over(rows) -> str:
    running = ""
    for row in rows:
        running = next_running_hash(running, row["hash"])
    return running


def test_checkpoints_hold_and_a_removed_tail_is_found():
    key = new_signing_key()
    rows, heads = log_of([SIGN_IN_WITH_TOTP, SIGN_IN_WITH_TOTP])
    checkpoint = signed(key, rows[3]["cursor"], 4, running_over(rows[:4]))
    good = verify(rows, heads, public_keys=[key.public_jwk], checkpoints=[checkpoint])
    assert good.ok and good.checkpoints == 1
    # The forger drops the last flow entirely (rows and flow row): only the checkpoint notices.
    cut = verify(rows[:3], heads[:1], public_keys=[key.public_jwk], checkpoints=[checkpoint])
    assert "before this checkpoint" in cut.first.problem


def test_a_checkpoint_signed_by_an_unknown_key_is_refused():
    rows, heads = log_of([SIGN_IN_WITH_TOTP])
    forged = signed(new_signing_key(), rows[-1]["cursor"], 3, running_over(rows))
    report = verify(rows, heads, public_keys=[new_signing_key().public_jwk], checkpoints=[forged])
    assert "signature does not verify" in report.first.problem


def test_a_checkpoint_whose_fields_differ_from_what_was_signed_is_refused():
    key = new_signing_key()
    rows, heads = log_of([SIGN_IN_WITH_TOTP])
    honest = signed(key, rows[-1]["cursor"], 3, running_over(rows))
    edited = Checkpoint(**{**honest.__dict__, "rows": 2})
    assert "signed fields differ" in verify(rows, heads, public_keys=[key.public_jwk], checkpoints=[edited]).first.problem


def test_cursors_order_as_pairs_of_integers():
    assert parse_cursor("0") == (0, 0)
    assert parse_cursor("9-10") < parse_cursor("10-2")
    assert format_cursor(parse_cursor("7421-1033")) == "7421-1033"


PASSKEY_THEN_TOTP = [
    Step("submit_passkey", "credentials_wrong", "first_factor", {"factor": "webauthn", "unknown_credential": True}),
    Step("submit_passkey", "credentials_ok", "factor_selection", {"rule": "verify.choose", "factor": "webauthn"}),
    Step("select_factor", "factor_offered", "totp_verify", {"factor": "totp"}),
    Step("submit_totp", "proof_ok", "done", {"rule": "done.verified", "factor": "totp"}),
]


def test_passkey_sign_ins_replay_and_the_passkey_is_never_their_second_step():
    rows, heads = log_of([PASSKEY_THEN_TOTP, [Step("submit_passkey", "credentials_ok", "done",
                                                    {"rule": "done.passkey_mfa", "factor": "webauthn"})]])
    report = verify(rows, heads)
    assert report.ok, report.summary()
    # Straight from a passkey to a passkey's verification is no edge of the table ...
    flow = new_flow()
    row = take(flow, Step("submit_passkey", "credentials_ok", "totp_verify"), "user", T0)
    forged = {**row.__dict__, "to_state": "webauthn_verify", "at": iso(row.at), "cursor": "1-1"}
    forged["hash"] = row_hash(forged)
    assert "not an edge of the machine" in verify([forged]).first.problem
    # ... and through the selection it is a finding of its own.
    steps = PASSKEY_THEN_TOTP[1:2] + [Step("select_factor", "factor_offered", "webauthn_verify", {"factor": "webauthn"})]
    rows, heads = log_of([steps])
    assert "cannot be its second step too" in verify(rows, heads).first.problem


def adaptive_first_step(rule: str, to_state: str, fired: list[dict]) -> Step:
    assessment = {"evaluated": ["new_country", "failure_burst"], "fired": fired, "missing": []}
    return Step("submit_password", "credentials_ok", to_state, {"rule": rule, "adaptive": assessment})


def test_honest_adaptive_decisions_verify():
    rows, heads = log_of([
        [adaptive_first_step("done.adaptive_no_risk", "done", [])],
        [adaptive_first_step("verify.adaptive", "totp_verify", [{"rule": "new_country", "days": 180}])],
    ])
    assert verify(rows, heads).ok


def test_a_forged_adaptive_decision_is_refused():
    """The hashes are right (the forger rewrote the chain), but the decision contradicts itself."""
    fired = [{"rule": "failure_burst", "failures": 7, "minutes": 15}]
    for steps, says in [
        ([adaptive_first_step("done.adaptive_no_risk", "done", fired)], "although the adaptive rule(s) failure_burst"),
        ([adaptive_first_step("verify.adaptive", "totp_verify", [])], "no adaptive rule fired"),
        ([Step("submit_password", "credentials_ok", "done", {"rule": "done.adaptive_no_risk"})], "without the adaptive"),
        ([adaptive_first_step("verify.adaptive", "totp_verify", [{"rule": "new_device"}])], "was not evaluated"),
        ([adaptive_first_step("done.adaptive_no_risk", "totp_verify", [])], "cannot lead to totp_verify"),
    ]:
        rows, heads = log_of([steps])
        report = verify(rows, heads)
        assert not report.ok and says in str(report.first), (says, str(report.first))
