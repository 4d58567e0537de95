"""A standby takes over: the primary dies in the middle of sign-ins, the standby is promoted,
and ``serve`` and ``worker`` carry on with no restart and no acknowledged sign-in lost.

Real PostgreSQL servers (Debian's server package): a primary and a synchronous streaming
standby in temporary folders; the service's ``DATABASE_URL`` names both hosts with
``target_session_attrs=read-write``.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time

import aiohttp
import pytest

from tests.support.client import Api
from tests.support.receiver import Receiver
from tests.support.replication import Cluster, server_bin
from tests.support.server import ServerProcess
from tests.support.waiting import eventually

pytestmark = pytest.mark.skipif(server_bin() is None, reason="needs Debian's postgresql server package")

PASSWORD = "correct horse battery"
SIGN_IN_LOOPS = 4


@pytest.fixture
def cluster():
    made = Cluster().start()
    yield made
    made.stop()


class SignIns:
    """Clients signing in over and over; a sign-in counts as acknowledged when the service
    answered ``done``. Refused attempts (503 during the take-over) start again."""

    def __init__(self, api: Api, username: str):
        self.api = api
        self.username = username
        self.acknowledged: list[str] = []
        self.refused: dict[int | str, int] = {}
        self.running = True

    async def one(self) -> None:
        created = await self.api.call("POST", "/api/flows", json={})
        if created.status != 201:
            raise Refused(created.status)
        flow_id, token = created.body["flow"]["id"], created.body["flow_token"]
        reply = await self.api.call("POST", f"/api/flows/{flow_id}/events", token,
                                    json={"type": "submit_password", "username": self.username, "password": PASSWORD})
        if reply.status != 200:
            raise Refused(reply.status)
        assert reply.body["state"] == "done", reply
        self.acknowledged.append(flow_id)

    async def loop(self) -> None:
        while self.running:
            try:
                await self.one()
            except Refused as refused:
                assert refused.status == 503, f"only 503 while no primary answers, not {refused.status}"
                self.refused[refused.status] = self.refused.get(refused.status, 0) + 1
                await asyncio.sleep(0.1)
            except (TimeoutError, aiohttp.ClientError) as exc:
                self.refused[type(exc).__name__] = self.refused.get(type(exc).__name__, 0) + 1
                await asyncio.sleep(0.1)


class Refused(Exception):
    def __init__(self, status: int):
        self.status = status


async def watch_readiness(api: Api, seen: list[tuple[float, int]], stop: asyncio.Event) -> None:
    while not stop.is_set():
        try:
            status = (await api.call("GET", "/readyz")).status
        except aiohttp.ClientError:
            status = -1
        seen.append((time.monotonic(), status))
        await asyncio.sleep(0.05)


def not_ready_seconds(seen: list[tuple[float, int]]) -> float:
    """From the first 503 to the first 200 after it."""
    first_503 = next(i for i, (_, status) in enumerate(seen) if status != 200)
    back = next(i for i in range(first_503, len(seen)) if seen[i][1] == 200)
    return seen[back][0] - seen[first_503][0]


async def test_a_promoted_standby_takes_over_with_no_acknowledged_sign_in_lost(cluster, capsys):
    env = {"MFA_FLOW_WEBHOOK_ALLOW_PRIVATE": "1", "MFA_FLOW_WEBHOOK_RETRY_SCHEDULE": "0,0.5,0.5,0.5,0.5,0.5"}
    server = await ServerProcess(cluster.url, **env).started()
    worker = await ServerProcess(cluster.url, command="worker", **env).started()
    receiver = await Receiver().start()
    try:
        timeout = aiohttp.ClientTimeout(total=30)  # a request that hangs fails the test
        async with aiohttp.ClientSession(timeout=timeout) as http:
            api = Api(server.base_url, http)
            await api.configure([], "mandatory")  # a password is the whole sign-in
            await api.new_user("failover", PASSWORD)
            hook = await api.admin("POST", "/api/webhooks", {"url": receiver.url, "events": ["flow.completed"]})
            assert hook.status == 201, hook

            sign_ins = SignIns(api, "failover")
            readiness: list[tuple[float, int]] = []
            stop_watching = asyncio.Event()
            watcher = asyncio.create_task(watch_readiness(api, readiness, stop_watching))
            loops = [asyncio.create_task(sign_ins.loop()) for _ in range(SIGN_IN_LOOPS)]

            # Sign-ins under way (however busy the machine is) before the primary goes.
            await eventually(lambda: len(sign_ins.acknowledged) >= SIGN_IN_LOOPS or any(loop.done() for loop in loops),
                             timeout=60)
            assert not any(loop.done() for loop in loops), [loop.exception() for loop in loops if loop.done()]
            await asyncio.to_thread(cluster.crash_primary)
            await asyncio.sleep(1.5)  # no primary at all for a while (a failover manager's decision time)
            await asyncio.to_thread(cluster.promote_standby)
            await eventually(lambda: readiness and readiness[-1][1] == 200 and any(s != 200 for _, s in readiness),
                             timeout=30)
            during_and_after = len(sign_ins.acknowledged)
            await eventually(lambda: len(sign_ins.acknowledged) >= during_and_after + SIGN_IN_LOOPS, timeout=60)
            sign_ins.running = False
            await asyncio.gather(*loops)
            stop_watching.set()
            await watcher
            assert len(sign_ins.acknowledged) > during_and_after, "sign-ins go on after the take-over"

            # The change feed listens on the new primary: a long-poll hears a change at once.
            flow = await api.start()
            poll = asyncio.create_task(api.call("GET", f"/api/flows/{flow.id}?wait=20", flow.token))
            await asyncio.sleep(0.5)
            await flow.ok("cancel")
            started = time.monotonic()
            polled = await poll
            assert polled.status == 200 and polled.body["state"] == "cancelled"
            assert time.monotonic() - started < 5, "the long-poll was woken by the change feed, not its timeout"

        # No acknowledged sign-in is lost: each one is done on the new primary.
        standby = await cluster.connect_standby()
        try:
            assert await standby.fetchval("SELECT pg_is_in_recovery()") is False
            found = await standby.fetch(
                "SELECT id::text, state FROM flows WHERE id = ANY($1::uuid[])", sign_ins.acknowledged
            )
        finally:
            await standby.close()
        states = {row["id"]: row["state"] for row in found}
        lost = [flow_id for flow_id in sign_ins.acknowledged if states.get(flow_id) != "done"]
        assert lost == []

        # The worker delivers on the new primary too (completions from after the take-over).
        late = set(sign_ins.acknowledged[during_and_after:])
        await eventually(lambda: late <= {r.message["data"]["flow_id"] for r in receiver.received}, timeout=30)
        assert server.process.poll() is None and worker.process.poll() is None, "no restart"

        verify = subprocess.run(
            [sys.executable, "-m", "mfa_flow.cli", "audit", "verify"],
            env={**server.env, "DATABASE_URL": cluster.standby_url}, capture_output=True, text=True, timeout=120,
        )
        assert verify.returncode == 0, verify.stdout + verify.stderr

        not_ready = not_ready_seconds(readiness)
        with capsys.disabled():
            print(f"\ntake-over: /readyz was 503 for {not_ready:.2f} s (the primary was down 1.5 s before the promotion);"
                  f" {len(sign_ins.acknowledged)} sign-ins acknowledged, {len(lost)} lost;"
                  f" attempts refused meanwhile: {sign_ins.refused}")
    finally:
        await receiver.stop()
        worker.stop()
        server.stop()
