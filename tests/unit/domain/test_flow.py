"""The flow aggregate: steps through the table and the hash chain of its log."""

from __future__ import annotations

import hashlib
import json
import time
from datetime import UTC, datetime, timedelta, timezone
from functools import partial

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mfa_flow.domain import flow as domain_flow
from mfa_flow.domain.flow import Flow, FlowContext, canonical_json, chain_hash, iso
from mfa_flow.domain.machine import IllegalTransition, Step
from mfa_flow.factors.registry import default

take = partial(domain_flow.take, default().machine)

NOW = datetime(2026, 11, 27, 12, 0, 0, 123456, tzinfo=UTC)


def new_flow() -> Flow:
    return Flow("3f0c2b8e-0000-4000-8000-000000000001", "first_factor", 0, None, None, NOW + timedelta(minutes=10),
                5, {}, None, "", NOW, NOW)


def test_each_step_bumps_the_version_and_chains_the_rows():
    flow = new_flow()
    first = take(flow, Step("submit_password", "credentials_wrong", "first_factor"), "user", NOW)
    second = take(flow, Step("submit_password", "credentials_ok", "totp_verify", {"rule": "verify.only_factor"}), "user", NOW)
    assert (first.seq, second.seq, flow.version, flow.state) == (1, 2, 2, "totp_verify")
    assert first.prev_hash == "" and second.prev_hash == first.hash and flow.chain_head == second.hash
    expected = hashlib.sha256(first.hash.encode() + second.canonical()).hexdigest()
    assert second.hash == expected == chain_hash(first.hash, second)


def test_the_canonical_form_is_sorted_compact_utf8_with_microsecond_utc_times():
    flow = new_flow()
    row = take(flow, Step("cancel", "always", "cancelled"), "user", NOW)
    assert row.canonical() == (
        b'{"actor":"user","at":"2026-11-27T12:00:00.123456Z","data":{"guard":"always"},"event":"cancel",'
        b'"flow_id":"3f0c2b8e-0000-4000-8000-000000000001","from_state":"first_factor","seq":1,"to_state":"cancelled"}'
    )
    assert canonical_json({"b": "é", "a": 1}) == '{"a":1,"b":"é"}'.encode()


def test_an_illegal_step_changes_nothing():
    flow = new_flow()
    with pytest.raises(IllegalTransition):
        take(flow, Step("submit_totp", "proof_ok", "done"), "user", NOW)
    assert (flow.state, flow.version, flow.chain_head) == ("first_factor", 0, "")


def test_leaving_a_state_wipes_its_stage():
    flow = new_flow()
    take(flow, Step("submit_password", "credentials_ok", "totp_setup"), "user", NOW)
    flow.stage["pending_secret"] = "sealed"
    take(flow, Step("submit_totp", "proof_wrong", "totp_setup"), "user", NOW)
    assert flow.stage == {"pending_secret": "sealed"}, "a wrong code keeps the set-up secret"
    take(flow, Step("cancel", "always", "cancelled"), "user", NOW)
    assert flow.stage == {}


class TestOverdue:
    @pytest.mark.parametrize("state", ["first_factor", "factor_selection", "totp_verify", "backup_codes"])
    def test_an_active_flow_is_overdue_from_its_expiry_on(self, state):
        flow = new_flow()
        flow.state = state
        assert not flow.is_overdue(flow.expires_at - timedelta(microseconds=1))
        assert flow.is_overdue(flow.expires_at)
        assert flow.is_overdue(flow.expires_at + timedelta(days=1))

    @pytest.mark.parametrize("state", ["done", "failed", "expired", "cancelled"])
    def test_a_finished_flow_is_never_overdue(self, state):
        flow = new_flow()
        flow.state = state
        assert not flow.is_overdue(flow.expires_at + timedelta(days=1))


def test_a_step_records_the_guard_the_data_the_actor_and_the_time():
    flow = new_flow()
    later = NOW + timedelta(seconds=5)
    row = take(flow, Step("submit_password", "credentials_ok", "totp_verify", {"rule": "verify.only_factor"}), "admin", later)
    assert (row.flow_id, row.event, row.from_state, row.to_state, row.actor, row.at) == (
        flow.id, "submit_password", "first_factor", "totp_verify", "admin", later)
    assert row.data == {"guard": "credentials_ok", "rule": "verify.only_factor"}
    assert (flow.updated_at, flow.created_at) == (later, NOW)


def test_times_in_other_zones_are_written_as_utc_with_microseconds():
    paris = timezone(timedelta(hours=1))
    assert iso(datetime(2026, 12, 1, 10, 0, 0, 5, tzinfo=paris)) == "2026-12-01T09:00:00.000005Z"


@given(st.datetimes(min_value=datetime(2, 1, 1), max_value=datetime(9998, 12, 31), timezones=st.sampled_from([UTC, timezone(timedelta(hours=5, minutes=30)),
                                                  timezone(-timedelta(hours=11))])))
def test_times_are_written_exactly_as_strftime_writes_them(at):
    """The audit chain hashes these characters: the fast path must never change one."""
    assert iso(at) == at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def test_times_are_written_as_utc_whatever_the_server_s_own_zone(monkeypatch):
    monkeypatch.setenv("TZ", "Asia/Tokyo")
    time.tzset()
    try:
        assert iso(datetime(2026, 12, 1, 10, 0, tzinfo=UTC)) == "2026-12-01T10:00:00.000000Z"
    finally:
        monkeypatch.undo()
        time.tzset()


def test_the_chain_hash_covers_the_previous_hash_as_lowercase_hex_text():
    flow = new_flow()
    row = take(flow, Step("cancel", "always", "cancelled"), "user", NOW)
    assert row.hash == hashlib.sha256(row.canonical()).hexdigest()
    assert chain_hash("ab" * 32, row) == hashlib.sha256(("ab" * 32).encode() + row.canonical()).hexdigest()


def test_a_context_is_stored_under_its_own_keys_and_reads_back_the_same():
    context = FlowContext(username="alice", amr=["pwd", "otp"], choices=("totp", "backup_code"), skippable=True,
                          preferred="totp", stage={"secret": "sealed"}, step_up=True, remember_days=30)
    stored = context.to_json()
    assert stored == {"username": "alice", "amr": ["pwd", "otp"], "choices": ["totp", "backup_code"],
                      "skippable": True, "preferred": "totp", "stage": {"secret": "sealed"}, "purpose": "sign_in",
                      "step_up": True, "remember_days": 30}
    assert FlowContext.from_json(json.loads(json.dumps(stored))) == context


def test_an_account_flow_s_proven_factor_is_stored_only_when_there_is_one():
    proven = FlowContext(purpose="manage", mfa_proven=True)
    assert proven.to_json()["mfa_proven"] is True and proven.factor_proven
    assert FlowContext.from_json(json.loads(json.dumps(proven.to_json()))) == proven
    assert "mfa_proven" not in FlowContext(purpose="manage").to_json()
    assert not FlowContext(purpose="manage").factor_proven
    assert FlowContext(purpose="manage", amr=["otp"]).factor_proven, "a step-up or set-up in the flow"


def test_a_context_stored_before_a_key_existed_reads_with_that_key_s_default():
    assert FlowContext.from_json({"username": "alice"}) == FlowContext(username="alice")
    assert FlowContext.from_json(None) == FlowContext()


@pytest.mark.parametrize(
    ("written", "canonical"),
    [
        ("3F0C2B8E-0000-4000-8000-000000000001", "3f0c2b8e-0000-4000-8000-000000000001"),
        ("3f0c2b8e000040008000000000000001", "3f0c2b8e-0000-4000-8000-000000000001"),
        ("3f0c2b8e-0000-4000-8000-000000000001", "3f0c2b8e-0000-4000-8000-000000000001"),
    ],
)
def test_a_flow_id_has_one_written_form(written, canonical):
    assert domain_flow.canonical_flow_id(written) == canonical


@pytest.mark.parametrize("written", ["", "abc", "3f0c2b8e-0000-4000-8000-00000000000", "../etc/passwd"])
def test_what_is_not_a_flow_id_has_no_written_form(written):
    assert domain_flow.canonical_flow_id(written) is None


def test_a_flow_read_from_storage_has_its_json_context_typed():
    flow = Flow("3f0c2b8e-0000-4000-8000-000000000001", "totp_verify", 1, "verify", "u1", NOW + timedelta(minutes=10),
                5, {"username": "alice", "amr": ["pwd"], "choices": ["totp"]}, None, "", NOW, NOW)
    assert flow.context == FlowContext(username="alice", amr=["pwd"], choices=("totp",))
    assert flow.choices == ("totp",)


def test_the_first_row_of_an_authorizations_flow_records_the_client_and_the_acr_asked_for():
    flow = new_flow()
    flow.context.oidc = {"client_id": "cl_1", "acr_values": ["urn:mfa-flow:acr:mfa"]}
    first = take(flow, domain_flow.first_row_facts(flow, Step("submit_password", "credentials_wrong", "first_factor")),
                 "user", NOW)
    assert first.data["oidc"] == {"client_id": "cl_1", "acr_values": ["urn:mfa-flow:acr:mfa"]}
    second = take(flow, domain_flow.first_row_facts(flow, Step("cancel", "always", "cancelled")), "user", NOW)
    assert "oidc" not in second.data
    assert FlowContext.from_json(flow.context.to_json()).oidc == flow.context.oidc
    assert "oidc" not in FlowContext().to_json(), "flows of no authorization read and hash as before"
