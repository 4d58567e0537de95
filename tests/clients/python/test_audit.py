"""An auditor with the Python client: the log exported as an async iterator, a row's inclusion
and the log's consistency proven against a pinned key, and a sign-in's proof bundle — from
``mfa-flow audit prove`` or assembled by the client — checked offline, in a process where
neither the service's package nor a database driver can be imported and no socket can open."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
import uuid
from pathlib import Path

import asyncpg
import pytest
from mfa_flow_client import MfaFlowClient, ProofError, verify_bundle
from mfa_flow_client.proofs import NoteVerifier, verify_chain

from tests.support.cli import mfa_flow
from tests.support.names import unique
from tests.support.server import ADMIN_KEY, AUDITOR_KEY, ServerProcess
from tests.support.waiting import eventually

CLIENT_SOURCE = Path(__file__).resolve().parents[3] / "clients" / "python" / "src"
ORIGIN = "mfa-flow.test/audit"

# Run in a fresh interpreter: the service's package and PostgreSQL's driver cannot be imported,
# and no socket can be opened, so the check can only be offline and the client's own.
OFFLINE = """
import builtins, socket, sys
real_import = builtins.__import__
def guarded(name, *args, **kwargs):
    if name.split(".")[0] in ("mfa_flow", "asyncpg", "pgserver"):
        raise ImportError(f"{name} is not installed here")
    return real_import(name, *args, **kwargs)
builtins.__import__ = guarded
def no_network(*args, **kwargs):
    raise OSError("no network here")
socket.socket.connect = no_network
socket.create_connection = no_network
from mfa_flow_client.__main__ import main
raise SystemExit(main(sys.argv[1:]))
"""


def other_key() -> str:
    """A well-formed verifier key of the same name that the log does not sign with."""
    public = bytes(range(32))
    return str(NoteVerifier(ORIGIN, NoteVerifier.id_of(ORIGIN, public), public))


def check_offline(bundle_path: Path, key: str | None) -> subprocess.CompletedProcess:
    args = [str(bundle_path)] + (["--key", key] if key else [])
    return subprocess.run([sys.executable, "-I", "-c", OFFLINE, "verify-bundle", *args], capture_output=True, text=True,
                          env={"PYTHONPATH": str(CLIENT_SOURCE)}, timeout=60)


@pytest.fixture(scope="module")
async def log_server(quiet_postgres):
    """A server on a PostgreSQL of this module's own, where rows settle (and join the tree) as
    soon as they commit."""
    name = f"pyaudit_{uuid.uuid4().hex[:8]}"
    url = await quiet_postgres.create(name)
    server = await ServerProcess(url, MFA_FLOW_CHECKPOINT_SECONDS="3600", MFA_FLOW_LOG_ORIGIN=ORIGIN).started()
    conn = await asyncpg.connect(url)
    yield server, conn
    await conn.close()
    server.stop()
    await quiet_postgres.drop(name)


async def signed_tree_over_everything(server: ServerProcess, conn: asyncpg.Connection) -> None:
    total = await conn.fetchval("SELECT count(*) FROM transitions")

    async def covered() -> bool:
        made = mfa_flow(server, "audit", "checkpoint")
        assert made.code == 0, made.err
        return await conn.fetchval("SELECT tree_size FROM audit_tree_heads ORDER BY id DESC LIMIT 1") == total

    await eventually(covered, interval=0.2, what=f"a tree head over all {total} rows")


@pytest.fixture
async def auditor(log_server):
    async with MfaFlowClient(log_server[0].base_url, AUDITOR_KEY) as client:
        yield client


@pytest.fixture
async def cancelled_flow(log_server):
    async with MfaFlowClient(log_server[0].base_url, ADMIN_KEY) as admin:
        await admin.config.put({"factors": ["totp"], "policy": "mandatory"})
        session = await admin.flows.start({"user": {"id": unique("audited")}})
        await session.send({"type": "cancel"})
        return session.id


async def test_the_export_iterates_the_whole_log_and_resumes_from_a_cursor(log_server, auditor, cancelled_flow):
    await signed_tree_over_everything(*log_server)
    rows = [row async for row in auditor.audit.export(page_size=2)]
    assert len(rows) == await log_server[1].fetchval("SELECT count(*) FROM transitions")
    assert len({row["cursor"] for row in rows}) == len(rows)
    mine = [row for row in rows if row["flow_id"] == cancelled_flow]
    assert [row["to_state"] for row in mine][-1] == "cancelled"
    assert verify_chain(mine) == mine[-1]["hash"]
    rest = [row async for row in auditor.audit.export(after=rows[1]["cursor"])]
    assert rest == rows[2:]


async def test_a_row_is_proven_in_the_log_and_the_log_only_grew(log_server, auditor, cancelled_flow):
    await signed_tree_over_everything(*log_server)
    log = await auditor.audit.log()
    pinned = log["verifier_key"]
    earlier = log["checkpoint"]
    row = (await auditor.flows.transitions(cancelled_flow))[-1]
    head = await auditor.audit.check_row(row, pinned)
    assert head.origin == ORIGIN

    async with MfaFlowClient(log_server[0].base_url, ADMIN_KEY) as admin:
        more = await admin.flows.start({"user": {"id": unique("later")}})
        await more.send({"type": "cancel"})
    await signed_tree_over_everything(*log_server)
    old, new = await auditor.audit.check_consistency(earlier, pinned)
    assert new.size > old.size

    forged = copy.deepcopy(row)
    forged["hash"] = "00" * 32
    with pytest.raises(ProofError, match="does not lead to the root"):
        await auditor.audit.check_row(forged, pinned)
    with pytest.raises(ProofError, match="no signature"):
        await auditor.audit.check_consistency(earlier, other_key())


async def test_a_bundle_from_the_cli_and_one_the_client_assembles_are_the_same_and_check_offline(
        log_server, auditor, cancelled_flow, tmp_path):
    server, conn = log_server
    await signed_tree_over_everything(server, conn)
    path = tmp_path / "bundle.json"
    made = mfa_flow(server, "audit", "prove", cancelled_flow, "-o", str(path))
    assert made.code == 0, made.err
    from_cli = json.loads(path.read_text())
    assembled = await auditor.audit.prove(cancelled_flow)
    assert assembled == from_cli

    pinned = (await auditor.audit.log())["verifier_key"]
    report = verify_bundle(assembled, pinned)
    assert (report.flow_id, report.state, report.key_pinned) == (cancelled_flow, "cancelled", True)
    assert report.rows == len(assembled["rows"])

    checked = check_offline(path, pinned)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "OK:" in checked.stdout and "pinned" in checked.stdout


async def test_each_forgery_of_a_bundle_is_named_offline(log_server, auditor, cancelled_flow, tmp_path):
    await signed_tree_over_everything(*log_server)
    bundle = await auditor.audit.prove(cancelled_flow)
    pinned = (await auditor.audit.log())["verifier_key"]

    def forged(change) -> Path:
        edited = copy.deepcopy(bundle)
        change(edited)
        path = tmp_path / f"forged-{uuid.uuid4().hex[:6]}.json"
        path.write_text(json.dumps(edited))
        return path

    def set_actor(b):
        b["rows"][0]["row"]["actor"] = "admin" if b["rows"][0]["row"]["actor"] != "admin" else "user"

    cases = {
        "a changed row": (forged(set_actor), pinned, "its hash does not match its contents"),
        "a row with another hash": (forged(lambda b: b["rows"][0]["row"].update(hash="ab" * 32)), pinned,
                                    "this row is not the one the log signed"),
        "a dropped row": (forged(lambda b: b["rows"].pop()), pinned, "chain head"),
        "another log's key": (forged(lambda b: None), other_key(), "no signature"),
        "the bundle's own key swapped": (forged(lambda b: b.update(verifier_key=other_key())), None, "no signature"),
        "a changed tree head": (forged(lambda b: b.update(checkpoint=b["checkpoint"].replace("\n", "\n9", 1))),
                                pinned, "does not verify"),
        "not a bundle": (forged(lambda b: b.update(format="something else")), pinned, "not a proof bundle"),
    }
    for what, (path, key, reason) in cases.items():
        checked = check_offline(path, key)
        assert checked.returncode == 1, f"{what}: {checked.stdout}{checked.stderr}"
        assert checked.stdout.startswith("FAILED:") and reason in checked.stdout, f"{what}: {checked.stdout}"
        assert "Traceback" not in checked.stderr
