"""Checking one sign-in's proof bundle offline: no database, no network. Pure.

A bundle (``mfa-flow audit prove``) holds a flow's rows, each row's RFC 9162 inclusion proof,
the signed tree head the proofs lead to, and the verifier key that signed it. It holds when:

1. the tree head is a C2SP checkpoint signed by the verifier key (the auditor's pinned key if
   given, else the bundle's own, which the auditor should compare with the published one);
2. every row's ``hash`` is leaf ``leaf_index`` of that tree (its proof leads to the signed root),
   and the leaf indexes rise with ``seq`` (the log's order agrees with the flow's chain);
3. the rows form the flow's hash chain and replay through the machine's table, ending where
   the flow row says (``audit.Verifier``, the same checks as ``mfa-flow audit verify``).

The first thing that does not hold is named in one line.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from typing import Any

from ..domain.machine import FlowMachine
from . import merkle, signed_note
from .errors import AuditError
from .verify import FlowHead, Verifier

FORMAT = "mfa-flow-audit-bundle/1"


class BundleProblem(AuditError):
    """The first thing in a bundle that does not hold, in one line."""


@dataclass
class BundleReport:
    flow_id: str = ""
    rows: int = 0
    tree_size: int = 0
    origin: str = ""
    verifier_key: str = ""
    key_pinned: bool = False
    problem: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.problem is None

    def summary(self) -> str:
        if not self.ok:
            return f"FAILED: {self.problem}"
        source = "pinned" if self.key_pinned else "taken from the bundle: compare it with the one the log publishes"
        return "\n".join([
            f"flow {self.flow_id}: {self.rows} row(s), each included in the tree of {self.tree_size} leaves",
            f"tree head signed by {self.verifier_key} ({source})",
            *self.notes,
            "OK: the signature, every inclusion proof, the hash chain and the replay through the machine hold",
        ])


def _field(value: dict[str, Any], name: str, kind: type, where: str) -> Any:
    if not isinstance(value, dict) or not isinstance(value.get(name), kind) or isinstance(value.get(name), bool):
        raise BundleProblem(f"{where} has no {name} ({kind.__name__})")
    return value[name]


def _hash_bytes(text: str, where: str) -> bytes:
    try:
        raw = bytes.fromhex(text)
    except ValueError:
        raise BundleProblem(f"{where}: the hash is not hex") from None
    if len(raw) != merkle.HASH_SIZE:
        raise BundleProblem(f"{where}: the hash is not 32 bytes")
    return raw


def _proof_hashes(values: Any, where: str) -> list[bytes]:
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise BundleProblem(f"{where}: the inclusion proof's hashes are not a list of base64 strings")
    try:
        return [base64.b64decode(v, validate=True) for v in values]
    except (binascii.Error, ValueError):
        raise BundleProblem(f"{where}: an inclusion proof hash is not base64") from None


def check(bundle: Any, machine: FlowMachine, pinned_key: str | None = None) -> BundleReport:
    """Check a parsed bundle against the machine's table; the report's ``problem`` names the
    first thing that fails."""
    report = BundleReport()
    try:
        _check(bundle, machine, pinned_key, report)
    except (BundleProblem, signed_note.NoteError, merkle.ProofError) as exc:
        report.problem = str(exc)
    return report


def _check(bundle: Any, machine: FlowMachine, pinned_key: str | None, report: BundleReport) -> None:
    if not isinstance(bundle, dict) or bundle.get("format") != FORMAT:
        raise BundleProblem(f"not a proof bundle (format {FORMAT!r} expected)")
    flow = _field(bundle, "flow", dict, "the bundle")
    report.flow_id = _field(flow, "id", str, "the flow")
    key_text = pinned_key or _field(bundle, "verifier_key", str, "the bundle")
    report.key_pinned = pinned_key is not None
    try:
        verifier = signed_note.Verifier.parse(key_text)
    except signed_note.NoteError as exc:
        raise BundleProblem(f"verifier key: {exc}") from None
    report.verifier_key = str(verifier)
    try:
        head = signed_note.open_checkpoint(_field(bundle, "checkpoint", str, "the bundle"), verifier)
    except signed_note.NoteError as exc:
        raise BundleProblem(f"tree head: {exc}") from None
    report.tree_size, report.origin = head.size, head.origin

    entries = _field(bundle, "rows", list, "the bundle")
    if not entries:
        raise BundleProblem("the bundle holds no rows")
    rows: list[dict[str, Any]] = []
    previous_leaf = -1
    for position, entry in enumerate(entries):
        row = _field(entry, "row", dict, f"entry {position}")
        where = f"row {row.get('cursor')} (seq {row.get('seq')})"
        proof = _field(entry, "inclusion", dict, where)
        leaf_index = _field(proof, "leaf_index", int, f"{where}: the inclusion proof")
        if _field(proof, "tree_size", int, f"{where}: the inclusion proof") != head.size:
            raise BundleProblem(f"{where}: the inclusion proof is for a tree of {proof['tree_size']} leaves,"
                                f" not the signed head's {head.size}")
        leaf = _hash_bytes(_field(row, "hash", str, where), where)
        try:
            merkle.verify_inclusion(leaf_index, head.size, merkle.leaf_hash(leaf), _proof_hashes(proof.get("hashes"), where),
                                    head.root)
        except merkle.ProofError as exc:
            raise BundleProblem(f"{where}: {exc}: this row is not the one the log signed") from None
        if leaf_index <= previous_leaf:
            raise BundleProblem(f"{where}: leaf {leaf_index} comes after leaf {previous_leaf} of the row before it:"
                                " the rows are out of the log's order")
        previous_leaf = leaf_index
        rows.append(row)

    verifier_of_chain = Verifier(machine)
    for row in rows:
        try:
            verifier_of_chain.feed(row)
        except (KeyError, TypeError, ValueError) as exc:
            raise BundleProblem(f"row {row.get('cursor')}: a field is missing or malformed ({exc})") from None
    try:
        flow_head = FlowHead(flow["id"], flow["state"], flow["version"], flow["chain_head"])
    except KeyError as exc:
        raise BundleProblem(f"the flow has no {exc.args[0]}") from None
    result = verifier_of_chain.finish([flow_head])
    if not result.ok:
        raise BundleProblem(str(result.first))
    report.rows = len(rows)
