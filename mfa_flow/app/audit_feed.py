"""Audit work that reads or writes the database: verify, export, replay, purge.

The checks themselves are pure and live in ``audit/verify.py``; this module feeds them rows
(from the database or an export file). Checkpoints are signed in ``app/audit_checkpoints.py``.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, TextIO

from .. import logs
from ..audit.verify import Checkpoint, FlowHead, Report, Verifier, parse_cursor
from ..domain.errors import DomainError
from ..domain.flow import iso
from ..domain.machine import FlowMachine
from ..keyring import Keyring
from ..store import Database, UnitOfWork
from . import transparency
from .audit_checkpoints import make_checkpoints

log = logs.get(__name__)

Progress = Callable[[int, "int | None"], None]  # (done, total): rows, or bytes of a file


def _now() -> datetime:
    return datetime.now(UTC)


# --- verify ----------------------------------------------------------------------------------


class UnreadableInput(DomainError, ValueError):
    """An export or key file that is not what ``audit verify`` reads: said in one line
    (which file, which line, what is wrong), never as a traceback."""


def load_jwks(path: str | Path) -> list[dict[str, Any]]:
    """Public keys pinned by the auditor (a JWKS file), instead of the ones the log carries."""
    try:
        document = json.loads(Path(path).read_bytes())
    except OSError as exc:
        raise UnreadableInput(f"cannot read the key file {path}: {exc.strerror or exc}") from None
    except (ValueError, RecursionError) as exc:
        raise UnreadableInput(f"the key file {path} is not JSON: {exc}") from None
    keys = document.get("keys") if isinstance(document, dict) else document
    if not isinstance(keys, list) or not all(isinstance(k, dict) for k in keys):
        raise UnreadableInput(f'the key file {path} is not a JWKS: expected {{"keys": [<JWK object>, ...]}}')
    return keys


async def verify_database(
    db: Database, machine: FlowMachine, pinned_keys: list[dict[str, Any]] | None = None, progress: Progress | None = None
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


# The fields of each kind of export line, and their JSON types (bool is no integer here).
_TRANSITION_FIELDS = {"cursor": str, "flow_id": str, "seq": int, "event": str, "from_state": str,
                      "to_state": str, "at": str, "actor": str, "data": dict, "prev_hash": str, "hash": str}
_CHECKPOINT_FIELDS = {"id": int, "cursor": str, "rows": int, "running_hash": str, "at": str, "kid": str,
                      "signature": str}
_FLOW_FIELDS = {"id": str, "state": str, "version": int, "chain_head": str}
_JSON_TYPE = {str: "a string", int: "an integer", dict: "an object"}


def _fields_problem(record: dict[str, Any], fields: dict[str, type], what: str, exact: bool) -> str | None:
    missing = [name for name in fields if name not in record]
    if missing:
        return f"not {what}: it has no {', '.join(missing)}"
    for name, kind in fields.items():
        value = record[name]
        if not isinstance(value, kind) or isinstance(value, bool):
            return f"not {what}: {name} must be {_JSON_TYPE[kind]}"
    extra = sorted(record.keys() - fields.keys()) if exact else []
    if extra:
        return f"not {what}: unexpected field(s) {', '.join(extra)}"
    return None


def _export_record(raw: bytes | str) -> tuple[str, Any]:
    """One export line as (kind, value): key, base, checkpoint, flow or transition; else
    ``UnreadableInput`` saying what is wrong with it (without the line number)."""
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    except UnicodeDecodeError as exc:
        raise UnreadableInput(f"not UTF-8 text (byte {exc.start + 1} of the line)") from None
    try:
        record = json.loads(text)
    except ValueError as exc:
        raise UnreadableInput(f"not JSON ({exc})") from None
    except RecursionError:
        raise UnreadableInput("JSON nested too deeply") from None
    if not isinstance(record, dict):
        kind = {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}.get(type(record), "a number")
        raise UnreadableInput(f"{kind}, not a JSON object")
    for kind in ("key", "base", "checkpoint", "flow"):
        if kind in record and len(record) == 1:
            value = record[kind]
            if kind == "key":
                problem = None if isinstance(value, dict) else "not a key line: key must be an object (a JWK)"
            elif not isinstance(value, dict):
                problem = f"not a {kind} line: {kind} must be an object"
            elif kind == "flow":
                problem = _fields_problem(value, _FLOW_FIELDS, "a flow line", exact=True)
            else:
                problem = _fields_problem(value, _CHECKPOINT_FIELDS, f"a {kind} line", exact=False)
            if problem:
                raise UnreadableInput(problem)
            if kind == "flow":
                return kind, FlowHead(**value)
            return kind, value if kind == "key" else Checkpoint.from_json(value)
    if {"type", "title", "status"} <= record.keys() and "flow_id" not in record:
        title = str(record.get("title"))[:80]
        raise UnreadableInput(f"an error document (problem+json: {title!r}), not a transition: did the export fail?")
    problem = _fields_problem(record, _TRANSITION_FIELDS, "a transition", exact=False)
    if problem:
        raise UnreadableInput(problem)
    return "transition", record


def verify_lines(lines: Iterable[bytes | str], machine: FlowMachine, pinned_keys: list[dict[str, Any]] | None = None,
                 progress: Progress | None = None, total: int | None = None) -> Report:
    """Verify an export (see ``export``): key, base and checkpoint lines first, then the
    transitions in the global order, then the flow rows. No database needed. A line that is
    none of these raises ``UnreadableInput`` naming its number."""
    keys: list[dict[str, Any]] = []
    base: Checkpoint | None = None
    verifier: Verifier | None = None
    heads: list[FlowHead] = []
    read = 0
    records = 0
    for number, line in enumerate(lines, 1):
        read += len(line)
        if progress and number % 20000 == 0:
            progress(read, total)
        if not line.strip():
            continue
        try:
            kind, value = _export_record(line)
        except UnreadableInput as exc:
            raise UnreadableInput(f"line {number}: {exc}") from None
        records += 1
        if kind == "key":
            keys.append(value)
            continue
        if kind == "base":
            base = value
            continue
        if verifier is None:
            chosen = pinned_keys if pinned_keys is not None else (keys or None)
            verifier = Verifier(machine, chosen, base=base)
            if chosen is None:
                verifier.report.notes.append("no keys given: checkpoint signatures not checked")
        if kind == "checkpoint":
            verifier.add_checkpoint(value)
        elif kind == "flow":
            heads.append(value)
        else:
            verifier.feed(value)
    if not records:
        raise UnreadableInput("the file is empty: an export holds at least the keys that sign its checkpoints")
    if progress:
        progress(read, total)
    verifier = verifier or Verifier(machine, pinned_keys)
    return verifier.finish(heads if heads else None)


def verify_file(path: str | Path, machine: FlowMachine, pinned_keys: list[dict[str, Any]] | None = None,
                progress: Progress | None = None) -> Report:
    """``verify_lines`` over a file, read as bytes so that a line that is not UTF-8 is named."""
    try:
        with open(path, "rb") as lines:
            return verify_lines(lines, machine, pinned_keys, progress, total=os.fstat(lines.fileno()).st_size)
    except OSError as exc:
        raise UnreadableInput(f"cannot read {path}: {exc.strerror or exc}") from None
    except UnreadableInput as exc:
        raise UnreadableInput(f"{path} {exc}") from None


# --- export ----------------------------------------------------------------------------------


def transition_json(row: Mapping[str, Any]) -> dict[str, Any]:
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


async def purge(db: Database, keyring: Keyring, older_than: timedelta, origin: str | None = None) -> dict[str, Any]:
    """Remove finished flows older than ``older_than`` whose rows all lie below a fresh signed
    checkpoint; the rest of the log stays verifiable from that checkpoint. Logged. The Merkle
    tree is extended first and keeps its nodes, so proofs for the rows that remain still work."""
    await make_checkpoints(db, keyring, every_rows=10**12, every_seconds=0, force=True, max_batches=10**9,
                           origin=origin)
    async with db.unit_of_work() as uow:
        checkpoint = await uow.audit.last_checkpoint()
        if checkpoint is None:
            return {"flows": 0, "transitions": 0, "checkpoint": None}
        flows, rows = await uow.audit.purge(checkpoint, _now() - older_than)
        await uow.commit()
    log.info("audit purge", flows=flows, transitions=rows, checkpoint=checkpoint.id, cursor=checkpoint.cursor)
    return {"flows": flows, "transitions": rows, "checkpoint": checkpoint.id}


# --- a sign-in's proof bundle ------------------------------------------------------------------------

BUNDLE_FORMAT = "mfa-flow-audit-bundle/1"


async def prove_flow(uow: UnitOfWork, flow_id: str) -> dict[str, Any]:
    """Everything an auditor needs to check one sign-in offline: its rows, each row's inclusion
    proof in the latest signed tree head, that head, and the key that signed it. Raises
    NotInTree when the flow's rows are not all in a signed head yet."""
    flow = await uow.flows.get(flow_id)
    if flow is None:
        raise transparency.NotInTree(f"flow {flow_id} does not exist")
    rows = [transition_json(r) for r in await uow.transitions.of_flow(flow.id)]
    latest = await uow.tree.latest_head()
    if latest is None:
        raise transparency.NotInTree("no tree head has been signed yet: run 'mfa-flow audit checkpoint'")
    proofs = []
    for row in rows:
        try:
            proof = await transparency.inclusion_proof(uow, parse_cursor(row["cursor"]), latest.tree_size)
            proofs.append(proof.as_json())
        except transparency.NotInTree:
            raise transparency.NotInTree(
                f"row {row['cursor']} (seq {row['seq']}) is not in the latest tree head yet:"
                " run 'mfa-flow audit checkpoint' and try again"
            ) from None
    return {
        "format": BUNDLE_FORMAT,
        "flow": {"id": str(flow.id), "state": flow.state, "version": flow.version, "chain_head": flow.chain_head},
        "rows": [{"row": row, "inclusion": proof} for row, proof in zip(rows, proofs, strict=True)],
        "checkpoint": latest.note,
        "verifier_key": latest.verifier_key,
    }

