"""The transparency log's I/O: extend the stored Merkle tree from settled rows, sign tree heads,
answer inclusion and consistency proofs, and write a sign-in's proof bundle.

The math is in ``merkle.py`` and the note format in ``signed_note.py`` (both pure); the checks an
auditor runs on a bundle are in ``bundle.py`` (pure). Only the checkpoint maker (one process at a
time, under the checkpoint advisory lock) extends the tree, so a transition's own transaction
never touches it.
"""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Sequence

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ..audit import merkle, signed_note
from ..audit.verify import Cursor, format_cursor
from ..domain.errors import DomainError
from ..keyring import Keyring
from ..store import UnitOfWork
from ..store.tree import StoredHead
from ..tokens import ED25519


class NotInTree(DomainError, LookupError):
    """The row (or the tree size) the caller asked about is not in the tree; says which."""


@dataclass(frozen=True)
class InclusionProof:
    leaf_index: int
    tree_size: int
    hashes: list[bytes]

    def as_json(self) -> dict[str, Any]:
        return {"leaf_index": self.leaf_index, "tree_size": self.tree_size, "hashes": _b64(self.hashes)}


def _b64(hashes: list[bytes]) -> list[str]:
    return [base64.b64encode(h).decode() for h in hashes]


# --- extending the tree ------------------------------------------------------------------------------


class TreeGrowth:
    """Appends settled rows to the stored tree within one transaction, batch by batch, in cursor
    order. The caller holds the checkpoint lock. O(log n) stored hashes per row, read from the
    tree's right edge once."""

    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow
        self.size = 0
        self.cursor: Cursor = (0, 0)  # of the last leaf
        self.added = 0
        self._frontier: list[bytes] | None = None  # read once, and only when there is something to add

    async def start(self) -> "TreeGrowth":
        self.size, self.cursor = await self.uow.tree.size_and_cursor()
        return self

    async def add(self, rows: Sequence[tuple[Cursor, str]]) -> None:
        """Append ``rows`` (cursor, row hash), which come right after the last leaf."""
        if not rows:
            return
        if self._frontier is None:
            self._frontier = merkle.frontier_of(
                self.size, await self.uow.tree.nodes(merkle.nodes_for([(0, self.size)])))
        first = self.size
        self.size, self._frontier, made = merkle.append(self.size, self._frontier,
                                                        (bytes.fromhex(h) for _, h in rows))
        await self.uow.tree.append(first, [c for c, _ in rows], made)
        self.cursor = rows[-1][0]
        self.added += len(rows)

    async def finish(self) -> int:
        """How many leaves were added. After many at once (the first round after an upgrade,
        or a catch-up) plans the service's connections cached while the tree was small (a scan
        was cheapest then) would outlive it until autovacuum analyzes: fresh statistics make
        every connection re-plan now."""
        if self.added >= 50_000:
            await self.uow.tree.analyze()
        return self.added


async def extend_tree(uow: UnitOfWork, batch: int = 5000, max_batches: int = 40) -> int:
    """Append settled rows after the tree's last leaf, up to ``max_batches`` of ``batch``.
    Returns how many leaves were added."""
    growth = await TreeGrowth(uow).start()
    for _ in range(max_batches):
        rows = await uow.audit.settled_hashes(growth.cursor, batch)
        await growth.add(rows)
        if len(rows) < batch:
            break
    return await growth.finish()


async def tree_size(uow: UnitOfWork) -> int:
    return (await uow.tree.size_and_cursor())[0]


async def root_at(uow: UnitOfWork, size: int) -> bytes:
    return merkle.root_of(size, await uow.tree.nodes(merkle.nodes_for([(0, size)])))


# --- tree heads --------------------------------------------------------------------------------------


async def sign_tree_head(uow: UnitOfWork, keyring: Keyring, origin: str) -> StoredHead:
    """Sign the whole stored tree now as a C2SP checkpoint with the active signing key."""
    size = await tree_size(uow)
    root = await root_at(uow, size)
    key = (await keyring.signing_key(uow, ED25519)).private.private_key
    if not isinstance(key, Ed25519PrivateKey):  # the keyring's Ed25519 key
        raise TypeError(f"the signing key is a {type(key).__name__}, not Ed25519")
    head = signed_note.TreeHead(origin, size, root)
    note = signed_note.sign(head.text(), origin, key)
    vkey = signed_note.verifier_key(origin, signed_note.raw_public_key(key.public_key()))
    head_id = await uow.tree.add_head(size, root, note, vkey)
    return StoredHead(head_id, size, root, note, vkey, time.time())


async def maybe_sign_tree_head(
    uow: UnitOfWork, keyring: Keyring, origin: str, every_rows: int, every_seconds: float,
    force: bool, since: datetime | None, behind: bool = False,
) -> StoredHead | None:
    """On the checkpoint schedule: a head when the tree grew by ``every_rows`` leaves, or grew
    at all and ``every_seconds`` passed since the last head (or ``since``), or with ``force``.
    While the tree is ``behind`` (a catch-up, a batch at a time) only the time counts: a head
    per batch would say nothing a witness needs."""
    latest = await uow.tree.latest_head()
    size = await tree_size(uow)
    if latest is not None and latest.tree_size == size:
        if latest.root == await root_at(uow, size):
            return None  # nothing new to sign
        return await sign_tree_head(uow, keyring, origin)  # the stored tree was rebuilt: say so
    last_epoch = latest.at_epoch if latest else (since or datetime.now(UTC)).timestamp()
    grown = size - (latest.tree_size if latest else 0)
    if force or (grown >= every_rows and not behind) or time.time() - last_epoch >= every_seconds:
        return await sign_tree_head(uow, keyring, origin)
    return None


# --- proofs ------------------------------------------------------------------------------------------


async def _size_in_tree(uow: UnitOfWork, size: int | None, what: str) -> int:
    current = await tree_size(uow)
    if size is None:
        latest = await uow.tree.latest_head()
        if latest is None:
            raise NotInTree("no tree head has been signed yet")
        return latest.tree_size
    if size > current:
        raise merkle.ProofError(f"{what} {size} is beyond the current tree of {current} leaves")
    return size


async def inclusion_proof(uow: UnitOfWork, cursor: Cursor, size: int | None = None) -> InclusionProof:
    """The RFC 9162 audit path of the row at ``cursor`` in the tree of ``size`` leaves
    (default: the latest signed tree head)."""
    size = await _size_in_tree(uow, size, "tree_size")
    index = await uow.tree.leaf_index(cursor)
    if index is None:
        raise NotInTree(f"no row at cursor {format_cursor(cursor)} is in the tree yet")
    if index >= size:
        raise NotInTree(f"the row at cursor {format_cursor(cursor)} is leaf {index}, not in the tree of {size} leaves")
    ranges = merkle.inclusion_ranges(index, size)
    stored = await uow.tree.nodes(merkle.nodes_for(ranges))
    return InclusionProof(index, size, merkle.hashes_for(ranges, stored))


async def consistency_proof(uow: UnitOfWork, first: int, second: int) -> list[bytes]:
    """RFC 9162 PROOF(first, D[second]): the tree of ``first`` leaves is a prefix of ``second``."""
    if first > second:
        raise merkle.ProofError(f"first ({first}) is larger than second ({second}); a log only grows")
    await _size_in_tree(uow, second, "second")
    if first == 0 or first == second:
        return []
    ranges = merkle.consistency_ranges(first, second)
    stored = await uow.tree.nodes(merkle.nodes_for(ranges))
    return merkle.hashes_for(ranges, stored)


async def log_info(uow: UnitOfWork) -> dict[str, Any] | None:
    latest = await uow.tree.latest_head()
    if latest is None:
        return None
    origin = signed_note.Verifier.parse(latest.verifier_key).name
    return {"origin": origin, "verifier_key": latest.verifier_key, "checkpoint": latest.note}
