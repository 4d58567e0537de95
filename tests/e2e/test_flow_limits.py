"""Per-flow limits (issue 21, defect 7), against a real server process: a flow takes at most
``MFA_FLOW_MAX_EVENTS_PER_FLOW`` events (then 429 ``flow-event-limit``, over HTTP and over
its WebSocket alike), at most 8 live subscriptions at once (WebSocket, SSE, long-poll; then
429, or close code 4429), and a change of a flow is read once per process however many
subscribers follow it."""

from __future__ import annotations

import re

import aiohttp
import pytest

from mfa_flow.settings import Settings
from tests.support.client import Api, FlowClient
from tests.support.names import unique
from tests.support.waiting import eventually

EVENTS = 8  # the cap these tests' server has (the default is 100)
METRICS_KEY = "metrics-key-of-the-flow-limits-tests"


@pytest.fixture(scope="module")
async def limited(start_server):
    return await start_server.started(MFA_FLOW_MAX_EVENTS_PER_FLOW=str(EVENTS), MFA_FLOW_METRICS_KEY=METRICS_KEY)


@pytest.fixture
async def api(limited, http) -> Api:
    return Api(limited.base_url, http)


async def wandering(api: Api) -> FlowClient:
    """A flow signed in to a set-up with another factor to switch to: switch_factor and
    select_factor move it back and forth for as long as it may take events."""
    await api.configure(["totp", "webauthn"], "mandatory")
    user = await api.new_user(unique("wander"))
    flow = await api.start()
    await flow.password(user["username"])
    return flow


def next_move(flow: dict) -> dict:
    if flow["state"] == "factor_selection":
        return {"type": "select_factor", "factor": "totp"}
    return {"type": "switch_factor"}


async def move(flow: FlowClient):
    event = next_move(flow.flow)
    return await flow.send(event.pop("type"), **event)


def test_the_default_is_the_contracts_100(monkeypatch):
    monkeypatch.delenv("MFA_FLOW_MAX_EVENTS_PER_FLOW", raising=False)
    assert Settings.from_env().max_events_per_flow == 100


async def test_a_flow_takes_at_most_its_cap_of_events_then_429_flow_event_limit(api):
    flow = await wandering(api)
    while flow.flow["version"] < EVENTS:
        reply = await move(flow)
        assert reply.status == 200, reply
    reply = await move(flow)
    assert reply.status == 429, reply
    assert reply.problem["type"] == "urn:mfa-flow:problem:flow-event-limit"
    assert f"{EVENTS} events" in reply.problem["detail"] and "new sign-in" in reply.problem["detail"]
    assert (await flow.read())["version"] == EVENTS, "nothing was written"
    transitions = await api.transitions(flow.id)
    assert len(transitions) == EVENTS
    # cancel is an event too: a flow at its cap ends by its expiry.
    assert (await flow.send("cancel")).status == 429


async def test_over_the_websocket_the_cap_answers_an_error_message(api, limited, http):
    flow = await wandering(api)
    async with http.ws_connect(f"{limited.base_url}/api/flows/{flow.id}/ws",
                               headers={"Authorization": f"Bearer {flow.token}"}) as ws:
        body = (await ws.receive_json(timeout=5))["flow"]
        for n in range(1, EVENTS + 3):
            await ws.send_json({"type": "event", "id": str(n), "event": next_move(body)})
            message = await ws.receive_json(timeout=5)
            if message["type"] == "error":
                break
            assert message["type"] == "flow"
            ack = await ws.receive_json(timeout=5)
            assert ack["type"] == "ack"
            body = ack["flow"]
        assert message["id"] == str(n) and message["problem"]["status"] == 429
        assert message["problem"]["type"] == "urn:mfa-flow:problem:flow-event-limit"
        assert body["version"] == EVENTS


async def socket(limited, http, flow: FlowClient) -> aiohttp.ClientWebSocketResponse:
    return await http.ws_connect(f"{limited.base_url}/api/flows/{flow.id}/ws",
                                 headers={"Authorization": f"Bearer {flow.token}"})


async def test_a_flow_has_at_most_8_live_subscriptions_and_a_closed_one_frees_its_place(api, limited, http):
    flow = await api.start()
    sockets = [await socket(limited, http, flow) for _ in range(8)]
    try:
        for ws in sockets:
            assert (await ws.receive_json(timeout=5))["type"] == "flow"
        ninth = await socket(limited, http, flow)
        closing = await ninth.receive(timeout=5)
        assert closing.type == aiohttp.WSMsgType.CLOSE and closing.data == 4429, closing
        assert "8 live subscriptions" in closing.extra
        await ninth.close()
        sse = await api.call("GET", f"/api/flows/{flow.id}/sse", flow.token)
        assert sse.status == 429 and sse.problem["type"] == "urn:mfa-flow:problem:live-subscription-limit", sse
        poll = await api.call("GET", f"/api/flows/{flow.id}?wait=5", flow.token)
        assert poll.status == 429 and poll.problem["type"] == "urn:mfa-flow:problem:live-subscription-limit", poll
        assert (await api.call("GET", f"/api/flows/{flow.id}", flow.token)).status == 200, "a plain read is no subscription"
        # Another flow's subscriptions are its own.
        other = await api.start()
        async with await socket(limited, http, other) as ws:
            assert (await ws.receive_json(timeout=5))["type"] == "flow"
        # One closes: its place is free again.
        await sockets.pop().close()

        async def a_place() -> bool:
            ws = await socket(limited, http, flow)
            message = await ws.receive(timeout=5)
            if message.type == aiohttp.WSMsgType.TEXT:
                sockets.append(ws)
                return True
            await ws.close()
            return False

        await eventually(a_place, timeout=10)
    finally:
        for ws in sockets:
            await ws.close()


async def live_reads(api: Api) -> float:
    text = (await api.call("GET", "/metrics", METRICS_KEY)).body
    found = re.search(r"^mfa_flow_live_flow_reads_total (\S+)$", text, re.M)
    assert found, "the counter of the change feed's reads"
    return float(found.group(1))


async def test_a_change_is_read_once_per_process_not_once_per_subscriber(api, limited, http):
    flow = await wandering(api)
    sockets = [await socket(limited, http, flow) for _ in range(8)]
    try:
        for ws in sockets:
            assert (await ws.receive_json(timeout=5))["type"] == "flow"
        before = await live_reads(api)
        changes = 3
        for _ in range(changes):
            assert (await move(flow)).status == 200
            for ws in sockets:  # every subscriber hears of each change
                message = await ws.receive_json(timeout=5)
                assert message["flow"]["version"] == flow.flow["version"]
        reads = await live_reads(api) - before
        assert 1 <= reads <= changes, f"{reads} reads for {changes} changes followed by {len(sockets)} sockets"
    finally:
        for ws in sockets:
            await ws.close()
