"""An auditor's checks, offline: no network, no database, no service package. Pure.

- **the hash chain** of a flow's transitions: ``hash = SHA-256(prev_hash || canonical JSON of
  the row)``, canonical JSON being sorted keys, no spaces, UTF-8;
- **signed tree heads**: a C2SP ``tlog-checkpoint`` (``<origin>\\n<size>\\n<base64 root>\\n``)
  signed as a C2SP ``signed-note`` with Ed25519, checked against a verifier key in the form Go's
  ``sumdb/note`` writes (``<name>+<8 hex key ID>+<base64(0x01 || public key)>``);
- **RFC 9162 proofs** over the log's Merkle tree (leaf ``i`` = the 32 bytes of row ``i``'s
  ``hash``): inclusion of a row, consistency of an older tree head with a newer one;
- **proof bundles** (``mfa-flow audit prove``, or ``Audit.prove`` of this client): all of the
  above for one sign-in, against a key the auditor pinned.

Every check raises :class:`~mfa_flow_client.errors.ProofError` naming the first thing that
does not hold.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from .errors import ProofError

BUNDLE_FORMAT = "mfa-flow-audit-bundle/1"
HASHED_FIELDS = ("flow_id", "seq", "event", "from_state", "to_state", "at", "actor", "data")
TERMINAL_STATES = frozenset({"done", "failed", "expired", "cancelled"})
_ED25519 = 0x01
_SIGNATURE_LINE = "\u2014 "  # an em dash and a space begin each signature line of a note


def _b64(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ProofError(f"{what} is not base64") from None


# --- the hash chain ---------------------------------------------------------------------------------


def canonical_json(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def row_hash(prev_hash: str, row: Mapping[str, Any]) -> str:
    """The hash a transition row should carry after ``prev_hash`` (hex)."""
    return hashlib.sha256(prev_hash.encode() + canonical_json({k: row[k] for k in HASHED_FIELDS})).hexdigest()


def verify_chain(rows: Iterable[Mapping[str, Any]]) -> str:
    """Check one flow's rows, oldest first: each links to the one before, hashes to its ``hash``,
    follows on from the state the one before left, and counts ``seq`` up by one. Returns the
    chain's head (the last row's hash)."""
    previous_hash, previous_row = "", None
    for row in rows:
        try:
            where = f"row seq {row['seq']} of flow {row['flow_id']}"
            if previous_row is not None:
                if row["flow_id"] != previous_row["flow_id"]:
                    raise ProofError(f"{where} belongs to another flow than the rows before it")
                if row["seq"] != previous_row["seq"] + 1:
                    raise ProofError(f"{where} does not follow seq {previous_row['seq']}: a row is missing")
                if row["from_state"] != previous_row["to_state"]:
                    raise ProofError(f"{where} starts in {row['from_state']}, not where the row before left the flow"
                                     f" ({previous_row['to_state']})")
            if row["prev_hash"] != previous_hash:
                raise ProofError(f"{where}: its prev_hash is not the hash of the row before")
            if row_hash(previous_hash, row) != row["hash"]:
                raise ProofError(f"{where}: its hash does not match its contents")
        except (KeyError, TypeError) as exc:
            raise ProofError(f"a row lacks a field or has a malformed one ({exc})") from None
        previous_hash, previous_row = row["hash"], row
    return previous_hash


# --- signed notes and checkpoints ------------------------------------------------------------------


@dataclass(frozen=True)
class NoteVerifier:
    """A verifier key: a log's name and its Ed25519 public key."""

    name: str
    key_id: bytes
    public_key: bytes

    @classmethod
    def parse(cls, text: str) -> NoteVerifier:
        name, _, rest = text.strip().partition("+")  # the base64 key may hold "+" too
        hex_id, _, encoded = rest.partition("+")
        if not name or not hex_id or not encoded or any(c.isspace() for c in name):
            raise ProofError("a verifier key looks like <name>+<8 hex digits>+<base64 key>")
        try:
            declared = bytes.fromhex(hex_id)
        except ValueError:
            raise ProofError("the verifier key's key ID is not hex") from None
        material = _b64(encoded, "the verifier key's key material")
        if len(declared) != 4 or len(material) != 33 or material[0] != _ED25519:
            raise ProofError("the verifier key is not an Ed25519 key (a 4-byte ID, 0x01 and 32 bytes)")
        if cls.id_of(name, material[1:]) != declared:
            raise ProofError("the verifier key's key ID does not match its name and key")
        return cls(name, declared, material[1:])

    @staticmethod
    def id_of(name: str, public_key: bytes) -> bytes:
        return hashlib.sha256(name.encode() + b"\n" + bytes([_ED25519]) + public_key).digest()[:4]

    def __str__(self) -> str:
        return f"{self.name}+{self.key_id.hex()}+{base64.b64encode(bytes([_ED25519]) + self.public_key).decode()}"

    def open(self, note: str) -> str:
        """The note's text when this key signed it (other signatures, a witness's, are ignored)."""
        text, separator, signatures = note.rpartition("\n\n")
        if not separator or not note.endswith("\n"):
            raise ProofError("not a signed note: a text, a blank line, signature lines, a final newline")
        for line in signatures.splitlines():
            if not line.startswith(_SIGNATURE_LINE):
                raise ProofError(f"{line[:60]!r} is not a signature line")
            name, _, encoded = line[len(_SIGNATURE_LINE):].partition(" ")
            blob = _b64(encoded, "a signature")
            if name != self.name or blob[:4] != self.key_id:
                continue
            try:
                Ed25519PublicKey.from_public_bytes(self.public_key).verify(blob[4:], (text + "\n").encode())
            except (InvalidSignature, ValueError):
                raise ProofError(f"the signature of {name} does not verify: the signed text was changed") from None
            return text + "\n"
        raise ProofError(f"the note carries no signature by {self}")


@dataclass(frozen=True)
class TreeHead:
    origin: str
    size: int
    root: bytes


def open_checkpoint(note: str, key: str | NoteVerifier) -> TreeHead:
    """The tree head a checkpoint states, once its signature by ``key`` holds and its origin is
    the key's name."""
    verifier = key if isinstance(key, NoteVerifier) else NoteVerifier.parse(key)
    lines = verifier.open(note).split("\n")
    if len(lines) < 4:
        raise ProofError("a checkpoint is three lines: origin, tree size, base64 root")
    origin, size, root_text = lines[:3]
    if origin != verifier.name:
        raise ProofError(f"the checkpoint is for the log {origin!r}, not {verifier.name!r}")
    if not (size.isascii() and size.isdigit()) or (size != "0" and size.startswith("0")):
        raise ProofError(f"the checkpoint's tree size {size[:30]!r} is not a decimal number")
    root = _b64(root_text, "the checkpoint's root")
    if len(root) != 32:
        raise ProofError("the checkpoint's root is not 32 bytes")
    return TreeHead(origin, int(size), root)


# --- RFC 9162 Merkle proofs -----------------------------------------------------------------------


def leaf_hash(leaf: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + leaf).digest()


def _node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _hashes(values: Sequence[str | bytes], what: str) -> list[bytes]:
    hashes = [v if isinstance(v, bytes) else _b64(v, f"a hash of the {what}") for v in values]
    if any(len(h) != 32 for h in hashes):
        raise ProofError(f"a hash of the {what} is not 32 bytes")
    return hashes


def verify_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[str | bytes], root: bytes) -> None:
    """RFC 9162 §2.1.3.2: the leaf (its 32 raw bytes) is leaf ``index`` of the tree of ``size``
    leaves whose root is ``root``."""
    if not 0 <= index < size:
        raise ProofError(f"leaf {index} is not in a tree of {size} leaves")
    fn, sn, r = index, size - 1, leaf_hash(leaf)
    for p in _hashes(proof, "inclusion proof"):
        if sn == 0:
            raise ProofError("the inclusion proof is longer than the tree is deep")
        if fn & 1 or fn == sn:
            r = _node(p, r)
            while not fn & 1 and fn:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = _node(r, p)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0 or r != root:
        raise ProofError(f"the inclusion proof of leaf {index} does not lead to the root of the tree of {size} leaves")


def verify_consistency(first: int, second: int, first_root: bytes, second_root: bytes,
                       proof: Sequence[str | bytes]) -> None:
    """RFC 9162 §2.1.4.2: the tree of ``first`` leaves is a prefix of the tree of ``second``
    leaves — the log was only appended to in between."""
    path = _hashes(proof, "consistency proof")
    if first > second:
        raise ProofError(f"the tree shrank from {first} to {second} leaves")
    if first == second or first == 0:
        if path:
            raise ProofError("this consistency proof should be empty")
        if first == second and first_root != second_root:
            raise ProofError(f"two roots for the same tree of {first} leaves: the log forked")
        return
    if not path:
        raise ProofError(f"an empty consistency proof cannot link {first} to {second} leaves")
    if first & (first - 1) == 0:
        path.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofError("the consistency proof is longer than the tree is deep")
        if fn & 1 or fn == sn:
            fr, sr = _node(c, fr), _node(c, sr)
            while not fn & 1 and fn:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = _node(sr, c)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0 or fr != first_root:
        raise ProofError(f"the consistency proof does not lead to the root of the tree of {first} leaves: the log forked")
    if sr != second_root:
        raise ProofError(f"the consistency proof does not lead to the root of the tree of {second} leaves")


# --- proof bundles ----------------------------------------------------------------------------------


@dataclass
class BundleReport:
    """What a bundle that holds proves."""

    flow_id: str
    state: str
    rows: int
    tree: TreeHead
    verifier_key: str
    key_pinned: bool
    leaf_indexes: list[int] = field(default_factory=list)


def _get(value: Any, name: str, kind: type, where: str) -> Any:
    if not isinstance(value, dict) or not isinstance(value.get(name), kind) or isinstance(value.get(name), bool):
        raise ProofError(f"{where} has no {name} ({kind.__name__})")
    return value[name]


def verify_bundle(bundle: Any, pinned_key: str | None = None) -> BundleReport:
    """Check a sign-in's proof bundle offline:

    1. its tree head is a checkpoint signed by ``pinned_key`` (the key the auditor keeps; without
       one, the bundle's own ``verifier_key``, which proves only that the bundle is consistent);
    2. each row's ``hash`` is the leaf its inclusion proof names in that tree, in rising order;
    3. the rows form the flow's hash chain, each starting where the one before left the flow,
       and end at the flow's ``chain_head``, ``version`` and ``state``.

    (``mfa-flow audit verify-bundle`` also replays the rows through the service's state machine,
    which needs the service's package; this check needs none.)"""
    if not isinstance(bundle, dict) or bundle.get("format") != BUNDLE_FORMAT:
        raise ProofError(f"not a proof bundle (format {BUNDLE_FORMAT!r} expected)")
    flow = _get(bundle, "flow", dict, "the bundle")
    key = pinned_key or _get(bundle, "verifier_key", str, "the bundle")
    head = open_checkpoint(_get(bundle, "checkpoint", str, "the bundle"), key)
    entries = _get(bundle, "rows", list, "the bundle")
    if not entries:
        raise ProofError("the bundle holds no rows")
    rows: list[dict[str, Any]] = []
    indexes: list[int] = []
    for position, entry in enumerate(entries):
        row = _get(entry, "row", dict, f"entry {position}")
        where = f"row {row.get('cursor')} (seq {row.get('seq')})"
        proof = _get(entry, "inclusion", dict, where)
        index = _get(proof, "leaf_index", int, f"{where}: the inclusion proof")
        if _get(proof, "tree_size", int, f"{where}: the inclusion proof") != head.size:
            raise ProofError(f"{where}: the inclusion proof is for a tree of {proof['tree_size']} leaves, not the"
                             f" signed head's {head.size}")
        try:
            leaf = bytes.fromhex(_get(row, "hash", str, where))
        except ValueError:
            raise ProofError(f"{where}: the hash is not hex") from None
        if len(leaf) != 32:
            raise ProofError(f"{where}: the hash is not 32 bytes")
        try:
            verify_inclusion(index, head.size, leaf, _get(proof, "hashes", list, where), head.root)
        except ProofError as exc:
            raise ProofError(f"{where}: {exc}: this row is not the one the log signed") from None
        if indexes and index <= indexes[-1]:
            raise ProofError(f"{where}: leaf {index} comes after leaf {indexes[-1]}: the rows are out of the log's order")
        rows.append(row)
        indexes.append(index)
    if rows[0].get("seq") != 1 or rows[0].get("prev_hash") != "":
        raise ProofError("the bundle does not start at the flow's first row")
    chain_head = verify_chain(rows)
    flow_id, state = _get(flow, "id", str, "the flow"), _get(flow, "state", str, "the flow")
    if any(row["flow_id"] != flow_id for row in rows):
        raise ProofError(f"a row belongs to another flow than {flow_id}")
    if chain_head != _get(flow, "chain_head", str, "the flow"):
        raise ProofError("the rows do not end at the flow's chain head: a row is missing or added")
    if rows[-1]["seq"] != _get(flow, "version", int, "the flow"):
        raise ProofError(f"the rows end at seq {rows[-1]['seq']}, not at the flow's version {flow['version']}")
    if rows[-1]["to_state"] != state:
        raise ProofError(f"the rows leave the flow in {rows[-1]['to_state']}, not in {state}")
    verifier = NoteVerifier.parse(key)
    return BundleReport(flow_id, state, len(rows), head, str(verifier), pinned_key is not None, indexes)
