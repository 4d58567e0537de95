"""The audit verifier against a forger who knows how the chain is built.

Every log below is well chained: seq runs 1, 2, 3, each prev_hash is the previous hash and each
hash is recomputed here from the contract (SHA-256 of prev_hash and the canonical JSON of the
row), independently of the service's code. The chain alone therefore proves nothing; the
verifier must still refuse each forgery and name the row or flow and the problem.
"""

from __future__ import annotations

import hashlib
import json
from collections import deque
from datetime import UTC, datetime, timedelta

import pytest

from mfa_flow.audit.verify import Checkpoint, FlowHead, Verifier, parse_cursor
from mfa_flow.tokens import new_signing_key, sign_checkpoint
from tests.unit.domain.test_machine_spec import FORGED_EDGES, MACHINE, edge_id, spec_edges

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
FLOW_A = "0b7f3c1e-0000-4000-8000-00000000000a"
FLOW_B = "0b7f3c1e-0000-4000-8000-00000000000b"

# One row of a flow: (from state, event, guard, to state) and optionally the rest of `data`.
Row = tuple


def canonical(value) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def chained(flow_id: str, rows: list[Row], first_cursor: int = 1) -> list[dict]:
    """The rows as a well-chained log of one flow, as the audit feed hands them out."""
    log, prev = [], ""
    for seq, (source, event, guard, dest, *extra) in enumerate(rows, start=1):
        body = {
            "flow_id": flow_id,
            "seq": seq,
            "event": event,
            "from_state": source,
            "to_state": dest,
            "at": (T0 + timedelta(seconds=seq)).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "actor": "user",
            "data": {"guard": guard, **(extra[0] if extra else {})},
        }
        digest = hashlib.sha256(prev.encode() + canonical(body)).hexdigest()
        cursor = first_cursor + seq - 1
        log.append({**body, "prev_hash": prev, "hash": digest, "cursor": f"{5000 + cursor}-{cursor}"})
        prev = digest
    return log


def head_of(log: list[dict]) -> FlowHead:
    """The flow row an honest service would have written after ``log``."""
    last = log[-1]
    return FlowHead(last["flow_id"], last["to_state"], last["seq"], last["hash"])


def verify(log: list[dict], heads: list[FlowHead] | None = None, **kwargs):
    verifier = Verifier(MACHINE, **kwargs)
    for row in log:
        verifier.feed(row)
    return verifier.finish(heads)


def rejected(log: list[dict], heads: list[FlowHead] | None = None, **kwargs):
    report = verify(log, heads if heads is not None else [head_of(log)], **kwargs)
    assert not report.ok, "the verifier accepted a forged log"
    return report.first


def row_where(row: dict) -> str:
    return f"row {row['cursor']} (flow {row['flow_id']} seq {row['seq']})"


PASSWORD_TO_TOTP = ("first_factor", "submit_password", "credentials_ok", "totp_verify", {"rule": "verify.only_factor"})
PASSWORD_TO_CHOICE = ("first_factor", "submit_password", "credentials_ok", "factor_selection", {"rule": "verify.choose"})
PASSWORD_TO_OFFER = ("first_factor", "submit_password", "credentials_ok", "factor_selection", {"rule": "setup.offered"})
PASSWORD_TO_REQUIRED = ("first_factor", "submit_password", "credentials_ok", "factor_selection", {"rule": "setup.required"})
TOTP_OK = ("totp_verify", "submit_totp", "proof_ok", "done", {"rule": "done.verified", "factor": "totp"})


# --- Honest logs pass (so that each refusal below is about the forgery) ---------------------


@pytest.mark.parametrize(
    "rows",
    [
        [PASSWORD_TO_TOTP, ("totp_verify", "submit_totp", "proof_wrong", "totp_verify"), TOTP_OK],
        [PASSWORD_TO_CHOICE, ("factor_selection", "select_factor", "factor_offered", "totp_verify"), TOTP_OK],
        [PASSWORD_TO_OFFER, ("factor_selection", "skip", "setup_skippable", "done", {"rule": "done.setup_skipped"})],
        [
            ("first_factor", "submit_password", "credentials_ok", "totp_setup", {"rule": "setup.offered"}),
            ("totp_setup", "switch_factor", "other_factor_available", "factor_selection"),
            ("factor_selection", "skip", "setup_skippable", "done"),
        ],
        [
            PASSWORD_TO_REQUIRED,
            ("factor_selection", "select_factor", "factor_offered", "webauthn_setup"),
            ("webauthn_setup", "submit_webauthn", "proof_ok", "backup_codes"),
            ("backup_codes", "acknowledge_backup_codes", "always", "done"),
        ],
        [("first_factor", "first_factor_asserted", "asserted_by_backend", "done", {"rule": "done.no_factor_enabled"})],
    ],
    ids=["verify", "choose-then-verify", "skip-offered-set-up", "skip-after-switch", "required-set-up", "no-factor"],
)
def test_an_honest_well_chained_log_verifies(rows):
    log = chained(FLOW_A, rows)
    report = verify(log, [head_of(log)])
    assert report.ok, report.summary()
    assert (report.rows, report.flows, report.flow_rows_compared) == (len(rows), 1, 1)


# --- Edges outside the machine --------------------------------------------------------------


# An honest way into each state a forged edge starts from.
HONEST_PREFIX = {
    "first_factor": [],
    "totp_verify": [PASSWORD_TO_TOTP],
    "totp_setup": [("first_factor", "submit_password", "credentials_ok", "totp_setup", {"rule": "setup.required"})],
    "webauthn_verify": [("first_factor", "submit_password", "credentials_ok", "webauthn_verify",
                         {"rule": "verify.only_factor"})],
    "backup_code_verify": [PASSWORD_TO_CHOICE, ("factor_selection", "select_factor", "factor_offered",
                                                "backup_code_verify")],
    "done": [PASSWORD_TO_TOTP, TOTP_OK],
    "manage": [("first_factor", "subject_token_presented", "recent_sign_in", "manage", {"rule": "manage.no_factor"})],
    "backup_codes": [("first_factor", "submit_password", "credentials_ok", "totp_setup", {"rule": "setup.required"}),
                     ("totp_setup", "submit_totp", "proof_ok", "backup_codes", {"rule": "setup.backup_codes"})],
}


@pytest.mark.parametrize("forged", FORGED_EDGES, ids=edge_id)
def test_an_edge_outside_the_table_is_refused_and_named(forged):
    log = chained(FLOW_A, HONEST_PREFIX[forged[0]] + [forged])
    finding = rejected(log)
    assert finding.where == row_where(log[-1])
    assert "not an edge of the machine" in finding.problem


def test_a_row_that_starts_where_the_replay_is_not_is_refused():
    log = chained(FLOW_A, [PASSWORD_TO_TOTP, ("webauthn_verify", "submit_webauthn", "proof_ok", "done")])
    finding = rejected(log)
    assert finding.where == row_where(log[1])
    assert finding.problem == "from_state webauthn_verify but the replay is in totp_verify"


def test_a_row_without_a_guard_is_refused():
    log = chained(FLOW_A, [PASSWORD_TO_TOTP])
    log[0]["data"] = {"rule": "verify.only_factor"}
    assert rejected(rechain(log)).problem == "data has no guard"


def rechain(log: list[dict]) -> list[dict]:
    """Recompute every hash of a one-flow log after its rows were edited, as a forger would."""
    prev, out = "", []
    for row in log:
        body = {k: row[k] for k in ("flow_id", "seq", "event", "from_state", "to_state", "at", "actor", "data")}
        digest = hashlib.sha256(prev.encode() + canonical(body)).hexdigest()
        out.append({**row, "prev_hash": prev, "hash": digest})
        prev = digest
    return out


# --- Skips and selections the policy did not allow ------------------------------------------
# The table has skip and select_factor from factor_selection in both modes; the replay knows
# the mode from the rule the first factor's row names.


@pytest.mark.parametrize(
    "rows",
    [
        [PASSWORD_TO_CHOICE, ("factor_selection", "skip", "setup_skippable", "done")],
        [PASSWORD_TO_TOTP, ("totp_verify", "switch_factor", "other_factor_available", "factor_selection"),
         ("factor_selection", "skip", "setup_skippable", "done")],
        [PASSWORD_TO_REQUIRED, ("factor_selection", "skip", "setup_skippable", "done")],
        [("first_factor", "submit_password", "credentials_ok", "totp_setup", {"rule": "setup.required"}),
         ("totp_setup", "skip", "setup_skippable", "done")],
        [("first_factor", "submit_password", "credentials_ok", "totp_setup"),
         ("totp_setup", "skip", "setup_skippable", "done")],
        [("first_factor", "submit_password", "credentials_ok", "totp_verify", {"rule": "setup.offered"}),
         ("totp_verify", "switch_factor", "other_factor_available", "factor_selection"),
         ("factor_selection", "skip", "setup_skippable", "done")],
    ],
    ids=["verify-choice", "after-switch-from-verify", "required-choice", "required-set-up", "no-rule",
         "offered-rule-on-a-verify-state"],
)
def test_a_skip_the_policy_did_not_allow_is_refused_and_named(rows):
    log = chained(FLOW_A, rows)
    finding = rejected(log)
    assert finding.where == row_where(log[-1])
    assert finding.problem.startswith("skip is allowed only in a set-up the policy lets the user skip")


def test_a_skip_while_verifying_says_so():
    log = chained(FLOW_A, [PASSWORD_TO_CHOICE, ("factor_selection", "skip", "setup_skippable", "done")])
    assert rejected(log).problem.endswith(": the flow is verifying a factor")


def test_a_skip_under_a_required_set_up_says_so():
    log = chained(FLOW_A, [PASSWORD_TO_REQUIRED, ("factor_selection", "skip", "setup_skippable", "done")])
    assert rejected(log).problem.endswith(": the policy did not offer a skip")


def test_selecting_a_set_up_while_verifying_is_refused():
    """Else: choose to verify, select a set-up instead, and skip it."""
    log = chained(FLOW_A, [PASSWORD_TO_CHOICE, ("factor_selection", "select_factor", "factor_offered", "totp_setup")])
    finding = rejected(log)
    assert finding.where == row_where(log[1])
    assert finding.problem == "select_factor in verify mode cannot lead to totp_setup"


def test_selecting_a_verify_state_during_set_up_is_refused():
    log = chained(FLOW_A, [PASSWORD_TO_REQUIRED, ("factor_selection", "select_factor", "factor_offered", "totp_verify")])
    assert rejected(log).problem == "select_factor in setup mode cannot lead to totp_verify"


def test_a_selection_after_an_unknown_rule_may_only_verify():
    rows = [("first_factor", "submit_password", "credentials_ok", "factor_selection", {"rule": "setup.whatever"}),
            ("factor_selection", "select_factor", "factor_offered", "totp_setup")]
    assert rejected(chained(FLOW_A, rows)).problem == "select_factor in verify mode cannot lead to totp_setup"


# --- Account flows: where the verify and set-up states lead depends on the flow's purpose -------

TOKEN_TO_MANAGE = ("first_factor", "subject_token_presented", "recent_sign_in", "manage", {"rule": "manage.no_factor"})
TOKEN_TO_STEP_UP = ("first_factor", "subject_token_presented", "recent_sign_in", "totp_verify",
                    {"rule": "verify.only_factor"})
ADMIN_TO_STEP_UP = ("first_factor", "first_factor_asserted", "asserted_by_backend", "totp_verify",
                    {"rule": "verify.only_factor", "purpose": "manage"})
STEP_UP_OK = ("totp_verify", "submit_totp", "proof_ok", "manage", {"rule": "manage.verified"})
ADD_TOTP = [("manage", "add_factor", "factor_enabled", "totp_setup"),
            ("totp_setup", "submit_totp", "proof_ok", "backup_codes", {"rule": "setup.backup_codes"}),
            ("backup_codes", "acknowledge_backup_codes", "always", "manage")]
FINISH = ("manage", "finish", "always", "done")


@pytest.mark.parametrize("rows", [
    [TOKEN_TO_MANAGE, *ADD_TOTP, ("manage", "set_mfa_enabled", "policy_allows", "manage", {"enabled": False}),
     ("manage", "revoke_trusted_devices", "always", "manage", {"revoked": 2}),
     ("manage", "remove_factor", "factor_of_user", "manage"), FINISH],
    [TOKEN_TO_STEP_UP, STEP_UP_OK, ("manage", "regenerate_backup_codes", "primary_factor_enrolled", "backup_codes"),
     ("backup_codes", "acknowledge_backup_codes", "always", "manage"), FINISH],
    [ADMIN_TO_STEP_UP, ("totp_verify", "switch_factor", "other_factor_available", "factor_selection"),
     ("factor_selection", "select_factor", "factor_offered", "backup_code_verify"),
     ("backup_code_verify", "submit_backup_code", "proof_ok", "manage"), ("manage", "cancel", "always", "cancelled")],
], ids=["no-factor", "step-up", "admin-step-up-by-backup-code"])
def test_an_honest_account_flow_verifies(rows):
    log = chained(FLOW_A, rows)
    assert verify(log, [head_of(log)]).ok


@pytest.mark.parametrize("rows, seq, problem", [
    ([PASSWORD_TO_TOTP, ("totp_verify", "submit_totp", "proof_ok", "manage")], 2,
     "only an account flow (purpose manage) can reach manage; this flow is a sign-in"),
    ([("first_factor", "first_factor_asserted", "asserted_by_backend", "manage", {"rule": "manage.no_factor"})], 1,
     "only an account flow (purpose manage) can reach manage; this flow is a sign-in"),
    ([TOKEN_TO_STEP_UP, ("totp_verify", "submit_totp", "proof_ok", "done")], 2,
     "an account flow ends in done only by finish, not by submit_totp"),
    ([TOKEN_TO_MANAGE, *ADD_TOTP[:2], ("backup_codes", "acknowledge_backup_codes", "always", "done")], 4,
     "an account flow ends in done only by finish, not by acknowledge_backup_codes"),
    ([("first_factor", "subject_token_presented", "recent_sign_in", "manage", {"rule": "verify.only_factor"})], 1,
     "rule 'verify.only_factor' of an account flow cannot lead to manage"),
    ([("first_factor", "subject_token_presented", "recent_sign_in", "totp_verify", {"rule": "manage.mfa_proven"})], 1,
     "rule 'manage.mfa_proven' of an account flow cannot lead to totp_verify"),
    ([("first_factor", "first_factor_asserted", "asserted_by_backend", "totp_setup",
       {"rule": "setup.required", "purpose": "manage"})], 1,
     "rule 'setup.required' of an account flow cannot lead to totp_setup"),
    ([TOKEN_TO_MANAGE, ADD_TOTP[0], ("totp_setup", "switch_factor", "other_factor_available", "factor_selection")], 3,
     "switch_factor is not offered while an account flow sets a factor up"),
    ([TOKEN_TO_MANAGE, ADD_TOTP[0], ("totp_setup", "skip", "setup_skippable", "done")], 3,
     "an account flow ends in done only by finish, not by skip"),
], ids=["sign-in-verify-to-manage", "sign-in-straight-to-manage", "step-up-to-done", "codes-to-done",
        "step-up-skipped", "needless-step-up", "account-flow-set-up-first", "switch-in-manage", "skip-in-manage"])
def test_an_account_flow_that_skips_its_step_up_or_ends_without_finish_is_refused(rows, seq, problem):
    log = chained(FLOW_A, rows)
    finding = rejected(log)
    assert finding.where == row_where(log[seq - 1])
    assert finding.problem == problem


FIRST_FACTOR_RULES = ["verify.only_factor", "verify.last_used", "verify.choose", "done.no_factor_enabled",
                      "done.already_prompted", "setup.offered", "setup.required", "setup.unknown",
                      "manage.no_factor", "manage.mfa_proven", None]


def accepted(rows: list[Row]) -> bool:
    log = chained(FLOW_A, rows)
    return verify(log, [head_of(log)]).ok


def test_no_log_the_verifier_accepts_reaches_done_from_set_up_or_verify_without_a_proof_or_allowed_skip():
    """Search every log (under each first-factor rule, for sign-ins and account flows alike)
    that the verifier accepts.

    A node is (state, the first factor's rule and purpose, whether the log has been in a set-up
    or verify state, whether it has taken a proof or a skip, whether it has been in manage);
    the rule fixes the flow's mode for the rest of the log. From a node, every edge of the
    machine's specification is tried as a next row and kept when the verifier accepts the log
    so far plus that row. A sign-in reaches done only through a proof or an allowed skip; an
    account flow (one that reached manage) signs nobody in and is done only by finish, and
    reaches manage through the step-up's proof unless its rule says it needs none.
    """
    edges = sorted(spec_edges())
    done_paths, skipped_under, managed = [], set(), []
    for rule in FIRST_FACTOR_RULES:
        for purpose in (None, "manage"):
            data = {**({"rule": rule} if rule else {}), **({"purpose": purpose} if purpose else {})}
            queue = deque([[(*edge, data)] for edge in edges if edge[0] == "first_factor" and edge[3] != "first_factor"])
            seen = set()
            while queue:
                path = queue.popleft()
                if not accepted(path):
                    continue
                state = path[-1][3]
                in_mfa = any(row[3] in MFA_STATES for row in path)
                vouched = any(row[2] in ("proof_ok", "setup_skippable") for row in path)
                account = any(row[3] == "manage" for row in path)
                if path[-1][1] == "skip":
                    skipped_under.add(rule)
                if state == "manage" and not any(row[3] == "manage" for row in path[:-1]):
                    managed.append((rule, path[-1][2] == "proof_ok" or len(path) == 1, [row[:4] for row in path]))
                if (state, rule, purpose, in_mfa, vouched, account) in seen:
                    continue
                seen.add((state, rule, purpose, in_mfa, vouched, account))
                if state == "done":
                    done_paths.append((in_mfa, vouched, account, [row[:4] for row in path]))
                queue.extend(path + [edge] for edge in edges if edge[0] == state)
    sign_ins = [(in_mfa, vouched, path) for in_mfa, vouched, account, path in done_paths if not account]
    assert any(in_mfa and vouched for in_mfa, vouched, _ in sign_ins), "the search found no sign-in at all"
    unvouched = [path for in_mfa, vouched, path in sign_ins if in_mfa and not vouched]
    assert not unvouched, f"done reached from set-up or verify without a proof or an allowed skip: {unvouched}"
    assert skipped_under == {"setup.offered"}, "a skip was accepted under a rule that does not offer one"
    account_ends = {path[-1][1] for _, _, account, path in done_paths if account}
    assert account_ends == {"finish"}, "an account flow was done by something else than finish"
    assert {rule for rule, _, _ in managed} >= {"manage.no_factor", "manage.mfa_proven", "verify.only_factor"}
    for rule, straight_or_proven, path in managed:
        direct = len(path) == 1
        assert direct == (rule in ("manage.no_factor", "manage.mfa_proven")), path
        assert straight_or_proven, f"manage reached without the step-up's proof: {path}"


MFA_STATES = {"factor_selection", "totp_setup", "webauthn_setup", "totp_verify", "webauthn_verify",
              "backup_code_verify", "backup_codes"}


# --- Secrets in data ------------------------------------------------------------------------

FORBIDDEN_FIELDS = ["password", "code", "codes", "secret", "token", "credential", "otpauth_uri"]


@pytest.mark.parametrize("field", FORBIDDEN_FIELDS)
def test_a_secret_in_data_is_refused_and_named(field):
    log = chained(FLOW_A, [PASSWORD_TO_TOTP, ("totp_verify", "submit_totp", "proof_wrong", "totp_verify", {field: "x"})])
    finding = rejected(log)
    assert finding.where == row_where(log[1])
    assert finding.problem == f"data holds a field that must never be logged: {field}"


@pytest.mark.parametrize("field", FORBIDDEN_FIELDS)
def test_a_secret_nested_deeper_in_data_is_refused_too(field):
    data = {"proof": {"facts": [{field.upper(): "x"}, {"verification_id": 7}]}, "factor": "totp"}
    log = chained(FLOW_A, [PASSWORD_TO_TOTP, ("totp_verify", "submit_totp", "proof_wrong", "totp_verify", data)])
    assert rejected(log).problem == f"data holds a field that must never be logged: {field}"


def test_every_leaked_field_of_a_row_is_named():
    data = {"secret": "s", "otpauth_uri": "otpauth://x", "factor": "totp"}
    log = chained(FLOW_A, [PASSWORD_TO_TOTP, ("totp_verify", "submit_totp", "proof_wrong", "totp_verify", data)])
    assert rejected(log).problem == "data holds a field that must never be logged: otpauth_uri, secret"


def test_harmless_fields_that_merely_resemble_secrets_pass():
    data = {"verification_id": 3, "factor": "totp", "rule": "done.verified", "code_sent": True}
    log = chained(FLOW_A, [PASSWORD_TO_TOTP, ("totp_verify", "submit_totp", "proof_ok", "done", data)])
    assert verify(log, [head_of(log)]).ok


# --- Signed checkpoints ---------------------------------------------------------------------


def signed_checkpoint(key, cursor: str, rows: int, running: str) -> Checkpoint:
    at = T0.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    fields = {"cursor": cursor, "rows": rows, "running_hash": running, "at": at}
    return Checkpoint(1, cursor, rows, running, at, key.kid, sign_checkpoint(key, "Ed25519", fields))


def running_hash(log: list[dict]) -> str:
    running = ""
    for row in log:
        running = hashlib.sha256((running + row["hash"]).encode()).hexdigest()
    return running


def test_a_rewritten_history_under_a_signed_checkpoint_with_the_same_row_count_is_refused():
    key = new_signing_key()
    honest = chained(FLOW_A, [PASSWORD_TO_TOTP, ("totp_verify", "submit_totp", "proof_wrong", "totp_verify"), TOTP_OK])
    checkpoint = signed_checkpoint(key, honest[-1]["cursor"], len(honest), running_hash(honest))
    assert verify(honest, [head_of(honest)], public_keys=[key.public_jwk], checkpoints=[checkpoint]).ok
    # The forger erases the wrong code: the same three rows, re-chained, all edges legal.
    forged = rechain([honest[0], {**honest[1], "data": {"guard": "proof_wrong", "factor": "totp"}}, honest[2]])
    assert verify(forged, [head_of(forged)]).ok, "without the checkpoint the rewrite is invisible"
    report = verify(forged, [head_of(forged)], public_keys=[key.public_jwk], checkpoints=[checkpoint])
    assert not report.ok and report.problems == 1
    assert report.first.where == f"checkpoint 1 at cursor {honest[-1]['cursor']}"
    assert report.first.problem == (
        "the log up to here (3 rows) does not match the signed running hash (3 rows):"
        " rows before it were removed, added or rewritten"
    )


def test_a_log_with_a_row_fewer_than_the_checkpoint_counts_is_refused():
    key = new_signing_key()
    honest = chained(FLOW_A, [PASSWORD_TO_TOTP, TOTP_OK])
    checkpoint = signed_checkpoint(key, honest[-1]["cursor"], 3, running_hash(honest))
    report = verify(honest, [head_of(honest)], public_keys=[key.public_jwk], checkpoints=[checkpoint])
    assert "(2 rows) does not match the signed running hash (3 rows)" in report.first.problem


def test_a_checkpoint_at_a_cursor_with_no_row_is_refused():
    key = new_signing_key()
    honest = chained(FLOW_A, [PASSWORD_TO_TOTP, TOTP_OK])
    between = f"{5000 + 1}-{1}0"  # after row 1, before row 2: a row was removed from there
    checkpoint = signed_checkpoint(key, between, 1, running_hash(honest[:1]))
    finding = verify(honest, [head_of(honest)], public_keys=[key.public_jwk], checkpoints=[checkpoint]).first
    assert finding.problem.startswith("no row at this cursor (the row before it is 5001-1)")


# --- Flow rows ------------------------------------------------------------------------------


def test_a_flow_with_log_rows_but_no_flow_row_is_refused_and_named():
    log_a = chained(FLOW_A, [PASSWORD_TO_TOTP, TOTP_OK])
    log_b = chained(FLOW_B, [PASSWORD_TO_TOTP], first_cursor=3)
    finding = rejected(log_a + log_b, [head_of(log_a)])
    assert (finding.where, finding.problem) == (f"flow {FLOW_B}", "has log rows but no flow row")


def test_a_flow_row_whose_state_differs_from_the_replay_is_refused_and_named():
    log = chained(FLOW_A, [PASSWORD_TO_TOTP])
    finding = rejected(log, [FlowHead(FLOW_A, "done", 1, log[-1]["hash"])])
    assert (finding.where, finding.problem) == (f"flow {FLOW_A}", "the flow row says done but the replay ends in totp_verify")


def test_a_flow_row_whose_chain_head_differs_from_the_replay_is_refused_and_named():
    log = chained(FLOW_A, [PASSWORD_TO_TOTP, TOTP_OK])
    finding = rejected(log, [FlowHead(FLOW_A, "done", 2, log[0]["hash"])])
    assert (finding.where, finding.problem) == (
        f"flow {FLOW_A}", "the flow row's chain head is not the hash of its last log row"
    )


def test_a_flow_row_ahead_of_its_log_is_refused_and_named():
    log = chained(FLOW_A, [PASSWORD_TO_TOTP, TOTP_OK])
    finding = rejected(log[:1], [head_of(log)])
    assert finding.problem == "the flow row is at version 2 but its log ends at seq 1: row seq 2 and after are missing"


def test_a_flow_row_behind_its_log_is_refused_and_named():
    log = chained(FLOW_A, [PASSWORD_TO_TOTP, TOTP_OK])
    finding = rejected(log, [head_of(log[:1])])
    assert finding.problem == "the flow row is at version 1 but its log ends at seq 2: rows were added"


def test_a_flow_row_with_no_log_at_all_is_refused():
    finding = rejected([], [FlowHead(FLOW_A, "totp_verify", 1, "ab" * 32)])
    assert finding.where == f"flow {FLOW_A}" and "row seq 1 and after are missing" in finding.problem


def test_a_flow_row_for_a_flow_not_yet_started_passes():
    assert verify([], [FlowHead(FLOW_A, "first_factor", 0, "")]).ok


def test_only_the_first_problem_of_a_flow_is_reported():
    """After a bad row the replay of that flow stops (its later rows cannot be judged)."""
    log = chained(FLOW_A, [PASSWORD_TO_TOTP, ("totp_verify", "skip", "setup_skippable", "done"),
                           ("done", "cancel", "always", "cancelled")])
    report = verify(log, [head_of(log)])
    assert report.problems == 1 and report.rows_not_checked == 1


# --- Cursors --------------------------------------------------------------------------------


def test_two_rows_at_the_same_cursor_are_refused_and_named():
    log_a = chained(FLOW_A, [PASSWORD_TO_TOTP])
    log_b = chained(FLOW_B, [PASSWORD_TO_TOTP])  # the same cursor as flow A's row
    finding = rejected(log_a + log_b, [head_of(log_a), head_of(log_b)])
    assert finding.where == row_where(log_b[0])
    assert finding.problem == f"out of the global order (after {log_a[0]['cursor']})"


def test_a_row_repeated_at_its_own_cursor_is_refused():
    log = chained(FLOW_A, [PASSWORD_TO_TOTP, TOTP_OK])
    report = verify(log + log[1:], [head_of(log)])
    assert report.first.where == row_where(log[1])
    assert report.first.problem.startswith("out of the global order")


MALFORMED_CURSORS = ["abc-5", "5", "-5", "5-", "5-abc", "1-2-3", " 5-5", "5 -5", "5-5 ", "+5-5", "5--5", "0x5-5",
                     "５-5", "5-1e3", "1234567890123456789-1", "-", "5_0-1"]


@pytest.mark.parametrize("text", MALFORMED_CURSORS)
def test_a_malformed_cursor_is_refused_and_named(text):
    log = chained(FLOW_A, [PASSWORD_TO_TOTP])
    log[0]["cursor"] = text
    finding = rejected(log)
    assert finding.where == f"row {text} (flow {FLOW_A} seq 1)"
    assert finding.problem.endswith("is not a cursor; cursors look like 7421-1033 (or 0 for the start)")


@pytest.mark.parametrize("text", MALFORMED_CURSORS)
def test_parse_cursor_refuses_malformed_text(text):
    with pytest.raises(ValueError, match="is not a cursor"):
        parse_cursor(text)


@pytest.mark.parametrize("text,cursor", [("0", (0, 0)), ("", (0, 0)), ("0-0", (0, 0)), ("7421-1033", (7421, 1033)),
                                         ("007-08", (7, 8)), ("123456789012345678-1", (123456789012345678, 1))])
def test_parse_cursor_reads_well_formed_text(text, cursor):
    assert parse_cursor(text) == cursor


def test_a_malformed_checkpoint_cursor_is_refused_and_named():
    key = new_signing_key()
    log = chained(FLOW_A, [PASSWORD_TO_TOTP])
    checkpoint = signed_checkpoint(key, "abc-5", 1, running_hash(log))
    finding = rejected(log, public_keys=[key.public_jwk], checkpoints=[checkpoint])
    assert finding.where == "checkpoint 1 at cursor abc-5" and "is not a cursor" in finding.problem


def test_a_row_at_the_start_cursor_is_out_of_order():
    log = chained(FLOW_A, [PASSWORD_TO_TOTP])
    log[0]["cursor"] = "0"
    assert rejected(log).problem == "out of the global order (after 0-0)"
