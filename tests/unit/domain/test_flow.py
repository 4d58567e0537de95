"""The flow aggregate: steps through the table and the hash chain of its log."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from functools import partial

import pytest

from mfa_flow.domain import flow as domain_flow
from mfa_flow.domain.flow import Flow, canonical_json, chain_hash
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
