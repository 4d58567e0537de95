"""Audit work that reads or writes the database: verify, export, replay, purge.

The checks themselves are pure and live in ``audit/verify.py``; this module feeds them rows
(from the database or an export file). Checkpoints are signed in ``audit/checkpoints.py``.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Callable, Iterable, TextIO

from .. import logs
from ..domain.flow import iso
from ..domain.machine import FlowMachine
from ..keyring import Keyring
from ..store import Database
from .checkpoints import make_checkpoints
from .verify import Checkpoint, FlowHead, Report, Verifier

log = logs.get(__name__)

Progress = Callable[[int, "int | None"], None]  # (done, total): rows, or bytes of a file


def _now() -> datetime:
    return datetime.now(UTC)


# --- verify ----------------------------------------------------------------------------------


def load_jwks(path: str | Path) -> list[dict[str, Any]]:
    """Public keys pinned by the auditor (a JWKS file), instead of the ones the log carries."""
    document = json.loads(Path(path).read_text())
    return list(document["keys"] if isinstance(document, dict) else document)


async def verify_database(
    db: Database, machine: FlowMachine, pinned_keys: list[dict] | None = None, progress: Progress | None = None
) -> tuple[Report, int]:
    """Verify every row, checkpoint and flow row, all read in one snapshot. Returns the report
    and the number of rows there were to read (for the progress bar's total)."""
    async with db.unit_of_work(isolation="repeatable_read", readonly=True) as uow:
        keys = pinned_keys if pinned_keys is not None else [k.public_jwk for k in await uow.keys.every()]
        verifier = Verifier(machine, keys, await uow.audit.checkpoints(), base=await uow.audit.base_checkpoint())
        total = await uow.audit.count()
        if progress:
            progress(0, total)
        done = 0
        async for row in uow.audit.all_rows():
            verifier.feed(row)
            done += 1
            if progress and done % 20000 == 0:
                progress(done, total)
        heads = await uow.audit.flow_heads()
    report = verifier.finish(heads)
    if progress:
        progress(done, total)
    return report, total


def verify_lines(lines: Iterable[str], machine: FlowMachine, pinned_keys: list[dict] | None = None,
                 progress: Progress | None = None, total: int | None = None) -> Report:
    """Verify an export (see ``export``): key, base and checkpoint lines first, then the
    transitions in the global order, then the flow rows. No database needed."""
    keys: list[dict] = []
    base: Checkpoint | None = None
    verifier: Verifier | None = None
    heads: list[FlowHead] = []
    read = 0
    for number, line in enumerate(lines, 1):
        read += len(line)
        if progress and number % 20000 == 0:
            progress(read, total)
        if not line.strip():
            continue
        record = json.loads(line)
        if "key" in record:
            keys.append(record["key"])
            continue
        if "base" in record:
            base = Checkpoint.from_json(record["base"])
            continue
        if verifier is None:
            chosen = pinned_keys if pinned_keys is not None else (keys or None)
            verifier = Verifier(machine, chosen, base=base)
            if chosen is None:
                verifier.report.notes.append("no keys given: checkpoint signatures not checked")
        if "checkpoint" in record:
            verifier.add_checkpoint(Checkpoint.from_json(record["checkpoint"]))
        elif "flow" in record:
            heads.append(FlowHead(**record["flow"]))
        else:
            verifier.feed(record)
    if progress:
        progress(read, total)
    verifier = verifier or Verifier(machine, pinned_keys)
    return verifier.finish(heads if heads else None)


# --- export ----------------------------------------------------------------------------------


def transition_json(row) -> dict[str, Any]:
    """A log row as the API and the export carry it."""
    return {**dict(row), "at": iso(row["at"]) if isinstance(row["at"], datetime) else row["at"]}


async def export(db: Database, out: TextIO) -> int:
    """Write the whole log, in one snapshot, as NDJSON that ``audit verify --file`` reads."""
    count = 0
    async with db.unit_of_work(isolation="repeatable_read", readonly=True) as uow:
        for key in await uow.keys.every():
            out.write(json.dumps({"key": key.public_jwk}) + "\n")
        base = await uow.audit.base_checkpoint()
        if base:
            out.write(json.dumps({"base": base.as_json()}) + "\n")
        for checkpoint in await uow.audit.checkpoints():
            out.write(json.dumps({"checkpoint": checkpoint.as_json()}) + "\n")
        async for row in uow.audit.all_rows():
            out.write(json.dumps(transition_json(row), ensure_ascii=False) + "\n")
            count += 1
        for head in await uow.audit.flow_heads():
            out.write(json.dumps({"flow": head.__dict__}) + "\n")
    return count


# --- replay ----------------------------------------------------------------------------------


def _why(data: dict[str, Any]) -> str:
    facts = [data.get("guard", "?")]
    facts += [f"{k} {v}" for k, v in data.items() if k not in ("guard", "policy") and v not in (None, "")]
    if "policy" in data:
        facts.append(f"policy {data['policy']}")
    return "; ".join(str(f) for f in facts)


async def replay(db: Database, machine: FlowMachine, flow_id: str) -> list[str] | None:
    """A flow's timeline (time, actor, event, from → to, why) and whether it holds; None if
    there is no such flow."""
    async with db.unit_of_work(isolation="repeatable_read", readonly=True) as uow:
        flow = await uow.flows.get(flow_id)
        if flow is None:
            return None
        rows = await uow.transitions.of_flow(flow.id)
    lines = [f"flow {flow.id}  user {flow.user_id or '-'}  now {flow.state} at version {flow.version}"]
    width = max((len(r["event"]) for r in rows), default=5)
    for row in rows:
        lines.append(
            f"  {iso(row['at'])}  {row['actor']:<6} {row['event']:<{width}}  "
            f"{row['from_state']} → {row['to_state']}  ({_why(row['data'])})"
        )
    verifier = Verifier(machine)
    for row in rows:
        verifier.feed(row)
    report = verifier.finish([FlowHead(flow.id, flow.state, flow.version, flow.chain_head)])
    lines.append("chain and replay hold" if report.ok else f"DOES NOT HOLD: {report.first}")
    return lines


# --- retention -------------------------------------------------------------------------------


async def purge(db: Database, keyring: Keyring, older_than: timedelta) -> dict[str, Any]:
    """Remove finished flows older than ``older_than`` whose rows all lie below a fresh signed
    checkpoint; the rest of the log stays verifiable from that checkpoint. Logged."""
    await make_checkpoints(db, keyring, every_rows=10**12, every_seconds=0, force=True, max_batches=10**9)
    async with db.unit_of_work() as uow:
        checkpoint = await uow.audit.last_checkpoint()
        if checkpoint is None:
            return {"flows": 0, "transitions": 0, "checkpoint": None}
        flows, rows = await uow.audit.purge(checkpoint, _now() - older_than)
        await uow.commit()
    log.info("audit purge", flows=flows, transitions=rows, checkpoint=checkpoint.id, cursor=checkpoint.cursor)
    return {"flows": flows, "transitions": rows, "checkpoint": checkpoint.id}
