"""Keeping the audit trail up with the log after a bulk import: the signed checkpoints and the
Merkle tree are built a bounded batch per transaction, by whichever process holds the keeper's
lock (the worker), and a serving process leaves them alone meanwhile."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from structlog.testing import capture_logs

from mfa_flow import metrics
from mfa_flow.app.audit_keeper import AuditKeeper, pause_after
from mfa_flow.audit import merkle
from mfa_flow.audit.verify import next_running_hash
from mfa_flow.store.audit_log import KEEPER_LOCK
from mfa_flow.store.migrate import migrate
from mfa_flow.store.session_lock import SessionLock
from tests.integration.conftest import InProcess, build_service, settings_for
from tests.support.bulk import import_flows
from tests.support.waiting import eventually


async def bulk_import(service: InProcess, flows: int) -> None:
    await import_flows(service.db.pool, flows)


async def log_in_order(service: InProcess) -> list[str]:
    return [r["hash"] for r in await service.db.pool.fetch("SELECT hash FROM transitions ORDER BY xid, id")]


async def tree(service: InProcess) -> tuple[int, bytes | None]:
    """The stored tree's size and the root its latest signed head carries."""
    size = await service.db.pool.fetchval("SELECT count(*) FROM audit_tree_leaves")
    root = await service.db.pool.fetchval("SELECT root FROM audit_tree_heads ORDER BY id DESC LIMIT 1")
    return size, root


@pytest.fixture
async def keeping(quiet_postgres, tmp_path) -> AsyncIterator[InProcess]:
    """The service on a PostgreSQL of the module's own, where rows settle as soon as they commit
    (on a shared server another run's open transaction would hold them back)."""
    name = f"keeper_{uuid.uuid4().hex[:8]}"
    url = await quiet_postgres.create(name)
    await migrate(url)
    service = await build_service(settings_for(url, tmp_path, audit_batch=200, checkpoint_rows=100))
    yield service
    await service.db.close()
    await quiet_postgres.drop(name)


async def test_a_backlog_is_taken_one_bounded_batch_per_round(keeping):
    await bulk_import(keeping, 500)
    first = await keeping.audit_keeper.round()
    assert first.behind and first.leaves_added == 200 and first.rows_hashed == 200
    assert len(first.checkpoints) == 2  # every 100 rows
    assert first.tree_head is None, "no head per batch while behind (only every MFA_FLOW_CHECKPOINT_SECONDS)"
    assert (await tree(keeping))[0] == 200

    done = await keeping.audit_keeper.catch_up()
    assert done.leaves_added == 800 and done.tree_head is not None and done.tree_head.tree_size == 1000
    hashes = await log_in_order(keeping)
    size, root = await tree(keeping)
    assert size == 1000 and root == merkle.root_of(*merkle.tree_from_leaves(bytes.fromhex(h) for h in hashes))
    running = ""
    for h in hashes:
        running = next_running_hash(running, h)
    last = await keeping.db.pool.fetchrow("SELECT rows, running_hash FROM audit_checkpoints ORDER BY id DESC LIMIT 1")
    assert (last["rows"], last["running_hash"]) == (1000, running)


async def test_the_tree_and_the_checkpoints_each_take_the_rows_after_their_own_cursor(keeping):
    """After an upgrade the checkpoints are ahead of an empty tree: one read serves both, each
    taking the rows it has not got, until they advance together."""
    await bulk_import(keeping, 150)
    await keeping.audit_keeper.catch_up()
    await keeping.db.pool.execute("TRUNCATE audit_tree_leaves, audit_tree_nodes, audit_tree_heads")
    await bulk_import(keeping, 100)
    done = await keeping.audit_keeper.catch_up()
    assert done.leaves_added == 500 and done.rows_hashed == 200
    hashes = await log_in_order(keeping)
    assert await tree(keeping) == (500, merkle.root_of(*merkle.tree_from_leaves(bytes.fromhex(h) for h in hashes)))


async def test_while_a_worker_keeps_the_trail_a_serving_process_leaves_it_alone(keeping):
    await bulk_import(keeping, 50)
    worker = await SessionLock.try_take(keeping.settings.database_url or "", KEEPER_LOCK, "test keeper")
    assert worker is not None
    try:
        assert await SessionLock.try_take(keeping.settings.database_url or "", KEEPER_LOCK, "second") is None
        deferred = await keeping.audit_keeper.tick()
        assert deferred.deferred and deferred.leaves_added == 0 and deferred.checkpoints == []
        assert (await tree(keeping))[0] == 0
    finally:
        await worker.release()
    done = await keeping.audit_keeper.tick()  # no worker now: the serving process takes a batch
    assert not done.deferred and done.leaves_added == 100


async def test_the_keeper_catches_up_in_the_background_and_says_how_it_went(keeping):
    await bulk_import(keeping, 600)
    added_before = metrics.AUDIT_ROWS_ADDED._value.get()
    stopping = asyncio.Event()
    second = AuditKeeper(keeping.db, keeping.audit_keeper.keyring, keeping.settings)
    with capture_logs() as lines:
        tasks = [asyncio.create_task(keeping.audit_keeper.keep(stopping)), asyncio.create_task(second.keep(stopping))]
        try:
            await eventually(lambda: any(line["event"] == "audit catch-up finished" for line in lines),
                             what="the catch-up's end in the log")
        finally:
            stopping.set()
            await asyncio.gather(*tasks)
    events = [line["event"] for line in lines]
    assert events.count("audit keeper started") == 1, "one keeper at a time; the other stands by"
    [started] = [line for line in lines if line["event"] == "audit catch-up started"]
    assert started["rows_behind"] == 1200
    [finished] = [line for line in lines if line["event"] == "audit catch-up finished"]
    assert finished["rows"] == 1200 and finished["rows_per_second"] > 0
    assert (await tree(keeping))[0] == 1200
    assert metrics.AUDIT_ROWS_ADDED._value.get() - added_before == 1200
    async with keeping.db.unit_of_work() as uow:
        assert await uow.audit.rows_behind() == 0


@pytest.mark.parametrize("took, share, rest", [(0.2, 0.5, 0.2), (0.1, 0.25, 0.3), (0.3, 1.0, 0.0)])
def test_the_rest_after_a_batch_gives_it_its_share_of_the_time(took, share, rest):
    assert pause_after(took, share) == pytest.approx(rest)

