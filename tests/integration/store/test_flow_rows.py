"""How flows sit in their table: time-ordered ids for new flows (old random ids read the same),
and a step between two open states written as a HOT update (no new index entries)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import asyncpg

from mfa_flow.domain.access import ADMIN, Principal
from mfa_flow.store.migrate import migrate, migration_files

# What a step between two open states may change (``FlowRepository.save`` writes these): no index
# of flows may cover one of them, or PostgreSQL cannot write the step as a HOT update.
CHANGED_BY_A_STEP = {"state", "version", "mode", "attempts_left", "context", "result", "chain_head", "updated_at"}


async def test_new_flows_get_time_ordered_ids_and_flows_with_random_ids_still_read(service):
    await service.configure(["totp"], "mandatory")
    user = await service.new_user()
    first, second = await service.start({"id": user["id"]}), await service.start({"id": user["id"]})
    ids = [uuid.UUID(first.id), uuid.UUID(second.id)]
    assert [i.version for i in ids] == [7, 7] and ids[0] < ids[1]
    created_ms = int((await service.stored(first.id)).created_at.timestamp() * 1000)
    assert ids[0].int >> 80 == created_ms, "the id's first 48 bits are its creation time (ms)"

    old = str(uuid.uuid4())  # a flow made before the upgrade
    now = datetime.now(UTC)
    await service.db.pool.execute(
        "INSERT INTO flows (id, token_digest, state, version, mode, user_id, expires_at, attempts_left, context,"
        " chain_head, created_at, updated_at) VALUES ($1::uuid, '\\x00', 'first_factor', 0, NULL, NULL, $2, 5,"
        " '{}', '', $3, $3)", old, now + timedelta(minutes=5), now)
    assert (await service.stored(old.upper())).id == old
    cancelled = await service.flows.apply(old, {"type": "cancel"}, Principal(ADMIN))
    assert cancelled.state == "cancelled" and [r["event"] for r in await service.log(old)] == ["cancel"]


async def test_a_step_between_two_open_states_adds_no_index_entry(service):
    await service.configure(["totp", "backup_code"], "mandatory")
    user = await service.new_user()
    for factor in ("totp", "backup_code"):
        await service.management.add_factor(user["id"], {"type": factor})
    flow = await service.start({"id": user["id"]})
    async with service.db.unit_of_work() as uow:
        stored = await uow.flows.get(flow.id, lock=True)
        assert stored is not None and stored.state == "factor_selection"
        stored.state, stored.version = "totp_verify", stored.version + 1
        await uow.flows.save(stored)
        hot = await uow.connection.fetchval("SELECT pg_stat_get_xact_tuples_hot_updated('flows'::regclass)")
        assert hot == 1, "the update was not HOT: it added an entry to every index of flows"


async def test_no_index_of_flows_covers_a_column_a_step_changes(service):
    covered = await service.db.pool.fetch(
        "SELECT i.indexrelid::regclass::text AS index, a.attname FROM pg_index i"
        " JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum > 0"
        " WHERE i.indrelid = 'flows'::regclass AND (a.attnum = ANY (i.indkey)"
        " OR pg_get_expr(i.indexprs, i.indrelid) ~ ('\\m' || a.attname || '\\M')"
        " OR pg_get_expr(i.indpred, i.indrelid) ~ ('\\m' || a.attname || '\\M'))")
    assert {(r["index"], r["attname"]) for r in covered if r["attname"] in CHANGED_BY_A_STEP} == set()
    assert await service.db.pool.fetchval("SELECT reloptions FROM pg_class WHERE oid = 'flows'::regclass") == [
        "fillfactor=80"], "room on each page for a row's next version"


async def test_flows_stored_before_the_upgrade_keep_their_deadlines(test_database):
    """Migration 060 on a database with flows: the open ones keep their deadline for the expiry
    sweep, the finished ones have none."""
    name = f"mfa_flow_hot_{uuid.uuid4().hex[:8]}"
    url = await test_database.create(name)
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("CREATE TABLE schema_migrations (name text PRIMARY KEY, applied_at timestamptz"
                           " NOT NULL DEFAULT now())")
        for file, sql in migration_files():
            if file < "060":
                await conn.execute(sql)
                await conn.execute("INSERT INTO schema_migrations (name) VALUES ($1)", file)
        past = datetime.now(UTC) - timedelta(minutes=1)
        for state in ("totp_verify", "done"):
            await conn.execute(
                "INSERT INTO flows (id, token_digest, state, version, expires_at, attempts_left, created_at,"
                " updated_at) VALUES (gen_random_uuid(), '\\x00', $1, 1, $2, 5, $2, $2)", state, past)
        assert "060_flows_hot_updates.sql" in await migrate(url)
        rows = {r["state"]: r["open_until"] for r in await conn.fetch("SELECT state, open_until FROM flows")}
        assert rows == {"totp_verify": past, "done": None}
        overdue = await conn.fetch("SELECT state FROM flows WHERE open_until <= now()")
        assert [r["state"] for r in overdue] == ["totp_verify"]
    finally:
        await conn.close()
        await test_database.drop(name)
