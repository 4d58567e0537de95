"""The verifier's bookkeeping: checkpoints in any order, a purged prefix, counts and the report."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta, timezone

from mfa_flow.audit.verify import Checkpoint, Finding, FlowHead, Report, Verifier, row_hash
from mfa_flow.tokens import new_signing_key
from tests.unit.audit.test_forgeries import (
    FLOW_A,
    FLOW_B,
    PASSWORD_TO_TOTP,
    TOTP_OK,
    chained,
    head_of,
    running_hash,
    signed_checkpoint,
    verify,
)
from tests.unit.domain.test_machine_spec import MACHINE

KEY = new_signing_key()
KEYS = [KEY.public_jwk]


def two_flows() -> list[dict]:
    return chained(FLOW_A, [PASSWORD_TO_TOTP, TOTP_OK]) + chained(FLOW_B, [PASSWORD_TO_TOTP, TOTP_OK], first_cursor=3)


def checkpoint_after(log: list[dict], n: int, id_: int = 1) -> Checkpoint:
    honest = signed_checkpoint(KEY, log[n - 1]["cursor"], n, running_hash(log[:n]))
    return Checkpoint(**{**honest.__dict__, "id": id_})


def heads(log: list[dict]) -> list[FlowHead]:
    return [head_of([r for r in log if r["flow_id"] == flow]) for flow in dict.fromkeys(r["flow_id"] for r in log)]


def test_several_checkpoints_given_in_any_order_are_each_compared_at_their_cursor():
    log = two_flows()
    checkpoints = [checkpoint_after(log, 4, 3), checkpoint_after(log, 1, 1), checkpoint_after(log, 3, 2)]
    report = verify(log, heads(log), public_keys=KEYS, checkpoints=checkpoints)
    assert report.ok, report.summary()
    assert (report.checkpoints, report.checkpoints_unchecked) == (3, 0)


def test_a_checkpoint_added_after_the_feed_passed_it_is_counted_unchecked():
    log = two_flows()
    verifier = Verifier(MACHINE, public_keys=KEYS)
    for row in log[:3]:
        verifier.feed(row)
    verifier.add_checkpoint(checkpoint_after(log, 1))
    verifier.add_checkpoint(checkpoint_after(log, 3, 2))
    verifier.add_checkpoint(checkpoint_after(log, 4, 3))
    verifier.feed(log[3])
    report = verifier.finish(heads(log))
    assert report.ok, report.summary()
    assert (report.checkpoints, report.checkpoints_unchecked) == (1, 2)


def test_without_published_keys_the_signature_is_not_checked_but_the_hash_is():
    log = two_flows()
    unsigned = Checkpoint(**{**checkpoint_after(log, 2).__dict__, "signature": "not.a.signature"})
    assert verify(log, heads(log), checkpoints=[unsigned]).checkpoints == 1
    wrong = Checkpoint(**{**unsigned.__dict__, "running_hash": "00" * 32})
    assert "does not match the signed running hash" in verify(log, heads(log), checkpoints=[wrong]).first.problem


def test_a_checkpoint_signed_with_another_key_id_is_refused_and_named():
    log = two_flows()
    honest = checkpoint_after(log, 2)
    relabelled = Checkpoint(**{**honest.__dict__, "kid": "another-key"})
    report = verify(log, heads(log), public_keys=KEYS, checkpoints=[relabelled])
    assert (report.first.where, report.first.problem) == (
        f"checkpoint 1 at cursor {honest.cursor}", "the signed fields differ from the checkpoint's fields"
    )
    assert report.checkpoints == 0 and report.problems == 1


def test_a_checkpoint_whose_signature_does_not_verify_is_named():
    log = two_flows()
    honest = checkpoint_after(log, 2)
    forged = Checkpoint(**{**honest.__dict__, "signature": signed_checkpoint(new_signing_key(), honest.cursor, 2,
                                                                                honest.running_hash).signature})
    finding = verify(log, heads(log), public_keys=KEYS, checkpoints=[forged]).first
    assert finding.where == f"checkpoint 1 at cursor {honest.cursor}"
    assert finding.problem.startswith("the signature does not verify with the published keys (")


def test_a_checkpoint_at_a_cursor_with_no_row_names_the_checkpoint():
    log = two_flows()
    between = "5001-15"
    checkpoint = signed_checkpoint(KEY, between, 1, running_hash(log[:1]))
    report = verify(log, heads(log), public_keys=KEYS, checkpoints=[checkpoint])
    assert report.first.where == f"checkpoint 1 at cursor {between}"
    assert report.first.problem == "no row at this cursor (the row before it is 5001-1): rows were removed"


def test_a_checkpoint_past_the_end_of_the_log_names_the_last_row():
    log = two_flows()
    checkpoint = checkpoint_after(log, 4)
    report = verify(log[:2], heads(log[:2]), public_keys=KEYS, checkpoints=[checkpoint])
    assert report.first.where == f"checkpoint 1 at cursor {log[3]['cursor']}"
    assert report.first.problem == (
        "the log ends at 5002-2, before this checkpoint: rows at the end were removed"
    )


class TestAPurgedPrefix:
    """After a purge the log starts later; the purge's checkpoint is where the running hash resumes."""

    def test_the_running_hash_resumes_from_the_base_checkpoint(self):
        log = two_flows()
        base = checkpoint_after(log, 2)
        later = checkpoint_after(log, 4, 2)
        report = verify(log[2:], heads(log[2:]), public_keys=KEYS, checkpoints=[base, later], base=base)
        assert report.ok, report.summary()
        assert (report.checkpoints, report.checkpoints_unchecked) == (1, 1)

    def test_rows_at_or_before_the_base_do_not_count_again(self):
        log = two_flows()
        base = checkpoint_after(log, 2)
        later = checkpoint_after(log, 4, 2)
        report = verify(log, heads(log), public_keys=KEYS, checkpoints=[later], base=base)
        assert report.ok, report.summary()
        assert report.checkpoints == 1

    def test_a_base_at_the_first_row_is_respected(self):
        log = two_flows()
        base = checkpoint_after(log, 1)
        later = checkpoint_after(log, 4, 2)
        report = verify(log[1:], None, public_keys=KEYS, checkpoints=[later], base=base)
        assert report.checkpoints == 1
        assert [f.problem for f in report.findings] == [
            "seq 2 follows seq 0 in this flow: a row is missing or rows were re-ordered"
        ]

    def test_checkpoints_at_or_before_the_base_are_counted_unchecked(self):
        log = two_flows()
        base = checkpoint_after(log, 2)
        report = verify(log[2:], heads(log[2:]), public_keys=KEYS,
                        checkpoints=[checkpoint_after(log, 1), base], base=base)
        assert report.ok and (report.checkpoints, report.checkpoints_unchecked) == (0, 2)


def test_every_problem_is_counted_and_the_first_ones_kept():
    flows = [f"0b7f3c1e-0000-4000-8000-{n:012d}" for n in range(4)]
    log = [row for n, flow in enumerate(flows) for row in chained(flow, [PASSWORD_TO_TOTP], first_cursor=n + 1)]
    for row in log:
        row["data"]["rule"] = "changed"  # every row's hash is now wrong
    report = verify(log, None, keep=2)
    assert report.problems == 4 and len(report.findings) == 2
    assert [f.where for f in report.findings] == [f"row {r['cursor']} (flow {r['flow_id']} seq 1)" for r in log[:2]]


def test_the_rows_of_a_flow_after_its_first_bad_row_are_counted_as_not_checked():
    log = chained(FLOW_A, [PASSWORD_TO_TOTP, ("totp_verify", "submit_totp", "proof_wrong", "totp_verify"),
                           ("totp_verify", "submit_totp", "proof_wrong", "totp_verify"), TOTP_OK])
    log[0]["actor"] = "admin"
    report = verify(log, [head_of(log)])
    assert (report.problems, report.rows, report.rows_not_checked) == (1, 4, 3)


def test_the_hash_of_a_row_read_from_the_database_with_a_datetime_is_the_same():
    [row] = chained(FLOW_A, [PASSWORD_TO_TOTP])
    at = datetime.strptime(row["at"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    assert row_hash({**row, "at": at}) == row["hash"]
    assert row_hash({**row, "at": at.astimezone(timezone(timedelta(hours=-5)))}) == row["hash"]


def test_a_checkpoint_round_trips_through_json():
    checkpoint = checkpoint_after(two_flows(), 2, 7)
    as_json = checkpoint.as_json()
    assert list(as_json) == ["id", "cursor", "rows", "running_hash", "at", "kid", "signature"]
    assert as_json["id"] == 7 and as_json["rows"] == 2 and as_json["kid"] == KEY.kid
    assert Checkpoint.from_json({**as_json, "extra": 1}) == checkpoint


class TestTheSummary:
    def test_a_clean_run_says_what_was_checked(self):
        log = two_flows()
        report = verify(log, heads(log), public_keys=KEYS, checkpoints=[checkpoint_after(log, 4)])
        report.seconds = 0.5
        assert report.summary().splitlines() == [
            "rows checked: 4 in 0.50 s (8 rows/s)",
            "flows replayed: 2; flow rows compared: 2",
            "checkpoints verified: 1",
            "OK: every chain holds, every row is an edge of the machine, every checkpoint matches",
        ]

    def test_a_failed_run_names_the_first_problem_and_up_to_ten_more(self):
        report = Report(rows=1000, seconds=0.0, checkpoints=2, checkpoints_unchecked=1, flows=3)
        report.notes.append("flow rows not given: final states and versions not compared")
        report.findings = [Finding(f"row {n}", "broken") for n in range(12)]
        report.problems = 12
        assert report.summary().splitlines() == [
            "rows checked: 1000 in 0.00 s (0 rows/s)",
            "flows replayed: 3; flow rows compared: 0",
            "checkpoints verified: 2 (1 not checkable)",
            "flow rows not given: final states and versions not compared",
            "FAILED: 12 problem(s); first: row 0: broken",
            *[f"  row {n}: broken" for n in range(1, 10)],
        ]
        assert not report.ok and report.first == Finding("row 0", "broken")

    def test_without_flow_rows_the_report_says_they_were_not_compared(self):
        report = verify(chained(FLOW_A, [PASSWORD_TO_TOTP]), None)
        assert report.ok and report.notes == ["flow rows not given: final states and versions not compared"]
        assert report.seconds > 0 and Report().first is None


def test_a_verify_state_entered_under_a_set_up_rule_is_still_verifying():
    rows = [("first_factor", "submit_password", "credentials_ok", "totp_verify", {"rule": "setup.offered"}),
            ("totp_verify", "switch_factor", "other_factor_available", "factor_selection"),
            ("factor_selection", "skip", "setup_skippable", "done")]
    report = verify(chained(FLOW_A, rows), None)
    assert report.first.problem.endswith(": the flow is verifying a factor")


def test_switching_between_verified_factors_verifies():
    rows = [("first_factor", "submit_password", "credentials_ok", "totp_verify", {"rule": "verify.last_used"}),
            ("totp_verify", "switch_factor", "other_factor_available", "factor_selection"),
            ("factor_selection", "select_factor", "factor_offered", "backup_code_verify"),
            ("backup_code_verify", "submit_backup_code", "proof_ok", "done")]
    log = chained(FLOW_A, rows)
    assert verify(log, [head_of(log)]).ok


def test_the_first_fifty_findings_are_kept_by_default():
    flows = [f"0b7f3c1e-0000-4000-8000-{n:012d}" for n in range(51)]
    log = [row for n, flow in enumerate(flows) for row in chained(flow, [PASSWORD_TO_TOTP], first_cursor=n + 1)]
    for row in log:
        row["actor"] = "someone else"
    report = verify(log, None)
    assert report.problems == 51 and len(report.findings) == 50


def test_two_checkpoints_at_one_cursor_are_both_compared():
    log = two_flows()
    report = verify(log, heads(log), public_keys=KEYS, checkpoints=[checkpoint_after(log, 2, 2), checkpoint_after(log, 2, 1)])
    assert report.ok and report.checkpoints == 2


def test_a_log_at_the_smallest_cursors_counts_every_row():
    """Without a purge nothing is before the log: rows at 0-1 and 1-0 are in the running hash."""
    log = chained(FLOW_A, [PASSWORD_TO_TOTP, TOTP_OK])
    log[0]["cursor"], log[1]["cursor"] = "0-1", "1-0"
    checkpoints = [signed_checkpoint(KEY, "0-1", 1, running_hash(log[:1])),
                   Checkpoint(**{**signed_checkpoint(KEY, "1-0", 2, running_hash(log)).__dict__, "id": 2})]
    report = verify(log, [head_of(log)], public_keys=KEYS, checkpoints=checkpoints)
    assert report.ok, report.summary()
    assert (report.checkpoints, report.checkpoints_unchecked) == (2, 0)


def test_a_broken_link_and_a_changed_row_are_told_apart():
    log = chained(FLOW_A, [PASSWORD_TO_TOTP, TOTP_OK])
    unlinked = [log[0], {**log[1], "prev_hash": "00" * 32}]
    assert verify(unlinked, None).first.problem == (
        "prev_hash is not the hash of the flow's previous row: the chain is broken"
    )
    changed = [log[0], {**log[1], "actor": "admin"}]
    assert verify(changed, None).first.problem == "the hash does not match the row's content: the row was changed"


def test_a_long_malformed_cursor_is_quoted_shortened():
    text = "9" * 30 + "-" + "x" * 30
    finding = verify([{**chained(FLOW_A, [PASSWORD_TO_TOTP])[0], "cursor": text}], None).first
    assert finding.problem.startswith(repr(text[:40]) + " is not a cursor")


def test_the_time_taken_is_measured():
    log = two_flows()
    before = time.perf_counter()
    report = verify(log, heads(log))
    assert 0 < report.seconds <= time.perf_counter() - before
