"""What clients see when the database goes away, and readiness that tells the truth.

Each test runs its server on a database of its own: killing every connection of the
service's database must not disturb the rest of the run.
"""

from __future__ import annotations

import asyncio
import signal
import time

import aiohttp
import asyncpg
import pytest

from tests.conftest import ServerStarter
from tests.support.client import Api

OK = {200, 201, 204, 409, 422}


@pytest.fixture
def own_database(fresh_database):
    return fresh_database


@pytest.fixture
def own_server(own_database):
    """Servers on the test's own database, stopped before it is dropped."""
    starter = ServerStarter(own_database)
    yield lambda **env: starter(**env)
    starter.stop_all()


async def terminate_every_backend(url: str) -> int:
    """pg_terminate_backend on every connection of the service's database."""
    conn = await asyncpg.connect(url)
    try:
        return await conn.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
    finally:
        await conn.close()


async def sign_in_steps(api: Api) -> list[int]:
    """One sign-in's worth of requests: create, read, a wrong password, cancel."""
    statuses = []
    created = await api.call("POST", "/api/flows", json={})
    statuses.append(created.status)
    if created.status != 201:
        return statuses
    flow_id, token = created.body["flow"]["id"], created.body["flow_token"]
    statuses.append((await api.call("GET", f"/api/flows/{flow_id}", token)).status)
    wrong = {"type": "submit_password", "username": "nobody", "password": "wrong"}
    statuses.append((await api.call("POST", f"/api/flows/{flow_id}/events", token, json=wrong)).status)
    statuses.append((await api.call("POST", f"/api/flows/{flow_id}/events", token, json={"type": "cancel"})).status)
    return statuses


async def test_killing_every_connection_answers_success_or_503_never_500(own_database, own_server):
    server = own_server()
    timeout = aiohttp.ClientTimeout(total=20)  # never a hang
    async with aiohttp.ClientSession(timeout=timeout) as http:
        api = Api(server.base_url, http)
        assert set(await sign_in_steps(api)) <= OK  # warm the pool
        for _ in range(4):  # the defect showed in two of four runs
            killed = await terminate_every_backend(own_database)
            assert killed >= 2, "the pool and the change feed hold connections"
            # Nothing was in flight: each request meets a dead connection before it commits
            # anything, so it runs again on a fresh one and succeeds.
            assert set(await sign_in_steps(api)) <= OK
            assert (await api.call("GET", "/readyz")).status == 200

            # Under load: requests in flight when their connection dies answer 503 with
            # Retry-After (when a commit may have happened) or succeed; never 500.
            load = [asyncio.create_task(sign_in_steps(api)) for _ in range(8)]
            await asyncio.sleep(0.05)
            await terminate_every_backend(own_database)
            statuses = [status for steps in await asyncio.gather(*load) for status in steps]
            assert set(statuses) <= OK | {503}, statuses
            assert set(await sign_in_steps(api)) <= OK
    assert "unhandled error" not in server.log()


async def test_a_503_for_a_lost_connection_says_when_to_retry(own_database, own_server, test_database):
    server = own_server()
    name = own_database.rsplit("/", 1)[1]
    async with aiohttp.ClientSession() as http:
        api = Api(server.base_url, http)
        assert (await api.call("POST", "/api/flows", json={})).status == 201
        admin = await asyncpg.connect(test_database.admin_url)
        try:
            await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
            await terminate_every_backend_from(admin, name)
            reply = await api.call("POST", "/api/flows", json={})
            assert reply.status == 503, reply
            assert reply.problem["type"] == "urn:mfa-flow:problem:database-unavailable"
            assert reply.headers["Retry-After"] == "1"
            ready = await api.call("GET", "/readyz")
            assert ready.status == 503 and "does not answer" in ready.problem["detail"]
        finally:
            await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
            await admin.close()
        assert (await api.call("GET", "/readyz")).status == 200
        assert (await api.call("POST", "/api/flows", json={})).status == 201


async def terminate_every_backend_from(admin: asyncpg.Connection, name: str) -> None:
    await admin.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()", name
    )


async def test_readyz_is_503_while_the_process_drains_and_requests_are_still_served(own_server):
    server = own_server(MFA_FLOW_DRAIN_SECONDS="3")
    async with aiohttp.ClientSession() as http:
        api = Api(server.base_url, http)
        assert (await api.call("GET", "/readyz")).status == 200
        server.process.send_signal(signal.SIGTERM)
        started = time.monotonic()
        await asyncio.sleep(0.3)
        ready = await api.call("GET", "/readyz")
        assert ready.status == 503 and "shutting down" in ready.problem["detail"]
        assert (await api.call("POST", "/api/flows", json={})).status == 201, "still serving while draining"
    assert await asyncio.to_thread(server.process.wait, 20) == 0
    assert time.monotonic() - started >= 2.5, "it kept serving for the drain period"
