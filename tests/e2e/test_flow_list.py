"""The console's view of every flow: recent flows a page at a time, and a live stream of changes."""

from __future__ import annotations

from tests.support.client import Api
from tests.support.live import FlowEvents
from tests.support.names import unique
from tests.support.schemas import check_flow
from tests.support.server import AUDITOR_KEY


async def test_recent_flows_come_newest_first_a_page_at_a_time_without_tokens(api: Api):
    user = await api.new_user(unique("lister"))
    started = [await api.start({"id": user["id"]}) for _ in range(3)]  # done at once: no MFA configured
    page = await api.auditor("GET", f"/api/flows?user_id={user['id']}&limit=2")
    assert page.status == 200
    assert [f["id"] for f in page.body["items"]] == [started[2].id, started[1].id]
    assert all(check_flow(f)["result"] is None or "token" not in f["result"] for f in page.body["items"])
    assert page.body["next"] == started[1].id
    rest = await api.admin("GET", f"/api/flows?user_id={user['id']}&limit=2&before={page.body['next']}")
    assert [f["id"] for f in rest.body["items"]] == [started[0].id] and rest.body["next"] is None
    assert "token" not in rest.body["items"][0]["result"]  # not even for the admin key


async def test_the_list_filters_by_state(api: Api):
    flow = await api.start()
    listed = await api.auditor("GET", "/api/flows?state=first_factor&limit=200")
    assert flow.id in [f["id"] for f in listed.body["items"]]
    assert {f["state"] for f in listed.body["items"]} == {"first_factor"}


async def test_the_list_is_for_the_admin_and_the_auditor_only(api: Api):
    flow = await api.start()
    assert (await api.call("GET", "/api/flows")).status == 401
    assert (await api.call("GET", "/api/flows", flow.token)).status == 403
    for query, detail in (("before=nope", "before must be the id of a flow"), ("state=elsewhere", "state must be one of"),
                          ("limit=0", "limit must be a whole number from 1 to 200")):
        reply = await api.auditor("GET", f"/api/flows?{query}")
        assert reply.status == 400 and detail in reply.problem["detail"], reply


async def test_the_stream_tells_of_every_flow_created_or_moved(api: Api, http):
    await api.configure(["totp"], "mandatory")
    response = await http.get(f"{api.base_url}/api/flows/sse", headers={"Authorization": f"Bearer {AUDITOR_KEY}"})
    assert response.status == 200 and response.headers["Content-Type"] == "text/event-stream"
    stream = FlowEvents(response)
    user = await api.new_user(unique("streamed"))
    flow = await api.start()
    await flow.password(user["username"])

    seen: list[tuple[str, str]] = []
    while ("totp_setup" not in [state for flow_id, state in seen if flow_id == flow.id]):
        event = await stream.next_event()
        assert event is not None and event.event == "flow"
        shown = check_flow(event.flow)
        assert shown["challenge"] is None  # no secret, whoever listens
        seen.append((shown["id"], shown["state"]))
    assert [state for flow_id, state in seen if flow_id == flow.id][0] in ("first_factor", "totp_setup")
    response.close()


async def test_the_stream_is_for_the_admin_and_the_auditor_only(api: Api):
    flow = await api.start()
    assert (await api.call("GET", "/api/flows/sse")).status == 401
    assert (await api.call("GET", f"/api/flows/sse?token={flow.token}")).status == 403


async def test_whoami_names_the_credential(api: Api):
    flow = await api.start()
    assert (await api.admin("GET", "/api/whoami")).body == {"role": "admin"}
    assert (await api.auditor("GET", "/api/whoami")).body == {"role": "auditor"}
    assert (await api.call("GET", "/api/whoami", flow.token)).body == {"role": "flow"}
    assert (await api.call("GET", "/api/whoami")).status == 401
    assert (await api.call("GET", "/api/whoami", "adm_guess")).status == 401
