"""Checking the transition log without trusting the service that wrote it. Pure: no I/O.

Three things must hold for every row, read in the global order:

1. **Chain**: per flow, ``seq`` runs 1, 2, 3 ...; ``prev_hash`` is the previous row's hash
   ("" for seq 1) and ``hash = SHA-256(prev_hash || canonical JSON of the row)``.
2. **Replay**: the row is an edge of the machine's table (``FlowMachine.advance`` from the state
   the flow was in, with the row's event, guard and destination), starting at ``first_factor``.
3. **Checkpoints**: the running hash over the global order (``running = SHA-256(running ||
   hash)``, "" before the first row) equals each signed checkpoint's at its cursor.

At the end each flow row's state, version and chain head must equal what the replay reached.
The ``Verifier`` is fed rows one by one (from the database or an export file) and keeps only
a few fields per flow, so a log of millions of rows fits in memory.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Iterable

from ..domain.flow import canonical_json, iso
from ..domain.machine import DONE, FACTOR_SELECTION, FIRST_FACTOR, FlowMachine, IllegalTransition, Step
from ..domain.machine import MANAGE as MANAGE_STATE
from ..domain.policy import ADAPTIVE_NO_RISK_RULE, ADAPTIVE_VERIFY_RULE, MANAGE, ORGANIZATION, SIGN_IN, WAIVERS, mode_of_rule
from ..numbers import whole_number
from ..tokens import BadSignature, verify_compact

Cursor = tuple[int, int]  # (xid of the writing transaction, row id)

# Field names that would mean a credential leaked into the log.
_SECRET_FIELDS = frozenset({"password", "code", "codes", "secret", "token", "credential", "otpauth_uri",
                            "device_token"})


def _secret_fields_in(value: Any) -> set[str]:
    """Forbidden field names anywhere in ``value`` (nested objects and lists too, any case)."""
    found: set[str] = set()
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str) and key.lower() in _SECRET_FIELDS:
                found.add(key.lower())
            found |= _secret_fields_in(item)
    elif isinstance(value, list):
        for item in value:
            found |= _secret_fields_in(item)
    return found


def format_cursor(cursor: Cursor) -> str:
    return f"{cursor[0]}-{cursor[1]}"


def parse_cursor(text: str) -> Cursor:
    """``"<xid>-<id>"``, as handed out in ``cursor``; ``"0"`` or ``""`` is the start of the log."""
    if text in ("", "0"):
        return (0, 0)
    xid_text, _, row_text = text.partition("-")  # no "-" leaves row_text empty: refused below
    xid, row_id = whole_number(xid_text), whole_number(row_text)
    if xid is None or row_id is None:
        raise ValueError(f"{text[:40]!r} is not a cursor; cursors look like 7421-1033 (or 0 for the start)")
    return (xid, row_id)


def row_hash(row: dict[str, Any]) -> str:
    """What the row's hash must be: SHA-256(prev_hash || canonical JSON), as lowercase hex."""
    at = row["at"]
    body = {
        "flow_id": row["flow_id"],
        "seq": row["seq"],
        "event": row["event"],
        "from_state": row["from_state"],
        "to_state": row["to_state"],
        "at": iso(at) if isinstance(at, datetime) else at,
        "actor": row["actor"],
        "data": row["data"],
    }
    return hashlib.sha256(row["prev_hash"].encode() + canonical_json(body)).hexdigest()


def next_running_hash(running: str, row_hash_hex: str) -> str:
    return hashlib.sha256((running + row_hash_hex).encode()).hexdigest()


@dataclass(frozen=True)
class Checkpoint:
    id: int
    cursor: str
    rows: int
    running_hash: str
    at: str
    kid: str
    signature: str

    def signed_fields(self) -> dict[str, Any]:
        return {"cursor": self.cursor, "rows": self.rows, "running_hash": self.running_hash, "at": self.at}

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, **self.signed_fields(), "kid": self.kid, "signature": self.signature}

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> "Checkpoint":
        return cls(**{k: value[k] for k in ("id", "cursor", "rows", "running_hash", "at", "kid", "signature")})


@dataclass(frozen=True)
class FlowHead:
    """What the flows table says about a flow, to compare with where its replay ends."""

    id: str
    state: str
    version: int
    chain_head: str


@dataclass(frozen=True)
class Finding:
    where: str  # the row (cursor, flow, seq), checkpoint or flow that does not hold
    problem: str

    def __str__(self) -> str:
        return f"{self.where}: {self.problem}"


@dataclass
class Report:
    rows: int = 0
    flows: int = 0
    checkpoints: int = 0
    checkpoints_unchecked: int = 0
    flow_rows_compared: int = 0
    rows_not_checked: int = 0  # rows of a flow after its first bad row
    findings: list[Finding] = field(default_factory=list)
    problems: int = 0
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.problems == 0

    @property
    def first(self) -> Finding | None:
        return self.findings[0] if self.findings else None

    def summary(self) -> str:
        rate = self.rows / self.seconds if self.seconds > 0 else 0.0
        lines = [
            f"rows checked: {self.rows} in {self.seconds:.2f} s ({rate:,.0f} rows/s)",
            f"flows replayed: {self.flows}; flow rows compared: {self.flow_rows_compared}",
            f"checkpoints verified: {self.checkpoints}"
            + (f" ({self.checkpoints_unchecked} not checkable)" if self.checkpoints_unchecked else ""),
            *self.notes,
        ]
        if self.ok:
            lines.append("OK: every chain holds, every row is an edge of the machine, every checkpoint matches")
        else:
            lines.append(f"FAILED: {self.problems} problem(s); first: {self.first}")
            lines.extend(f"  {f}" for f in self.findings[1:10])
        return "\n".join(lines)


class _FlowTrack:
    __slots__ = ("hash", "mode", "not_again", "purpose", "seq", "skippable", "state")

    def __init__(self) -> None:
        self.seq = 0
        self.hash = ""
        self.state = FIRST_FACTOR
        self.mode: str | None = None  # "setup", "verify" or "manage", as the first factor's rule said
        self.skippable = False
        self.purpose = SIGN_IN
        # A passkey sign-in's factor states: the credential that signed in is no second step
        self.not_again: tuple[str, ...] = ()

    def take(self, row: dict[str, Any], verify_states: frozenset[str]) -> None:
        self.seq, self.hash, self.state = row["seq"], row["hash"], row["to_state"]
        if row["from_state"] == FIRST_FACTOR and row["to_state"] != FIRST_FACTOR:
            self.mode, self.skippable = mode_of_rule(row["data"].get("rule"))
            self.purpose = purpose_of(self, row)
        if row["to_state"] in verify_states:
            self.mode, self.skippable = "verify", False
        if row["to_state"] == MANAGE_STATE:
            self.mode, self.skippable = "manage", False


def purpose_of(track: _FlowTrack, row: dict[str, Any]) -> str:
    """What the flow is for: the row that leaves the first factor says so (an account flow's
    names ``purpose: manage``, or is a subject token's); later rows keep it."""
    if row["from_state"] != FIRST_FACTOR:
        return track.purpose
    if row["event"] == "subject_token_presented" or row["data"].get("purpose") == MANAGE:
        return MANAGE
    return SIGN_IN


def mode_problem(track: _FlowTrack, row: dict[str, Any], verify_states: frozenset[str]) -> str | None:
    """What the table cannot see: ``factor_selection`` serves both modes, so a skip or a
    selection is checked against the mode the flow's first-factor rule put it in; and the
    verify and set-up states serve sign-ins and account flows alike, so where they lead is
    checked against the flow's purpose (only an account flow reaches ``manage``, and it is
    done only by ``finish``)."""
    purpose = purpose_of(track, row)
    if row["from_state"] == FIRST_FACTOR:
        problem = adaptive_problem(row, verify_states) or organization_problem(row)
        if problem:
            return problem
    if row["to_state"] == MANAGE_STATE and purpose != MANAGE:
        return "only an account flow (purpose manage) can reach manage; this flow is a sign-in"
    if row["from_state"] == FIRST_FACTOR and purpose == MANAGE:
        # Straight to manage only under a rule that skips the step-up (no factor, or MFA proven
        # by the sign-in behind the flow); under a verify rule the step-up comes first; no
        # other rule (no set-up, no done) starts an account flow.
        mode = mode_of_rule(row["data"].get("rule"))[0]
        to_state = row["to_state"]
        fits = to_state == MANAGE_STATE if mode == "manage" else (
            mode == "verify" and (to_state in verify_states or to_state == FACTOR_SELECTION))
        if not fits:
            return f"rule {row['data'].get('rule')!r} of an account flow cannot lead to {to_state}"
    if row["to_state"] == DONE and purpose == MANAGE and row["event"] != "finish":
        return f"an account flow ends in done only by finish, not by {row['event']}"
    if row["event"] == "switch_factor" and track.mode == "manage":
        return "switch_factor is not offered while an account flow sets a factor up"
    if row["event"] == "skip" and not (track.mode == "setup" and track.skippable):
        why = "the flow is verifying a factor" if track.mode == "verify" else "the policy did not offer a skip"
        return f"skip is allowed only in a set-up the policy lets the user skip: {why}"
    if row["event"] == "select_factor":
        mode = track.mode or "verify"  # no known rule: nothing was offered for set-up
        if (row["to_state"] in verify_states) != (mode == "verify"):
            return f"select_factor in {mode} mode cannot lead to {row['to_state']}"
    return None


def organization_problem(row: dict[str, Any]) -> str | None:
    """A member of an organisation that requires MFA (the first row names it: ``organization``)
    is treated as ``mfa.required``: no rule that waives verification or lets set-up be skipped
    applies to them; and an ``override: organization`` names the organisation that held."""
    data = row["data"]
    organization, rule = data.get("organization"), data.get("rule")
    if data.get("override") == ORGANIZATION and not (isinstance(organization, str) and organization):
        return "override organization without the organisation (data.organization) that required MFA"
    if organization is not None and rule in WAIVERS:
        return f"rule {rule} for a member of organisation {organization}, which requires MFA"
    return None


def adaptive_problem(row: dict[str, Any], verify_states: frozenset[str]) -> str | None:
    """An adaptive decision must agree with itself: ``verify.adaptive`` lists a fired rule and
    leads to a verification, ``done.adaptive_no_risk`` lists none and leads to done; a fired
    rule must be one that was evaluated."""
    rule = row["data"].get("rule")
    if rule not in (ADAPTIVE_VERIFY_RULE, ADAPTIVE_NO_RISK_RULE):
        return None
    assessment = row["data"].get("adaptive")
    if not isinstance(assessment, dict) or not isinstance(assessment.get("fired"), list) \
            or not isinstance(assessment.get("evaluated"), list):
        return f"rule {rule} without the adaptive assessment (evaluated, fired) that decided it"
    fired = [f.get("rule") if isinstance(f, dict) else None for f in assessment["fired"]]
    if rule == ADAPTIVE_NO_RISK_RULE and fired:
        return f"rule {rule} (no verification) although the adaptive rule(s) {', '.join(map(str, fired))} fired"
    if rule == ADAPTIVE_VERIFY_RULE and not fired:
        return f"rule {rule} but no adaptive rule fired"
    unevaluated = [f for f in fired if f not in assessment["evaluated"]]
    if unevaluated:
        return f"the adaptive rule {unevaluated[0]} fired but was not evaluated"
    to_state = row["to_state"]
    if rule == ADAPTIVE_NO_RISK_RULE and to_state != DONE:
        return f"rule {rule} cannot lead to {to_state}"
    if rule == ADAPTIVE_VERIFY_RULE and not (to_state in verify_states or to_state == FACTOR_SELECTION):
        return f"rule {rule} cannot lead to {to_state}"
    return None


class EdgeCheck:
    """Whether (from, event, guard, to) is an edge is a pure function of those four names, so
    each combination goes through the machine once and the answer is reused for every later row."""

    def __init__(self, machine: FlowMachine) -> None:
        self.machine = machine
        self._verdicts: dict[tuple[str, str, str, str], str | None] = {}

    def __call__(self, from_state: str, event: str, guard: str, to_state: str) -> str | None:
        """None if the machine's table has this edge, else why not."""
        key = (from_state, event, guard, to_state)
        if key not in self._verdicts:
            try:
                self.machine.advance(from_state, Step(event, guard, to_state))  # reaches to_state or raises
                verdict = None
            except IllegalTransition as exc:
                verdict = f"not an edge of the machine: {exc}"
            self._verdicts[key] = verdict
        return self._verdicts[key]


class Verifier:
    """Feed rows in the global order; then ``finish`` with the flow rows, if there are any."""

    def __init__(
        self,
        machine: FlowMachine,
        public_keys: list[dict[str, Any]] | None = None,
        checkpoints: Iterable[Checkpoint] = (),
        base: Checkpoint | None = None,
        keep: int = 50,
    ):
        self.report = Report()
        self._edge_problem = EdgeCheck(machine)
        self._verify_states = frozenset(machine.verify_state.values())
        self._not_again = {event: tuple(s for s in (machine.setup_state.get(name), machine.verify_state.get(name)) if s)
                           for event, name in machine.sign_in_events.items()}
        self._keys = public_keys
        self._keep = keep
        self._flows: dict[str, _FlowTrack] = {}
        self._broken: set[str] = set()
        self._last: Cursor = (0, 0)
        self._started = time.perf_counter()
        # A purge removed the rows up to ``base``: the running hash resumes from it.
        self._base = parse_cursor(base.cursor) if base else (0, 0)
        self._running = base.running_hash if base else ""
        self._counted = base.rows if base else 0
        self._pending: list[tuple[Cursor, Checkpoint]] = []
        for checkpoint in checkpoints:
            self.add_checkpoint(checkpoint)

    # --- findings ---

    def _fail(self, where: str, problem: str) -> None:
        self.report.problems += 1
        if len(self.report.findings) < self._keep:
            self.report.findings.append(Finding(where, problem))

    # --- checkpoints ---

    def add_checkpoint(self, checkpoint: Checkpoint) -> None:
        """Check the signature now; compare the running hash when the feed reaches its cursor."""
        where = f"checkpoint {checkpoint.id} at cursor {checkpoint.cursor}"
        try:
            cursor = parse_cursor(checkpoint.cursor)
        except ValueError as exc:
            self._fail(where, str(exc))
            return
        if self._keys is not None:
            try:
                header, payload = verify_compact(checkpoint.signature, self._keys)
            except BadSignature as exc:
                self._fail(where, f"the signature does not verify with the published keys ({exc})")
                return
            if header.get("kid") != checkpoint.kid or json.loads(payload) != checkpoint.signed_fields():
                self._fail(where, "the signed fields differ from the checkpoint's fields")
                return
        if cursor <= self._base:
            self.report.checkpoints_unchecked += 1  # its rows were purged; the signature still holds
            return
        if cursor <= self._last:
            # Given after the feed passed it (an export lists checkpoints first for this reason).
            self.report.checkpoints_unchecked += 1
            return
        self._pending.append((cursor, checkpoint))
        self._pending.sort(key=lambda item: item[0])

    def _compare(self, cursor: Cursor, checkpoint: Checkpoint) -> None:
        where = f"checkpoint {checkpoint.id} at cursor {checkpoint.cursor}"
        if self._last != cursor:
            self._fail(where, f"no row at this cursor (the row before it is {format_cursor(self._last)}): rows were removed")
        elif self._counted != checkpoint.rows or self._running != checkpoint.running_hash:
            self._fail(
                where,
                f"the log up to here ({self._counted} rows) does not match the signed running hash"
                f" ({checkpoint.rows} rows): rows before it were removed, added or rewritten",
            )
        else:
            self.report.checkpoints += 1

    # --- rows ---

    def feed(self, row: dict[str, Any]) -> None:
        self.report.rows += 1
        flow_id, seq = row["flow_id"], row["seq"]
        where = f"row {row['cursor']} (flow {flow_id} seq {seq})"
        try:
            cursor = parse_cursor(str(row["cursor"]))
        except ValueError as exc:
            self._fail(where, str(exc))
            return
        while self._pending and self._pending[0][0] < cursor:
            self._compare(*self._pending.pop(0))
        if cursor <= self._last:
            self._fail(where, f"out of the global order (after {format_cursor(self._last)})")
        self._last = max(self._last, cursor)
        if cursor > self._base:
            self._running = next_running_hash(self._running, row["hash"])
            self._counted += 1
        if flow_id in self._broken:
            self.report.rows_not_checked += 1
            return
        track = self._flows.get(flow_id)
        if track is None:
            track = self._flows[flow_id] = _FlowTrack()
        problem = self._row_problem(row, track)
        if problem:
            self._broken.add(flow_id)
            self._fail(where, problem)
            return
        track.take(row, self._verify_states)
        if row["from_state"] == FIRST_FACTOR and row["to_state"] != FIRST_FACTOR and row["event"] in self._not_again:
            track.not_again = self._not_again[row["event"]]

    def _row_problem(self, row: dict[str, Any], track: _FlowTrack) -> str | None:
        if row["seq"] != track.seq + 1:
            return (
                f"seq {row['seq']} follows seq {track.seq} in this flow: a row is missing or rows were re-ordered"
            )
        if row["prev_hash"] != track.hash:
            return "prev_hash is not the hash of the flow's previous row: the chain is broken"
        if row_hash(row) != row["hash"]:
            return "the hash does not match the row's content: the row was changed"
        if row["from_state"] != track.state:
            return f"from_state {row['from_state']} but the replay is in {track.state}"
        data = row["data"]
        if not isinstance(data, dict) or "guard" not in data:
            return "data has no guard"
        leaked = _secret_fields_in(data)
        if leaked:
            return f"data holds a field that must never be logged: {', '.join(sorted(leaked))}"
        if row["to_state"] in track.not_again:
            return f"a passkey signed this flow in: {row['to_state']} cannot be its second step too"
        return self._edge_problem(row["from_state"], row["event"], data["guard"], row["to_state"]) or mode_problem(
            track, row, self._verify_states
        )

    # --- the end ---

    def finish(self, heads: Iterable[FlowHead] | None = None) -> Report:
        for cursor, checkpoint in self._pending:
            if cursor <= self._last:
                self._compare(cursor, checkpoint)
            else:
                self._fail(
                    f"checkpoint {checkpoint.id} at cursor {checkpoint.cursor}",
                    f"the log ends at {format_cursor(self._last)}, before this checkpoint: rows at the end were removed",
                )
        self._pending = []
        if heads is None:
            self.report.notes.append("flow rows not given: final states and versions not compared")
        else:
            seen: set[str] = set()
            for head in heads:
                seen.add(head.id)
                self.report.flow_rows_compared += 1
                self._compare_head(head)
            for flow_id in self._flows.keys() - seen:
                self._fail(f"flow {flow_id}", "has log rows but no flow row")
        self.report.flows = len(self._flows)
        self.report.seconds = time.perf_counter() - self._started
        return self.report

    def _compare_head(self, head: FlowHead) -> None:
        if head.id in self._broken:
            return
        track = self._flows.get(head.id) or _FlowTrack()
        where = f"flow {head.id}"
        if head.version != track.seq:
            missing = f"row seq {track.seq + 1} and after are missing" if head.version > track.seq else "rows were added"
            self._fail(where, f"the flow row is at version {head.version} but its log ends at seq {track.seq}: {missing}")
        elif head.state != track.state:
            self._fail(where, f"the flow row says {head.state} but the replay ends in {track.state}")
        elif head.chain_head != track.hash:
            self._fail(where, "the flow row's chain head is not the hash of its last log row")
