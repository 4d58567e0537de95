"""No password work before authorisation, and a bounded hashing pool (contract: "Abuse
limits"; issue 9, defect 1): argon2 runs only for a caller who may drive the flow now, and
a full queue answers a quick 503 with Retry-After."""

from __future__ import annotations

import asyncio
import os
import re
import uuid

from tests.support.client import Api
from tests.support.server import AUDITOR_KEY


async def password_hashes(api: Api) -> int:
    text = (await api.auditor("GET", "/metrics")).body
    found = re.search(r"^mfa_flow_password_hashes_total (\d+)", text, re.M)
    assert found, "the hashing pool counts its jobs"
    return int(float(found.group(1)))


def submit_password(username: str = "someone", password: str = "a guess") -> dict:
    return {"type": "submit_password", "username": username, "password": password}


def guess() -> dict:
    """A password event as FlowClient.send takes it."""
    return {"type_": "submit_password", "username": "someone", "password": "a guess"}


# --- no argon2 before authorisation -----------------------------------------------------------


async def test_no_password_is_hashed_for_a_caller_who_may_not_drive_the_flow(start_server, http):
    server = await start_server.started()
    api = Api(server.base_url, http)
    flow = await api.start()
    cancelled = await api.start()
    await cancelled.ok("cancel")
    before = await password_hashes(api)

    junk = [
        ("POST", f"/api/flows/{uuid.uuid4()}/events", "ft_junk", 404),  # no such flow
        ("POST", f"/api/flows/{flow.id}/events", "ft_junk", 403),  # another flow's token
        ("POST", f"/api/flows/{flow.id}/events", AUDITOR_KEY, 403),  # the auditor may not drive
        ("POST", f"/api/flows/{flow.id}/events", None, 401),  # no credential at all
        ("POST", f"/api/flows/{cancelled.id}/events", cancelled.token, 409),  # finished flow
    ]
    for method, path, key, status in junk * 4:
        reply = await api.call(method, path, key, json=submit_password())
        assert reply.status == status, reply
    assert await password_hashes(api) == before, "argon2 ran for a request that could not drive the flow"

    assert (await flow.send(**guess())).status == 422
    assert await password_hashes(api) == before + 1


async def test_a_full_hashing_queue_answers_a_quick_503_with_retry_after(start_server, http):
    server = await start_server.started(MFA_FLOW_HASH_QUEUE="0")  # only as many checks as threads, none waiting
    api = Api(server.base_url, http)
    flows = [await api.start() for _ in range(4 * (os.cpu_count() or 1) + 4)]
    replies = await asyncio.gather(*(flow.send(**guess()) for flow in flows))
    statuses = sorted(reply.status for reply in replies)
    assert set(statuses) == {422, 503}, statuses
    busy = [reply for reply in replies if reply.status == 503]
    for reply in busy:
        assert reply.problem["type"] == "urn:mfa-flow:problem:busy"
        assert reply.headers["Retry-After"] == "1" and reply.problem["retry_after"] == 1
    refused = [flow for flow, reply in zip(flows, replies, strict=True) if reply.status == 503]
    assert (await refused[0].read())["attempts_left"] == 5, "a refused attempt costs the flow nothing"
    assert (await refused[0].send(**guess())).status == 422, "the pool frees up"
