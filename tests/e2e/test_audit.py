"""Auditing the transition log of a running service: the global feed, verify, replay, export.

Tampering needs a database of its own (the shared one must stay clean for the other tests),
so those tests start a second server on a scratch database. It lives on a PostgreSQL server
of its own: checkpoints and purges cover only rows below the oldest transaction in flight
anywhere on the server, so other tests (another xdist worker, another run) would hold them back.
"""

from __future__ import annotations

import asyncio
import json
import uuid

import asyncpg
import pytest

from tests.support.cli import mfa_flow
from tests.support.client import Api
from tests.support.names import unique
from tests.support.waiting import eventually

FLOWS = 2400



async def sign_ins(api: Api, count: int, concurrency: int = 16) -> None:
    """Real flows through the HTTP API: asserted by a backend, then set-up, skip, wrong code,
    cancel or done straight away, so the log holds every kind of edge the setup path has."""
    await api.configure(["totp"], "user_controlled")
    queue: asyncio.Queue[int] = asyncio.Queue()
    for n in range(count):
        queue.put_nowait(n)

    async def worker():
        while not queue.empty():
            n = queue.get_nowait()
            flow = await api.start({"id": unique(f"u{n}")})
            assert flow.state == "totp_setup"
            if n % 4 == 0:
                await flow.ok("skip")
            elif n % 4 == 1:
                assert (await flow.send("submit_totp", code="not-a-code")).status in (400, 422)
                await flow.ok("cancel")
            elif n % 4 == 2:
                await flow.ok("cancel")

    await asyncio.gather(*(worker() for _ in range(concurrency)))


async def test_verify_over_thousands_of_real_flows_is_clean_and_an_export_verifies_offline(api, server, tmp_path,
                                                                                            run_database):
    await sign_ins(api, FLOWS)
    verified = mfa_flow(server, "audit", "verify", "--no-progress")
    assert verified.code == 0, verified.out + verified.err
    assert "OK: every chain holds" in verified.out
    rows = int(verified.out.split("rows checked: ")[1].split()[0])
    assert rows >= FLOWS * 2

    # The server's sweep may expire a flow of an earlier test at any moment (one more row): the
    # export holds the rows of one moment between these two counts.
    conn = await run_database.get()
    before = await conn.fetchval("SELECT count(*) FROM transitions")
    export = tmp_path / "export.ndjson"
    assert mfa_flow(server, "audit", "export", "-o", str(export)).code == 0
    after = await conn.fetchval("SELECT count(*) FROM transitions")
    offline = mfa_flow(server, "audit", "verify", "--file", str(export))
    assert offline.code == 0, offline.out
    exported = int(offline.out.split("rows checked: ")[1].split()[0])
    assert rows <= before <= exported <= after, "the export holds exactly the rows the database held"


async def test_the_feed_pages_through_every_row_in_order(api, server):
    await sign_ins(api, 20)
    seen, cursor = [], "0"
    while True:
        reply = await api.auditor("GET", f"/api/audit/transitions?after={cursor}&limit=7")
        assert reply.status == 200 and reply.headers["Content-Type"].startswith("application/x-ndjson")
        page = [json.loads(line) for line in reply.body.splitlines()]
        if not page:
            assert reply.headers["Next-Cursor"] == cursor
            break
        seen += page
        cursor = reply.headers["Next-Cursor"]
        assert cursor == page[-1]["cursor"]
    order = [tuple(map(int, row["cursor"].split("-"))) for row in seen]
    assert order == sorted(order) and len(set(order)) == len(order)
    one = seen[-1]
    assert (await api.auditor("GET", f"/api/flows/{one['flow_id']}/transitions")).body[-1] == one


async def test_the_feed_never_hands_out_a_row_before_an_older_transaction_commits(fresh_database, start_server, http):
    """A reader that resumes from its last cursor must not miss a row committed late.
    (On a database of its own: the late row is not a real transition, and would fail ``audit verify``.)"""
    api = Api((await start_server.started(fresh_database)).base_url, http)
    flow_id = str(uuid.uuid4())
    slow = await asyncpg.connect(fresh_database)
    try:
        transaction = slow.transaction()
        await transaction.start()
        # A writer that started first and commits last (as a slow event would).
        await slow.execute(
            "INSERT INTO flows (id, token_digest, state, version, expires_at, attempts_left, created_at, updated_at)"
            " VALUES ($1, '\\x00', 'cancelled', 1, now(), 5, now(), now())",
            uuid.UUID(flow_id),
        )
        late_hash = "ab" * 32
        await slow.execute(
            "INSERT INTO transitions (flow_id, seq, event, from_state, to_state, at, actor, data, prev_hash, hash)"
            " VALUES ($1, 1, 'cancel', 'first_factor', 'cancelled', now(), 'user', '{\"guard\":\"always\"}', '', $2)",
            uuid.UUID(flow_id),
            late_hash,
        )
        before = await api.auditor("GET", "/api/audit/transitions?limit=10000")
        cursor = before.headers["Next-Cursor"]
        fast = await api.start({"id": unique("fast")})  # commits while the slow writer is open
        held = await api.auditor("GET", f"/api/audit/transitions?after={cursor}&limit=10000")
        assert fast.id not in held.body, "a row above an open transaction must wait for it"
        await transaction.commit()
    finally:
        await slow.close()

    async def ids_once_the_fast_row_shows():
        """Both rows appear once no older transaction is in flight on the PostgreSQL server."""
        after = await api.auditor("GET", f"/api/audit/transitions?after={cursor}&limit=10000")
        ids = [json.loads(line)["flow_id"] for line in after.body.splitlines()]
        return ids if fast.id in ids else None

    ids = await eventually(ids_once_the_fast_row_shows, interval=0.1,
                           what="the feed to hand out the fast row after the slow transaction committed")
    assert flow_id in ids and ids.index(flow_id) < ids.index(fast.id)


async def test_the_feed_is_for_the_admin_and_the_auditor_only(api):
    flow = await api.start()
    assert (await api.call("GET", "/api/audit/transitions")).status == 401
    assert (await api.call("GET", "/api/audit/transitions", flow.token)).status == 403
    assert (await api.admin("GET", "/api/audit/transitions?limit=1")).status == 200
    bad = await api.auditor("GET", "/api/audit/transitions?after=yesterday")
    assert bad.status == 400 and "cursor" in bad.problem["detail"]
    assert (await api.auditor("GET", "/api/audit/transitions?limit=0")).status == 400


async def test_replay_prints_a_readable_timeline(api, server):
    await api.configure(["totp"], "mandatory")
    flow = await api.start({"id": unique("rex")})
    await flow.ok("cancel")
    timeline = mfa_flow(server, "audit", "replay", flow.id)
    assert timeline.code == 0, timeline.err
    lines = timeline.out.splitlines()
    assert lines[0].startswith(f"flow {flow.id}") and "now cancelled at version 2" in lines[0]
    assert "first_factor_asserted" in lines[1] and "first_factor → totp_setup" in lines[1]
    assert "rule setup.required" in lines[1]
    assert "user" in lines[2] and "cancel" in lines[2] and "totp_setup → cancelled" in lines[2]
    assert lines[-1] == "chain and replay hold"
    assert mfa_flow(server, "audit", "replay", str(uuid.uuid4())).code == 2


# --- tampering, on a database of its own ---------------------------------------------------


@pytest.fixture
async def scratch(quiet_postgres, start_server, http):
    name = f"audit_{uuid.uuid4().hex[:8]}"
    url = await quiet_postgres.create(name)
    server = await start_server.started(url, MFA_FLOW_CHECKPOINT_SECONDS="3600")
    api = Api(server.base_url, http)
    await api.configure(["totp"], "user_controlled")
    flows = []
    for n in range(6):
        flow = await api.start({"id": unique(f"t{n}")})
        await flow.send("submit_totp", code="12345")  # too short: 400, no row
        await flow.ok("skip" if n % 2 else "cancel")
        flows.append(flow)
    conn = await asyncpg.connect(url)
    yield server, conn, flows
    await conn.close()
    server.stop()
    await quiet_postgres.drop(name)


async def rows_of(conn, flow_id: str) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT xid::text || '-' || id::text AS cursor, * FROM transitions WHERE flow_id = $1 ORDER BY seq",
        uuid.UUID(flow_id),
    )


async def checkpoint_everything(server, conn) -> None:
    """Sign checkpoints until one covers every row. Rows are only checkpointed once no older
    transaction is in flight anywhere on the PostgreSQL server, which other work may delay."""
    total = await conn.fetchval("SELECT count(*) FROM transitions")

    async def covers_every_row() -> bool:
        made = await asyncio.to_thread(mfa_flow, server, "audit", "checkpoint")
        assert made.code == 0, made.err
        return await conn.fetchval("SELECT max(rows) FROM audit_checkpoints") == total

    await eventually(covers_every_row, interval=0.2, what=f"a checkpoint that covers all {total} rows")


def failed_at(server, cursor: str) -> str:
    outcome = mfa_flow(server, "audit", "verify")
    assert outcome.code == 1, outcome.out
    first = outcome.out.split("first: ")[1].splitlines()[0]
    assert first.startswith(f"row {cursor} "), first
    return first


async def test_the_log_refuses_updates_and_deletes(scratch):
    _, conn, flows = scratch
    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
        await conn.execute("UPDATE transitions SET actor = 'admin'")
    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
        await conn.execute("DELETE FROM transitions WHERE flow_id = $1", uuid.UUID(flows[0].id))
    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
        await conn.execute("TRUNCATE transitions CASCADE")


async def test_one_changed_byte_deleted_row_or_swapped_rows_fail_verify_naming_the_row(scratch):
    server, conn, flows = scratch
    assert mfa_flow(server, "audit", "verify").code == 0
    await conn.execute("ALTER TABLE transitions DISABLE TRIGGER transitions_append_only")

    first, second, *_ = await rows_of(conn, flows[1].id)
    # One byte of one row's data.
    await conn.execute(
        "UPDATE transitions SET data = replace(data::text, 'setup.offered', 'setup.offeree')::jsonb WHERE id = $1",
        first["id"],
    )
    assert "was changed" in failed_at(server, first["cursor"])
    await conn.execute("UPDATE transitions SET data = $2::jsonb WHERE id = $1", first["id"], first["data"])
    assert mfa_flow(server, "audit", "verify").code == 0

    # A deleted row: the chain breaks at the row after it.
    await conn.execute("DELETE FROM transitions WHERE id = $1", first["id"])
    assert "seq 2 follows seq 0" in failed_at(server, second["cursor"])
    columns = [c for c in first.keys() if c != "cursor"]
    await conn.execute(
        f"INSERT INTO transitions ({', '.join(columns)}) VALUES ({', '.join(f'${i + 1}' for i in range(len(columns)))})",
        *[first[c] for c in columns],
    )
    assert mfa_flow(server, "audit", "verify").code == 0

    # Two rows swapped in the global order.
    async def swap(a, b):
        await conn.execute("UPDATE transitions SET id = -id WHERE id = $1", a["id"])
        await conn.execute("UPDATE transitions SET xid = $2::text::xid8, id = $3 WHERE id = $1",
                           b["id"], str(a["xid"]), a["id"])
        await conn.execute("UPDATE transitions SET xid = $2::text::xid8, id = $3 WHERE id = $1",
                           -a["id"], str(b["xid"]), b["id"])

    await swap(first, second)
    assert "seq 2 follows seq 0" in failed_at(server, first["cursor"])
    first_now, second_now, *_ = await rows_of(conn, flows[1].id)
    await swap(second_now, first_now)
    assert mfa_flow(server, "audit", "verify").code == 0

    # The last row of a flow removed: the flow row gives it away.
    last = (await rows_of(conn, flows[2].id))[-1]
    await conn.execute("DELETE FROM transitions WHERE id = $1", last["id"])
    outcome = mfa_flow(server, "audit", "verify")
    assert outcome.code == 1 and f"first: flow {flows[2].id}: " in outcome.out
    assert f"row seq {last['seq']} and after are missing" in outcome.out
    await conn.execute("ALTER TABLE transitions ENABLE TRIGGER transitions_append_only")


async def test_a_signed_checkpoint_catches_a_rewritten_tail_offline(scratch, tmp_path):
    server, conn, flows = scratch
    await checkpoint_everything(server, conn)
    export = tmp_path / "log.ndjson"
    assert mfa_flow(server, "audit", "export", "-o", str(export)).code == 0
    good = mfa_flow(server, "audit", "verify", "--file", str(export))
    assert good.code == 0 and "checkpoints verified: " in good.out, good.out
    assert "checkpoints verified: 0" not in good.out and "not checkable" not in good.out, good.out

    # A forger drops a flow from the copy: its rows and its flow row. Every chain left holds.
    victim = flows[0].id
    kept = [line for line in export.read_text().splitlines() if victim not in line]
    forged = tmp_path / "forged.ndjson"
    forged.write_text("\n".join(kept) + "\n")
    outcome = mfa_flow(server, "audit", "verify", "--file", str(forged))
    assert outcome.code == 1 and "first: checkpoint 1 at cursor" in outcome.out, outcome.out

    # An edited byte in the copy is named as in the database.
    lines = export.read_text().splitlines()
    index = next(i for i, line in enumerate(lines) if '"setup.offered"' in line and '"checkpoint"' not in line)
    row = json.loads(lines[index])
    lines[index] = lines[index].replace('"setup.offered"', '"setup.offerec"')
    forged.write_text("\n".join(lines) + "\n")
    outcome = mfa_flow(server, "audit", "verify", "--file", str(forged))
    assert outcome.code == 1 and f"first: row {row['cursor']} " in outcome.out, outcome.out


async def test_checkpoints_are_published_with_the_keys_that_signed_them(scratch, http):
    server, conn, _ = scratch
    await checkpoint_everything(server, conn)
    api = Api(server.base_url, http)
    reply = await api.auditor("GET", "/api/audit/checkpoints")
    assert reply.status == 200
    # One checkpoint, or more when rows settled in steps (other transactions on the server hold
    # the horizon back for a moment).
    assert reply.body["items"]
    from jwcrypto import jwk, jws

    for checkpoint in reply.body["items"]:
        assert set(checkpoint) == {"id", "cursor", "rows", "running_hash", "at", "kid", "signature"}
        assert checkpoint["kid"] in {k["kid"] for k in reply.body["keys"]}
        verifier = jws.JWS()
        verifier.deserialize(checkpoint["signature"])
        key = next(k for k in reply.body["keys"] if k["kid"] == checkpoint["kid"])
        verifier.verify(jwk.JWK(**key), alg=key["alg"])
        assert json.loads(verifier.payload) == {k: checkpoint[k] for k in ("cursor", "rows", "running_hash", "at")}


async def test_a_purge_removes_old_flows_and_the_rest_still_verifies(scratch, http):
    server, conn, flows = scratch
    before = await conn.fetchval("SELECT count(*) FROM transitions")
    purged = mfa_flow(server, "audit", "purge", "--older-than-days", "0")
    assert purged.code == 0, purged.err
    assert f"purged {before} transitions of {len(flows)} finished flows" in purged.out
    assert await conn.fetchval("SELECT count(*) FROM audit_purges") == 1
    again = await Api(server.base_url, http).start({"id": unique("after")})
    await again.ok("cancel")
    outcome = mfa_flow(server, "audit", "verify")
    assert outcome.code == 0, outcome.out
    assert "rows checked: 2 " in outcome.out
