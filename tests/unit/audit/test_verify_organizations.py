"""``audit verify`` replays the organisation rule: a member of an organisation that requires MFA
(the first row names it) is treated as ``mfa.required``, so no rule that waives verification or
offers a skippable set-up can be theirs, and ``override: organization`` names the organisation."""

from __future__ import annotations

import pytest

from mfa_flow.domain.machine import Step
from mfa_flow.domain.policy import WAIVERS
from tests.unit.audit.test_verify import log_of, verify

ORG = "0190f3c5-0000-7000-8000-000000000001"


def first(rule: str, to_state: str, **data) -> Step:
    return Step("submit_password", "credentials_ok", to_state, {"rule": rule, "policy": "no_prompt", **data})


def test_honest_decisions_for_members_verify():
    rows, heads = log_of([
        [first("setup.required", "totp_setup", override="organization", organization=ORG)],
        [first("verify.only_factor", "totp_verify", organization=ORG)],
        [first("verify.only_factor", "totp_verify", override="organization", organization=ORG,
               adaptive={"evaluated": ["new_device"], "fired": [], "missing": []})],
        [first("done.trusted_device", "done", override="trusted_device", organization=ORG)],
        [first("done.no_prompt", "done")],
    ])
    assert verify(rows, heads).ok


@pytest.mark.parametrize("rule", WAIVERS)
def test_a_waiver_for_a_member_is_refused(rule):
    to_state = "totp_setup" if rule.startswith("setup.") else "done"
    data = {"adaptive": {"evaluated": [], "fired": [], "missing": []}} if "adaptive" in rule else {}
    rows, heads = log_of([[first(rule, to_state, organization=ORG, **data)]])
    report = verify(rows, heads)
    assert not report.ok and f"rule {rule} for a member of organisation {ORG}, which requires MFA" in str(report.first)


def test_an_organisation_override_without_the_organisation_is_refused():
    rows, heads = log_of([[first("setup.required", "totp_setup", override="organization")]])
    report = verify(rows, heads)
    assert not report.ok and "without the organisation (data.organization)" in str(report.first)
