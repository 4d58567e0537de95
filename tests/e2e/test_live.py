"""Live flow state: WebSocket, Server-Sent Events and long-poll, across server processes."""

from __future__ import annotations

import asyncio
import signal
import uuid

import asyncpg
import pytest

from tests.support.client import Api
from tests.support.live import FlowEvents, FlowSocket
from tests.support.names import unique
from tests.support.otp import fresh_code, wrong_code


@pytest.fixture(scope="module")
def two_servers(start_server):
    """Processes A and B on one database: A serves the streams, B takes the events. They share
    the key that seals secrets (every test server does), as every process of one installation must."""
    return start_server(), start_server()


async def mandatory_totp_user(api: Api) -> dict:
    await api.configure(["totp", "backup_code"], "mandatory")
    return await api.new_user(unique("liv"))


async def listener_backends(database_url: str, server) -> list[int]:
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch(
            "SELECT pid FROM pg_stat_activity WHERE application_name = $1", f"mfa-flow listen pid={server.process.pid}"
        )
    finally:
        await conn.close()
    return [row["pid"] for row in rows]


async def terminate(database_url: str, backend_pids: list[int]) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        for pid in backend_pids:
            assert await conn.fetchval("SELECT pg_terminate_backend($1)", pid)
    finally:
        await conn.close()


async def test_a_sign_in_driven_through_one_process_streams_every_version_from_another(two_servers, http):
    a, b = two_servers
    api_a, api_b = Api(a.base_url, http), Api(b.base_url, http)
    user = await mandatory_totp_user(api_b)
    flow = await api_b.start()
    socket = await FlowSocket.open(http, a.base_url, flow.id, flow.token)
    events = await FlowEvents.open(http, a.base_url, flow.id, flow.token)
    versions = [flow.flow["version"]]

    async def both_at(version: int) -> None:
        for stream in (socket, events):
            assert (await stream.until_version(version))["version"] == version

    await both_at(versions[-1])
    await flow.password(user["username"])
    versions.append(flow.flow["version"])
    await both_at(versions[-1])
    secret = socket.flows[-1]["challenge"]["secret"]  # the flow token sees the set-up secret
    await flow.ok("submit_totp", code=await fresh_code(secret))
    versions.append(flow.flow["version"])
    await both_at(versions[-1])
    assert socket.flows[-1]["state"] == "backup_codes"
    await flow.ok("acknowledge_backup_codes")
    versions.append(flow.flow["version"])

    assert await socket.closed() == (1000, "flow done")
    assert [f["version"] for f in socket.flows] == versions == [0, 1, 2, 3]
    assert [f["state"] for f in socket.flows] == ["first_factor", "totp_setup", "backup_codes", "done"]
    assert [f["version"] for f in await events.rest()] == versions
    assert events.flows[-1]["state"] == "done" and events.flows[-1]["result"]["amr"] == ["pwd", "otp", "mfa"]
    assert (await api_a.call("GET", f"/api/flows/{flow.id}", flow.token)).body == socket.flows[-1]


async def test_streams_still_get_the_final_state_when_the_listening_connection_dies(two_servers, http, database_url):
    a, b = two_servers
    user = await mandatory_totp_user(Api(b.base_url, http))
    flow = await Api(b.base_url, http).start()
    socket = await FlowSocket.open(http, a.base_url, flow.id, flow.token)
    events = await FlowEvents.open(http, a.base_url, flow.id, flow.token)
    await flow.password(user["username"])
    for stream in (socket, events):
        await stream.until_version(1)
    secret = socket.flows[-1]["challenge"]["secret"]

    await terminate(database_url, await listener_backends(database_url, a))
    # While A reconnects, its notifications for these two commits are lost.
    await flow.ok("submit_totp", code=await fresh_code(secret))
    await flow.ok("acknowledge_backup_codes")

    assert await socket.closed() == (1000, "flow done")
    for stream in (socket.flows, await events.rest()):
        versions = [f["version"] for f in stream]
        assert versions == sorted(set(versions)), "versions only go up"
        assert stream[-1]["state"] == "done" and stream[-1]["version"] == 3
    assert "change feed connection lost" in a.log()
    assert len(await listener_backends(database_url, a)) == 1, "A listens again"


async def test_a_flow_driven_entirely_over_one_websocket(server, api, http):
    user = await mandatory_totp_user(api)
    flow = await api.start()
    socket = await FlowSocket.open(http, server.base_url, flow.id, flow.token)
    assert (await socket.next_flow())["state"] == "first_factor"

    answer = await socket.send_event("submit_password", username=user["username"], password="correct horse battery")
    assert answer["type"] == "ack" and answer["flow"]["state"] == "totp_setup"
    assert socket.flows[-1] == answer["flow"], "the new state comes as a flow message too, before the ack"
    secret = answer["flow"]["challenge"]["secret"]

    answer = await socket.send_event("submit_totp", code=wrong_code(secret))
    assert answer["type"] == "error"
    assert answer["problem"]["status"] == 422 and answer["problem"]["attempts_left"] == 4
    assert (await socket.until_version(2))["attempts_left"] == 4, "a counted attempt is a new version"

    answer = await socket.send_event("select_factor", factor="totp")
    assert answer["problem"]["status"] == 409, "an event the state does not allow"
    answer = await socket.send_event("submit_totp", code=123456)
    assert answer["problem"]["status"] == 400, "the event is checked against the same schema as over HTTP"

    answer = await socket.send_event("submit_totp", code=await fresh_code(secret))
    assert answer["type"] == "ack" and answer["flow"]["state"] == "backup_codes"
    answer = await socket.send_event("acknowledge_backup_codes")
    assert answer["flow"]["state"] == "done" and answer["flow"]["result"]["amr"] == ["pwd", "otp", "mfa"]
    assert await socket.closed() == (1000, "flow done")
    assert [f["version"] for f in socket.flows] == [0, 1, 2, 3, 4]


async def test_a_malformed_message_gets_a_problem_and_the_socket_stays_open(server, api, http):
    flow = await api.start()
    socket = await FlowSocket.open(http, server.base_url, flow.id, flow.token)
    await socket.next_flow()
    await socket.ws.send_str("not json")
    assert (await socket.receive())["problem"]["status"] == 400
    await socket.ws.send_json({"type": "hello", "id": 7})
    answer = await socket.receive()
    assert answer["type"] == "error" and answer["id"] == 7 and answer["problem"]["status"] == 400
    answer = await socket.send_event("cancel")
    assert answer["flow"]["state"] == "cancelled"
    assert await socket.closed() == (1000, "flow cancelled")


@pytest.mark.parametrize(
    "who, code",
    [("no token", 4401), ("wrong key", 4401), ("another flow's token", 4403), ("the auditor key", 4403)],
)
async def test_a_socket_without_the_right_credential_is_closed_with_a_clear_code(server, api, http, who, code):
    from tests.support.server import AUDITOR_KEY

    flow, other = await api.start(), await api.start()
    token = {"no token": "", "wrong key": "nonsense", "another flow's token": other.token}.get(who, AUDITOR_KEY)
    socket = await FlowSocket.open(http, server.base_url, flow.id, token)
    close_code, reason = await socket.closed()
    assert close_code == code and reason
    assert socket.flows == []


async def test_a_socket_on_an_unknown_flow_is_closed_with_4404(server, http):
    socket = await FlowSocket.open(http, server.base_url, str(uuid.uuid4()), "ft_whatever")
    assert (await socket.closed())[0] == 4404


async def test_the_websocket_endpoint_refuses_plain_http(server, api):
    flow = await api.start()
    reply = await api.call("GET", f"/api/flows/{flow.id}/ws", flow.token)
    assert reply.status == 426 and reply.problem["status"] == 426


async def test_server_sent_events_resume_after_the_last_event_id(server, api, http):
    flow = await api.start()
    events = await FlowEvents.open(http, server.base_url, flow.id, flow.token, last_event_id=0)
    assert events.response.headers["Content-Type"] == "text/event-stream"
    await flow.ok("cancel")
    (only,) = await events.rest()
    assert only["version"] == 1 and only["state"] == "cancelled", "version 0 was not sent again"

    again = await FlowEvents.open(http, server.base_url, flow.id, flow.token, last_event_id=1)
    assert again.response.status == 204, "nothing will follow the final state: the EventSource stops"
    fresh = await FlowEvents.open(http, server.base_url, flow.id, flow.token)
    assert [f["state"] for f in await fresh.rest()] == ["cancelled"]


async def test_server_sent_events_refuse_a_wrong_token_with_a_problem(server, api, http):
    flow = await api.start()
    events = await FlowEvents.open(http, server.base_url, flow.id, "nonsense")
    assert events.response.status == 401
    assert events.response.headers["Content-Type"].startswith("application/problem+json")


async def test_a_long_poll_on_one_process_answers_a_change_made_on_another(two_servers, http):
    a, b = two_servers
    flow = await Api(b.base_url, http).start()
    headers = {"Authorization": f"Bearer {flow.token}", "If-None-Match": '"0"'}
    poll = asyncio.create_task(http.get(f"{a.base_url}/api/flows/{flow.id}?wait=30", headers=headers))
    await asyncio.sleep(0.2)  # let the poll start waiting; the answer does not depend on it
    await flow.ok("cancel")
    async with await poll as response:
        assert response.status == 200 and response.headers["ETag"] == '"1"'
        assert (await response.json())["state"] == "cancelled"


async def test_sigterm_closes_sockets_with_going_away_answers_long_polls_and_exits(start_server, http):
    server = await start_server.started()
    api = Api(server.base_url, http)
    flow = await api.start()
    socket = await FlowSocket.open(http, server.base_url, flow.id, flow.token)
    await socket.next_flow()
    events = await FlowEvents.open(http, server.base_url, flow.id, flow.token)
    await events.next_flow()
    headers = {"Authorization": f"Bearer {flow.token}", "If-None-Match": '"0"'}
    poll = asyncio.create_task(http.get(f"{server.base_url}/api/flows/{flow.id}?wait=60", headers=headers))
    await asyncio.sleep(0.5)  # let the poll start waiting before the signal

    server.process.send_signal(signal.SIGTERM)
    assert await socket.closed() == (1001, "server shutting down")
    assert await events.rest() == events.flows, "the stream ends; the EventSource reconnects elsewhere"
    async with await poll as response:
        assert response.status == 304, "the long-poll answers at once instead of being cut off"
    assert await asyncio.to_thread(server.process.wait, 15) == 0
