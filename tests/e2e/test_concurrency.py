"""Concurrent events: one-time proofs are spent once; one flow's log never forks."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest

from tests.support.client import Api
from tests.support.names import unique
from tests.support.otp import fresh_code


@pytest.fixture(scope="module")
def roomy(start_server):
    """A server whose lockout and attempt limits do not get in the way of 50 racing flows."""
    return start_server(MFA_FLOW_LOCKOUT_THRESHOLD="1000", MFA_FLOW_MAX_ATTEMPTS="100")


async def racing_flows(api: Api, user: dict, count: int):
    return await asyncio.gather(*(api.start(user={"id": user["id"]}) for _ in range(count)))


async def test_fifty_flows_racing_one_backup_code_and_one_totp_code_let_exactly_one_win(roomy, http):
    api = Api(roomy.base_url, http)
    await api.configure(["totp", "backup_code"], "mandatory")
    user = await api.new_user(unique("race"))
    secret = (await api.admin("POST", f"/api/users/{user['id']}/mfa-verifications", {"type": "totp"})).body["secret"]
    codes = (await api.admin("POST", f"/api/users/{user['id']}/mfa-verifications", {"type": "backup_code"})).body["codes"]

    flows = await racing_flows(api, user, 50)
    assert {f.state for f in flows} == {"factor_selection"}
    await asyncio.gather(*(f.ok("select_factor", factor="backup_code") for f in flows))
    replies = await asyncio.gather(*(f.send("submit_backup_code", code=codes[0]) for f in flows))
    assert Counter(r.status for r in replies) == {200: 1, 422: 49}

    flows = await racing_flows(api, user, 50)
    await asyncio.gather(*(f.ok("select_factor", factor="totp") for f in flows))
    code = await fresh_code(secret)
    replies = await asyncio.gather(*(f.send("submit_totp", code=code) for f in flows))
    assert Counter(r.status for r in replies) == {200: 1, 422: 49}
    refused = [r.problem for r in replies if r.status == 422]
    assert all("already used" in p["detail"] for p in refused)


async def test_twenty_events_at_once_on_one_flow_leave_a_gapless_log(roomy, http):
    api = Api(roomy.base_url, http)
    await api.configure(["totp", "backup_code"], "mandatory")
    user = await api.new_user(unique("burst"))
    await api.admin("POST", f"/api/users/{user['id']}/mfa-verifications", {"type": "totp"})
    await api.admin("POST", f"/api/users/{user['id']}/mfa-verifications", {"type": "backup_code"})
    flow = await api.start(user={"id": user["id"]})
    await flow.ok("select_factor", factor="backup_code")
    before = flow.flow["version"]
    replies = await asyncio.gather(*(flow.send("submit_backup_code", code=f"wrong-{i:05d}") for i in range(20)))
    assert Counter(r.status for r in replies) == {422: 20}
    assert sorted(r.problem["attempts_left"] for r in replies) == list(range(80, 100))
    rows = await api.transitions(flow.id)
    assert [r["seq"] for r in rows] == list(range(1, before + 21))
    assert [r["prev_hash"] for r in rows[1:]] == [r["hash"] for r in rows[:-1]]
