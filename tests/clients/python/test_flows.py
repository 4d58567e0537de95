"""Flows through the Python client: a whole sign-in with TOTP (codes from oathtool), a flow's
versions streamed over the WebSocket (also across a server restart) and waited for by
long-polling, and refusals raised as exceptions that carry the problem document."""

from __future__ import annotations

import asyncio

import pytest
from mfa_flow_client import Conflict, Forbidden, MfaFlowClient, WrongProof

from tests.support.names import unique
from tests.support.otp import fresh_code, wrong_code
from tests.support.server import ADMIN_KEY, ServerProcess

from .support import PASSWORD


@pytest.fixture(autouse=True)
async def totp_mandatory(admin):
    await admin.config.put({"factors": ["totp"], "policy": "mandatory"})


async def test_a_full_sign_in_with_totp_driven_through_the_client(anonymous, admin, user):
    session = await anonymous.flows.start()
    assert session.flow["state"] == "first_factor"
    await session.send({"type": "submit_password", "username": user["username"], "password": PASSWORD})
    assert session.flow["state"] == "totp_setup"
    secret = session.flow["challenge"]["secret"]  # type: ignore[index, typeddict-item]
    used: set[int] = set()  # time-steps spent: the service refuses a replayed one
    done = await session.send({"type": "submit_totp", "code": await fresh_code(secret, used)})
    assert done["state"] == "done" and session.flow is done
    claims = await anonymous.verify_result_token(done["result"]["token"], issuer="mfa-flow", audience="mfa-flow")
    assert claims["sub"] == user["id"] and claims["sid"] == session.id and "otp" in claims["amr"]

    # The next sign-in verifies the factor just set up.
    again = await anonymous.flows.start()
    await again.send({"type": "submit_password", "username": user["username"], "password": PASSWORD})
    assert again.flow["state"] == "totp_verify"
    assert (await again.send({"type": "submit_totp", "code": await fresh_code(secret, used)}))["state"] == "done"
    assert [f["type"] for f in await admin.users.factors(user["id"])] == ["totp"]


async def test_a_wrong_code_raises_wrong_proof_with_the_problem_and_the_attempts_left(anonymous, user):
    session = await anonymous.flows.start()
    await session.send({"type": "submit_password", "username": user["username"], "password": PASSWORD})
    secret = session.flow["challenge"]["secret"]  # type: ignore[index, typeddict-item]
    before = session.flow["attempts_left"]
    with pytest.raises(WrongProof) as refused:
        await session.send({"type": "submit_totp", "code": wrong_code(secret)})
    assert refused.value.status == 422 and refused.value.kind == "wrong-proof"
    assert refused.value.problem["attempts_left"] == before - 1
    assert refused.value.problem["type"] == "urn:mfa-flow:problem:wrong-proof"
    assert (await session.refresh())["attempts_left"] == before - 1


async def test_an_event_for_a_version_the_flow_has_left_raises_conflict(anonymous, user):
    session = await anonymous.flows.start()
    stale = session.version
    await session.send({"type": "submit_password", "username": user["username"], "password": PASSWORD})
    with pytest.raises(Conflict) as refused:
        await session.send({"type": "cancel"}, expected_version=stale)
    assert refused.value.problem["version"] == session.version
    assert (await session.refresh())["state"] == "totp_setup"


async def test_another_flows_token_is_forbidden(anonymous):
    mine, theirs = await anonymous.flows.start(), await anonymous.flows.start()
    with pytest.raises(Forbidden):
        await anonymous.flows.get(theirs.id, token=mine.token)


async def test_a_streamed_flow_yields_each_version_as_another_client_drives_it(service, anonymous, user):
    session = await anonymous.flows.start()
    seen: list[tuple[int, str]] = []
    opened = asyncio.Event()

    async def follow() -> None:
        async for flow in anonymous.flows.stream(session.id, token=session.token):  # from the current version on
            seen.append((flow["version"], flow["state"]))
            opened.set()

    follower = asyncio.create_task(follow())
    await asyncio.wait_for(opened.wait(), 20)  # the stream is open: it has sent the current version
    async with MfaFlowClient(service[0].base_url) as driver:
        other = driver.flows.session(session.flow, session.token)
        await other.send({"type": "submit_password", "username": user["username"], "password": PASSWORD})
        secret = other.flow["challenge"]["secret"]  # type: ignore[index, typeddict-item]
        await other.send({"type": "submit_totp", "code": await fresh_code(secret)})
    await asyncio.wait_for(follower, 20)  # the stream ends by itself with the flow
    assert [state for _, state in seen] == ["first_factor", "totp_setup", "done"]
    assert [v for v, _ in seen] == sorted({v for v, _ in seen})


async def test_waiting_long_polls_for_the_next_version(anonymous, user):
    session = await anonymous.flows.start()
    assert await session.wait(timeout=1) is None  # nothing happened
    other = anonymous.flows.session(session.flow, session.token)

    async def later() -> None:
        await asyncio.sleep(0.5)
        await other.send({"type": "submit_password", "username": user["username"], "password": PASSWORD})

    driving = asyncio.create_task(later())
    flow = await session.wait(timeout=20)
    await driving
    assert flow is not None and flow["state"] == "totp_setup"


async def test_a_stream_reconnects_after_its_server_restarts_and_catches_up(client_db, service, user):
    """Two servers on one database: the stream follows the first; it restarts while the second
    moves the flow; the stream reopens and comes up to date."""
    streaming = ServerProcess(client_db, MFA_FLOW_SECRET_KEY=service[0].env["MFA_FLOW_SECRET_KEY"])
    await streaming.started()
    try:
        async with MfaFlowClient(streaming.base_url, ADMIN_KEY) as watcher, \
                MfaFlowClient(service[0].base_url, ADMIN_KEY) as driver:
            session = await driver.flows.start({"user": {"id": unique("restarted")}})
            assert session.flow["state"] == "totp_setup"
            seen: list[str] = []
            opened = asyncio.Event()

            async def follow() -> None:
                async for flow in watcher.flows.stream(session.id, reconnects=20):
                    seen.append(flow["state"])
                    opened.set()

            follower = asyncio.create_task(follow())
            await asyncio.wait_for(opened.wait(), 20)  # the current version, on connect
            await asyncio.to_thread(streaming.stop)  # the socket closes: 1001, going away
            await session.send({"type": "cancel"})  # meanwhile, on the other server
            await streaming.started()  # back, on the same port
            await asyncio.wait_for(follower, 30)
            assert seen == ["totp_setup", "cancelled"]
    finally:
        await asyncio.to_thread(streaming.stop)
