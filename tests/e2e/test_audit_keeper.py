"""After a bulk import (or an upgrade, or a restore), the worker builds the audit trail (signed
checkpoints and the Merkle tree) in bounded batches, says how it goes in its log and metrics,
and the serving process leaves that work to it; without a worker, the serving process keeps the
trail itself. On a PostgreSQL of this module's own, where rows settle as soon as they commit."""

from __future__ import annotations

import re
import uuid

import asyncpg
import pytest

from tests.support.bulk import import_flows
from tests.support.server import ADMIN_KEY, free_port, server_and_worker
from tests.support.waiting import eventually


async def metric(http, url: str, name: str) -> float:
    async with http.get(url, headers={"Authorization": f"Bearer {ADMIN_KEY}"}) as reply:
        text = await reply.text()
    found = re.search(rf"^{name} (\S+)$", text, re.M)
    assert found, f"{name} not in {url}"
    return float(found.group(1))


@pytest.fixture
async def imported(quiet_postgres):
    name = f"keeper_{uuid.uuid4().hex[:8]}"
    url = await quiet_postgres.create(name)
    yield url
    await quiet_postgres.drop(name)


async def test_the_worker_builds_the_trail_of_a_bulk_import_and_the_serving_process_leaves_it(imported, http):
    port = free_port()
    async with server_and_worker(imported, {"MFA_FLOW_AUDIT_BATCH": "1000"},
                                 worker={"MFA_FLOW_WORKER_METRICS_PORT": str(port)}) as (server, worker):
        served, working = f"{server.base_url}/metrics", f"http://127.0.0.1:{port}/metrics"
        await eventually(lambda: '"audit keeper started"' in worker.log(), what="the worker keeping the trail")
        conn = await asyncpg.connect(imported)
        try:
            await import_flows(conn, 5000)
            await eventually(lambda: '"audit catch-up finished"' in worker.log(), timeout=120,
                             what="the worker's catch-up over 10,000 rows")
            assert '"audit catch-up started"' in worker.log()
            assert await metric(http, served, "mfa_flow_audit_tree_size") == 10000
            assert await metric(http, served, "mfa_flow_audit_rows_behind") == 0
            assert await metric(http, working, "mfa_flow_audit_rows_added_total") == 10000
            assert await metric(http, served, "mfa_flow_audit_rows_added_total") == 0, "the serving process left it"
            assert "audit catch-up" not in server.log()

            # Without a worker, the serving process keeps the trail itself (a batch a round).
            worker.stop()
            await import_flows(conn, 10)

            async def whole_tree() -> bool:
                return await metric(http, served, "mfa_flow_audit_tree_size") == 10020

            await eventually(whole_tree, timeout=60, what="the serving process extending the tree by the new rows")
            assert await metric(http, served, "mfa_flow_audit_rows_added_total") == 20
        finally:
            await conn.close()
