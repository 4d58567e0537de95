"""The transparency log of a running service: tree heads, proofs over HTTP, proof bundles checked
offline, and a witness that catches a rewritten or shortened log. Each test runs on a database
of its own, on a PostgreSQL of this module's own (tampering must not touch the shared one, and
rows join the tree as soon as no older transaction is in flight on the server)."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import subprocess
import sys
import tarfile
import uuid
from pathlib import Path

import asyncpg
import pytest

from mfa_flow.audit import merkle, signed_note
from tests.support.cli import mfa_flow
from tests.support.client import Api
from tests.support.forgery import rehash_chain
from tests.support.names import unique
from tests.support.otp import fresh_code
from tests.support.server import AUDITOR_KEY, ServerProcess
from tests.support.waiting import eventually

REPO = Path(__file__).resolve().parents[2]


async def cli(server: ServerProcess, *args: str):
    """``mfa-flow ARGS`` in a thread: the event loop keeps serving while it runs."""
    return await asyncio.to_thread(mfa_flow, server, *args)


async def offline(*args: str) -> subprocess.CompletedProcess:
    """``mfa-flow ARGS`` with no configuration at all: no database, no keys, nothing to reach."""
    return await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "mfa_flow.cli", *args], env={"PATH": os.environ["PATH"]},
        capture_output=True, text=True, cwd=REPO, timeout=60)



async def sign_in_with_totp_setup(api: Api) -> str:
    """A whole sign-in: password, a wrong TOTP code, the right one (from oathtool), done."""
    await api.configure(["totp"], "mandatory")
    user = await api.new_user(unique("ada"))
    flow = await api.start()
    await flow.password(user["username"])
    secret = flow.flow["challenge"]["secret"]
    right = await fresh_code(secret)
    assert (await flow.send("submit_totp", code="000000" if right != "000000" else "111111")).status == 422
    await flow.ok("submit_totp", code=right)
    assert flow.state == "done"
    return flow.id


async def cancelled_flows(api: Api, count: int) -> list[str]:
    await api.configure(["totp"], "user_controlled")
    ids = []
    for n in range(count):
        flow = await api.start({"id": unique(f"u{n}")})
        await flow.ok("skip" if n % 2 else "cancel")
        ids.append(flow.id)
    return ids


async def tree_covers_everything(server: ServerProcess, conn: asyncpg.Connection) -> int:
    """Run 'audit checkpoint' until the tree (and a signed head) holds every row. Rows join the
    tree once no older transaction is in flight on the PostgreSQL server, which other work delays."""
    total = await conn.fetchval("SELECT count(*) FROM transitions")

    async def covers_every_row() -> bool:
        made = await cli(server, "audit", "checkpoint")
        assert made.code == 0, made.err
        return await conn.fetchval("SELECT tree_size FROM audit_tree_heads ORDER BY id DESC LIMIT 1") == total

    await eventually(covers_every_row, interval=0.2, what=f"a tree head over all {total} rows")
    return total


@pytest.fixture
async def log_server(quiet_postgres, start_server, http):
    name = f"tlog_{uuid.uuid4().hex[:8]}"
    url = await quiet_postgres.create(name)
    server = await start_server.started(url, MFA_FLOW_CHECKPOINT_SECONDS="3600", MFA_FLOW_LOG_ORIGIN="mfa-flow.test/audit")
    conn = await asyncpg.connect(url)
    yield server, conn, Api(server.base_url, http)
    await conn.close()
    server.stop()
    await quiet_postgres.drop(name)


def b64(values: list[str]) -> list[bytes]:
    return [base64.b64decode(v) for v in values]


# --- proofs over HTTP, checked by the offline verifier -------------------------------------------


async def test_every_rows_inclusion_and_the_consistency_between_heads_verify_against_signed_heads(log_server):
    server, conn, api = log_server
    await cancelled_flows(api, 5)
    first_size = await tree_covers_everything(server, conn)
    first = (await api.auditor("GET", "/api/audit/log")).body
    await cancelled_flows(api, 4)
    second_size = await tree_covers_everything(server, conn)
    log = await api.auditor("GET", "/api/audit/log")
    assert log.status == 200 and set(log.body) == {"origin", "verifier_key", "checkpoint"}
    assert log.body["origin"] == "mfa-flow.test/audit"
    verifier = signed_note.Verifier.parse(log.body["verifier_key"])
    head = signed_note.open_checkpoint(log.body["checkpoint"], verifier)
    old = signed_note.open_checkpoint(first["checkpoint"], verifier)
    assert (old.size, head.size) == (first_size, second_size)

    # The key is the service's active Ed25519 signing key (published in the JWKS as well).
    jwks = (await api.call("GET", "/.well-known/jwks.json")).body
    assert base64.urlsafe_b64encode(verifier.public_key).decode().rstrip("=") in {k.get("x") for k in jwks["keys"]}

    rows = await conn.fetch("SELECT xid::text || '-' || id::text AS cursor, hash FROM transitions ORDER BY xid, id")
    for index, row in enumerate(rows):
        reply = await api.auditor("GET", f"/api/audit/proof/inclusion?cursor={row['cursor']}&tree_size={head.size}")
        assert reply.status == 200, reply
        assert reply.body["leaf_index"] == index and reply.body["tree_size"] == head.size
        merkle.verify_inclusion(index, head.size, merkle.leaf_hash(bytes.fromhex(row["hash"])), b64(reply.body["hashes"]),
                                head.root)

    reply = await api.auditor("GET", f"/api/audit/proof/consistency?first={old.size}&second={head.size}")
    assert reply.status == 200 and reply.body["first"] == old.size and reply.body["second"] == head.size
    merkle.verify_consistency(old.size, head.size, old.root, head.root, b64(reply.body["hashes"]))

    # Without tree_size the proof is for the latest signed head.
    reply = await api.auditor("GET", f"/api/audit/proof/inclusion?cursor={rows[0]['cursor']}")
    assert reply.body["tree_size"] == head.size


async def test_a_bundle_assembled_from_the_http_api_alone_verifies_offline(log_server, tmp_path):
    """An auditor with the auditor key and no database: rows, proofs and the head over HTTP,
    then the offline verifier (a separate process, no configuration)."""
    server, conn, api = log_server
    flow_id = await sign_in_with_totp_setup(api)
    await cancelled_flows(api, 3)
    await tree_covers_everything(server, conn)
    log = (await api.auditor("GET", "/api/audit/log")).body
    rows = await api.transitions(flow_id)
    flow = (await api.auditor("GET", f"/api/flows/{flow_id}")).body
    entries = []
    for row in rows:
        proof = await api.auditor("GET", f"/api/audit/proof/inclusion?cursor={row['cursor']}")
        assert proof.status == 200, proof
        entries.append({"row": row, "inclusion": proof.body})
    bundle = {"format": "mfa-flow-audit-bundle/1", "rows": entries, "checkpoint": log["checkpoint"],
              "verifier_key": log["verifier_key"],
              "flow": {"id": flow_id, "state": flow["state"], "version": flow["version"], "chain_head": rows[-1]["hash"]}}
    path = tmp_path / "from-http.json"
    path.write_text(json.dumps(bundle))
    outcome = await offline("audit", "verify-bundle", str(path), "--key", log["verifier_key"])
    assert outcome.returncode == 0, outcome.stdout + outcome.stderr
    assert "3 row(s), each included in the tree of" in outcome.stdout


async def test_bad_proof_requests_get_precise_problems(log_server):
    server, conn, api = log_server
    assert (await api.auditor("GET", "/api/audit/log")).status == 404  # no head signed yet
    await cancelled_flows(api, 2)
    size = await tree_covers_everything(server, conn)
    cursor = await conn.fetchval("SELECT xid::text || '-' || id::text FROM transitions ORDER BY xid DESC, id DESC LIMIT 1")

    async def problem(path: str, status: int, words: str) -> None:
        reply = await api.auditor("GET", path)
        assert reply.status == status, reply
        assert words in reply.problem["detail"], reply.problem

    await problem(f"/api/audit/proof/inclusion?cursor={cursor}&tree_size={size + 1}",
                  400, f"tree_size {size + 1} is beyond the current tree of {size} leaves")
    await problem(f"/api/audit/proof/inclusion?cursor={cursor}&tree_size=1", 404, "not in the tree of 1 leaves")
    await problem("/api/audit/proof/inclusion?cursor=1-999999999&tree_size=1", 404, "no row at cursor 1-999999999")
    await problem("/api/audit/proof/inclusion?cursor=banana", 400, "is not a cursor")
    await problem("/api/audit/proof/inclusion?tree_size=1", 400, "cursor is required")
    await problem(f"/api/audit/proof/inclusion?cursor={cursor}&tree_size=0", 400, "tree_size must be a whole number")
    await problem(f"/api/audit/proof/consistency?first={size}&second=1", 400, "a log only grows")
    await problem(f"/api/audit/proof/consistency?first=1&second={size + 5}", 400, "beyond the current tree")
    await problem("/api/audit/proof/consistency?first=1", 400, "first and second are required")
    await problem("/api/audit/proof/consistency?first=-1&second=2", 400, "first must be a whole number")
    assert (await api.call("GET", "/api/audit/log")).status == 401
    flow = await api.start({"id": unique("nosy")})
    assert (await api.call("GET", "/api/audit/log", flow.token)).status == 403
    reply = await api.auditor("GET", f"/api/audit/proof/consistency?first={size}&second={size}")
    assert reply.status == 200 and reply.body["hashes"] == []


# --- a sign-in's bundle, checked with no database and no network ----------------------------------


async def test_a_bundle_from_prove_verifies_offline_and_each_forgery_is_named(log_server, tmp_path):
    server, conn, api = log_server
    await cancelled_flows(api, 3)
    flow_id = await sign_in_with_totp_setup(api)
    await cancelled_flows(api, 3)
    await tree_covers_everything(server, conn)
    path = tmp_path / "bundle.json"
    made = await cli(server, "audit", "prove", flow_id, "-o", str(path))
    assert made.code == 0, made.err
    bundle = json.loads(path.read_text())
    assert [e["row"]["event"] for e in bundle["rows"]] == ["submit_password", "submit_totp", "submit_totp"]
    if os.environ.get("MFA_FLOW_WRITE_EXAMPLE_BUNDLE"):  # how docs/examples/sign-in-bundle.json was made
        Path(os.environ["MFA_FLOW_WRITE_EXAMPLE_BUNDLE"]).write_text(path.read_text())

    async def verify_bundle(document: dict, *extra: str) -> subprocess.CompletedProcess:
        forged = tmp_path / "check.json"
        forged.write_text(json.dumps(document))
        return await offline("audit", "verify-bundle", str(forged), *extra)

    good = await verify_bundle(bundle, "--key", bundle["verifier_key"])
    assert good.returncode == 0, good.stdout + good.stderr
    assert good.stdout.splitlines()[-1].startswith("OK: the signature, every inclusion proof, the hash chain")

    async def fails(document: dict, words: str) -> None:
        outcome = await verify_bundle(document)
        assert outcome.returncode == 1
        [line] = outcome.stdout.splitlines()
        assert line.startswith("FAILED: ") and words in line, line

    tampered = json.loads(json.dumps(bundle))
    tampered["rows"][2]["row"]["actor"] = "admin"
    await fails(tampered, "seq 3): the hash does not match the row's content: the row was changed")

    dropped = json.loads(json.dumps(bundle))
    del dropped["rows"][1]
    await fails(dropped, "seq 3 follows seq 1 in this flow: a row is missing")

    reordered = json.loads(json.dumps(bundle))
    reordered["rows"][1], reordered["rows"][2] = reordered["rows"][2], reordered["rows"][1]
    await fails(reordered, "the rows are out of the log's order")

    # A rewritten history: the forger edits a row and re-hashes the chain so that it holds.

    rewritten = json.loads(json.dumps(bundle))
    rows = [e["row"] for e in rewritten["rows"]]
    rows[1]["data"]["factor"] = "backup_code"
    rewritten["flow"]["chain_head"] = rehash_chain(rows)
    await fails(rewritten, "this row is not the one the log signed")

    # A tree head edited after signing.
    size = signed_note.TreeHead.parse(bundle["checkpoint"].split("\n\n")[0] + "\n").size
    edited = json.loads(json.dumps(bundle))
    edited["checkpoint"] = edited["checkpoint"].replace(f"\n{size}\n", f"\n{size + 1}\n", 1)
    await fails(edited, "tree head: the signature of mfa-flow.test/audit does not verify")


async def test_the_committed_example_bundle_verifies_offline():
    outcome = await offline("audit", "verify-bundle", str(REPO / "docs" / "examples" / "sign-in-bundle.json"))
    assert outcome.returncode == 0, outcome.stdout + outcome.stderr


# --- the witness ---------------------------------------------------------------------------------


async def witness(server: ServerProcess, state: Path, *extra: str):
    return await cli(server, "audit", "witness", "--url", server.base_url, "--state", str(state),
                     "--auditor-key", AUDITOR_KEY, "--once", *extra)


async def rebuild_tree_from(server: ServerProcess, conn: asyncpg.Connection) -> None:
    """What an operator who rewrites history has to do: throw the tree away and sign anew."""
    await conn.execute("TRUNCATE audit_tree_leaves, audit_tree_nodes")
    await tree_covers_everything(server, conn)


async def test_the_witness_follows_a_growing_log_and_alarms_when_it_is_rewritten(log_server, tmp_path):
    server, conn, api = log_server
    state = tmp_path / "witness.json"
    await cancelled_flows(api, 3)
    await tree_covers_everything(server, conn)
    seen = await witness(server, state)
    assert seen.code == 0, seen.out + seen.err
    assert "verified (pinned mfa-flow.test/audit+" in seen.out
    pinned = json.loads(state.read_text())
    await cancelled_flows(api, 3)
    size = await tree_covers_everything(server, conn)
    grown = await witness(server, state)
    assert grown.code == 0 and f"tree head at size {size} verified and consistent with size" in grown.out, grown.out
    assert (await witness(server, state)).code == 0  # unchanged

    # History rewritten: one row's content and hash changed, the tree rebuilt and re-signed.
    await conn.execute("ALTER TABLE transitions DISABLE TRIGGER transitions_append_only")
    victim = await conn.fetchval("SELECT id FROM transitions ORDER BY xid, id LIMIT 1 OFFSET 2")
    await conn.execute("UPDATE transitions SET actor = 'admin', hash = repeat('ab', 32) WHERE id = $1", victim)
    await rebuild_tree_from(server, conn)
    forked = await witness(server, state)
    assert forked.code == 1
    assert f"ALARM: the log forked between {size} and {size} leaves: two different roots" in forked.out, forked.out

    # The same forged log, grown: the consistency proof from the last good head fails.
    await cancelled_flows(api, 2)
    await tree_covers_everything(server, conn)
    forked = await witness(server, state)
    assert forked.code == 1 and f"ALARM: the log forked between {size} and " in forked.out, forked.out

    # A shortened log.
    await conn.execute("DELETE FROM transitions WHERE id IN (SELECT id FROM transitions ORDER BY xid DESC, id DESC LIMIT 6)")
    await rebuild_tree_from(server, conn)
    shrunk = await witness(server, state)
    assert shrunk.code == 1 and f"ALARM: the log shrank from {size} to" in shrunk.out, shrunk.out

    # A head signed by another key than the pinned one.
    state.write_text(json.dumps({**pinned, "tree_size": None, "root": None}))
    other = signed_note.verifier_key("mfa-flow.test/audit", bytes(32))
    stranger = await witness(server, state, "--key", other)
    assert stranger.code == 1 and "does not verify with the pinned key" in stranger.out
    await conn.execute("ALTER TABLE transitions ENABLE TRIGGER transitions_append_only")


# --- logs written before the upgrade -----------------------------------------------------------------


def code_before_the_tree(tmp_path: Path) -> Path:
    """This repository as it was before the transparency log (the commit before migration 006)."""
    added = subprocess.run(["git", "log", "--diff-filter=A", "--format=%H", "--",
                            "mfa_flow/store/migrations/006_transparency.sql"],
                           cwd=REPO, capture_output=True, text=True)
    commits = added.stdout.split()
    base = f"{commits[-1]}^" if added.returncode == 0 and commits else "HEAD"
    archive = tmp_path / "old.tar"
    made = subprocess.run(["git", "archive", "-o", str(archive), base, "mfa_flow", "schemas"], cwd=REPO,
                          capture_output=True)
    if made.returncode != 0:
        pytest.skip("not a git checkout: the code before the upgrade is not at hand")
    with tarfile.open(archive) as tar:
        tar.extractall(tmp_path / "old", filter="data")
    old = tmp_path / "old"
    if (old / "mfa_flow" / "store" / "migrations" / "006_transparency.sql").exists():
        pytest.skip("the transparency log is not committed yet: no older code to compare with")
    return old


async def test_a_row_written_before_the_upgrade_gets_a_proof(quiet_postgres, http, tmp_path):
    old_code = code_before_the_tree(tmp_path)
    name = f"upgrade_{uuid.uuid4().hex[:8]}"
    url = await quiet_postgres.create(name)
    old = ServerProcess(url, MFA_FLOW_CHECKPOINT_SECONDS="3600")
    old.cwd = old_code  # python -m puts the working folder first on the path
    await old.started()
    conn = await asyncpg.connect(url)
    try:
        api = Api(old.base_url, http)
        [before, *_] = await cancelled_flows(api, 3)
        made = await cli(old, "audit", "checkpoint")  # a running-hash checkpoint by the old code
        assert made.code == 0 and "checkpoint(s) signed" in made.out, made.err
        assert await conn.fetchval("SELECT count(*) FROM schema_migrations WHERE name LIKE '006%'") == 0
        old.stop()

        new = await ServerProcess(url, MFA_FLOW_CHECKPOINT_SECONDS="3600").started()
        try:
            api = Api(new.base_url, http)
            await cancelled_flows(api, 2)
            await tree_covers_everything(new, conn)
            bundle = tmp_path / "before.json"
            assert (await cli(new, "audit", "prove", before, "-o", str(bundle))).code == 0
            checked = await cli(new, "audit", "verify-bundle", str(bundle))
            assert checked.code == 0, checked.out
            document = json.loads(bundle.read_text())
            assert document["rows"][0]["inclusion"]["leaf_index"] == 0  # the oldest row is the first leaf
            verified = await cli(new, "audit", "verify")  # the old running-hash checkpoint still holds
            assert verified.code == 0 and "OK: every chain holds" in verified.out, verified.out
            old_checkpoint = await conn.fetchval("SELECT min(id) FROM audit_checkpoints")
            assert old_checkpoint == 1 and "checkpoints verified: 1 " not in verified.out
        finally:
            new.stop()
    finally:
        await conn.close()
        await quiet_postgres.drop(name)
