"""The RFC 9162 §2.1 Merkle tree over the log's global order. Pure: no I/O.

Leaf ``i`` is the 32 raw bytes of row ``i``'s ``hash``; ``leaf hash = SHA-256(0x00 || leaf)``,
``node = SHA-256(0x01 || left || right)``. A *perfect* subtree ``Node(level, position)``
covers leaves ``[position·2^level, (position+1)·2^level)``. Every hash a root or a proof needs
is a range ``[start, end)`` that RFC 9162's recursion splits at the largest power of two, and
such a range is a handful of perfect subtrees folded from the right (``range_nodes``).

The store keeps the leaf hashes and the perfect subtrees at every ``STRIDE``-th level (4, 8,
12, ...): about 1.07 hashes per leaf instead of 2, so extending the tree writes about one row
per transition. A subtree between kept levels is rebuilt from at most 2^(STRIDE-1) kept hashes
below it. This module says *which* kept nodes an answer needs (``nodes_for``) and how to
combine them (``hashes_for``, ``root_of``); the store fetches them in one query.

Appending leaf ``n`` completes one subtree per trailing 1-bit of ``n``: O(log n) hashes, from
the tree's right edge (``frontier``), never a rescan.
"""

from __future__ import annotations

import hashlib
from typing import Iterable, Mapping, NamedTuple, Sequence

from .errors import AuditError

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()
STRIDE = 4  # the store keeps levels 0, 4, 8, ... (changing it means rebuilding the stored tree)


class Node(NamedTuple):
    """A perfect subtree (a tuple: cheap to make by the million when a tree is first built)."""

    level: int
    position: int  # the subtree's place among those of its level, from 0

    @property
    def start(self) -> int:
        return self.position << self.level

    @property
    def end(self) -> int:
        return (self.position + 1) << self.level


Range = tuple[int, int]  # leaves [start, end)


class ProofError(AuditError):
    """A proof that does not verify, or a request for one that cannot exist; says which."""


def leaf_hash(leaf: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + leaf).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(size: int) -> int:
    """The largest power of two smaller than ``size`` (``size`` >= 2): RFC 9162's k."""
    return 1 << ((size - 1).bit_length() - 1)


# --- ranges and the perfect subtrees that make them ---------------------------------------------


def range_nodes(start: int, end: int) -> list[Node]:
    """The perfect subtrees, left to right, whose fold from the right is MTH(D[start:end]) for
    a range RFC 9162's recursion produces (``start`` a multiple of a power of two >= end-start)."""
    nodes: list[Node] = []
    while start < end:
        size = end - start
        level = size.bit_length() - 1 if size & (size - 1) == 0 else _split(size).bit_length() - 1
        nodes.append(Node(level, start >> level))
        start += 1 << level
    return nodes


def range_hash(hashes: Sequence[bytes]) -> bytes:
    """Fold perfect-subtree hashes (left to right) into the hash of their range."""
    if not hashes:
        return EMPTY_ROOT
    folded = hashes[-1]
    for left in reversed(hashes[:-1]):
        folded = node_hash(left, folded)
    return folded


def inclusion_ranges(index: int, size: int) -> list[Range]:
    """RFC 9162 §2.1.3.1 PATH(index, D[size]) as leaf ranges, leaf-side first."""
    if not 0 <= index < size:
        raise ProofError(f"leaf {index} is not in a tree of {size} leaves")
    ranges: list[Range] = []
    start, end = 0, size
    while end - start > 1:
        k = _split(end - start)
        if index < start + k:
            ranges.append((start + k, end))
            end = start + k
        else:
            ranges.append((start, start + k))
            start += k
    return list(reversed(ranges))


def consistency_ranges(first: int, second: int) -> list[Range]:
    """RFC 9162 §2.1.4.1 PROOF(first, D[second]) as leaf ranges, in proof order."""
    if not 0 < first <= second:
        raise ProofError(f"no consistency proof from {first} to {second} leaves (need 0 < first <= second)")
    ranges: list[Range] = []

    def subproof(m: int, start: int, end: int, whole: bool) -> None:
        n = end - start
        if m == n:
            if not whole:
                ranges.append((start, end))
            return
        k = _split(n)
        if m <= k:
            subproof(m, start, start + k, whole)
            ranges.append((start + k, end))
        else:
            subproof(m - k, start + k, end, False)
            ranges.append((start, start + k))

    subproof(first, 0, second, True)
    return ranges


def is_kept(node: Node) -> bool:
    """Whether the store keeps this node's hash (a leaf, or a node at a STRIDE-th level)."""
    return node.level % STRIDE == 0


def kept_below(node: Node) -> list[Node]:
    """The kept nodes this node's hash is made from: itself when kept, else the 2^k kept nodes
    k levels below it, left to right."""
    drop = node.level % STRIDE
    if drop == 0:
        return [node]
    first = node.position << drop
    return [Node(node.level - drop, first + i) for i in range(1 << drop)]


def node_value(node: Node, stored: Mapping[Node, bytes]) -> bytes:
    hashes = [stored[kept] for kept in kept_below(node)]
    while len(hashes) > 1:
        hashes = [node_hash(hashes[i], hashes[i + 1]) for i in range(0, len(hashes), 2)]
    return hashes[0]


def nodes_for(ranges: Iterable[Range]) -> set[Node]:
    """The kept nodes to fetch for these ranges' hashes."""
    return {kept for start, end in ranges for node in range_nodes(start, end) for kept in kept_below(node)}


def hashes_for(ranges: Iterable[Range], stored: Mapping[Node, bytes]) -> list[bytes]:
    """Each range's hash from the kept nodes ``nodes_for`` named."""
    return [range_hash([node_value(node, stored) for node in range_nodes(start, end)]) for start, end in ranges]


def root_of(size: int, stored: Mapping[Node, bytes]) -> bytes:
    return hashes_for([(0, size)], stored)[0] if size else EMPTY_ROOT


def frontier_of(size: int, stored: Mapping[Node, bytes]) -> list[bytes]:
    """The right edge ``append`` starts from: the hashes of ``range_nodes(0, size)``, from the
    kept nodes ``nodes_for([(0, size)])`` named."""
    return [node_value(node, stored) for node in range_nodes(0, size)]


# --- appending ---------------------------------------------------------------------------------


def append(
    size: int, frontier: Sequence[bytes], leaves: Iterable[bytes]
) -> tuple[int, list[bytes], list[tuple[Node, bytes]]]:
    """Append leaves (raw leaf data) to a tree of ``size`` leaves whose right edge is
    ``frontier`` (the hashes of ``range_nodes(0, size)``). Returns the new size, the new
    frontier and every perfect subtree completed (the store keeps those ``is_kept`` says)."""
    edge = list(frontier)
    made: list[tuple[Node, bytes]] = []
    # The first build after an upgrade runs this for every stored row: names bound locally.
    sha256, keep, push, pop = hashlib.sha256, made.append, edge.append, edge.pop
    for leaf in leaves:
        current = sha256(b"\x00" + leaf).digest()
        keep((Node(0, size), current))
        index, level = size, 0
        while index & 1:  # a left sibling is waiting on the edge: the pair is complete
            current = sha256(b"\x01" + pop() + current).digest()
            index >>= 1
            level += 1
            keep((Node(level, index), current))
        push(current)
        size += 1
    return size, edge, made


# --- verifying (RFC 9162 §2.1.3.2 and §2.1.4.2) ----------------------------------------------------


def _check_hashes(hashes: Sequence[bytes], what: str) -> None:
    for position, value in enumerate(hashes):
        if len(value) != HASH_SIZE:
            raise ProofError(f"{what} hash {position} is {len(value)} bytes, not {HASH_SIZE}")


def _fold(fn: int, sn: int, seed: bytes, path: Sequence[bytes], what: str) -> tuple[bytes, bytes]:
    """The walk both RFC 9162 verifications share (§2.1.3.2 step 4, §2.1.4.2 step 6): climb
    from node ``fn`` of a tree whose last node is ``sn``, hashing in each proof value on the side
    the position calls for. Returns (fr, sr): the root of the tree that ends at ``fn`` (only
    left-hand values) and the root of the whole tree (every value)."""
    fr = sr = seed
    for value in path:
        if sn == 0:
            raise ProofError(f"the {what} is longer than the tree is deep")
        if fn & 1 or fn == sn:
            fr = node_hash(value, fr)
            sr = node_hash(value, sr)
            while fn & 1 == 0 and fn != 0:  # on the right edge: climb to where a left sibling waits
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, value)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError(f"the {what} is shorter than the tree is deep")
    return fr, sr


def root_from_inclusion(index: int, size: int, leaf_hash_value: bytes, proof: Sequence[bytes]) -> bytes:
    if not 0 <= index < size:
        raise ProofError(f"leaf index {index} is not below the tree size {size}")
    _check_hashes([leaf_hash_value, *proof], "inclusion proof")
    return _fold(index, size - 1, leaf_hash_value, proof, "inclusion proof")[1]


def verify_inclusion(index: int, size: int, leaf_hash_value: bytes, proof: Sequence[bytes], root: bytes) -> None:
    """Raise ProofError unless ``proof`` shows leaf ``index`` with that hash in the tree ``root``."""
    if root_from_inclusion(index, size, leaf_hash_value, proof) != root:
        raise ProofError(f"the inclusion proof of leaf {index} does not lead to the root of the tree of size {size}")


def verify_consistency(first: int, second: int, first_root: bytes, second_root: bytes, proof: Sequence[bytes]) -> None:
    """Raise ProofError unless ``proof`` shows the tree of ``first`` leaves is a prefix of the
    tree of ``second`` leaves (the log was only appended to in between)."""
    if first > second:
        raise ProofError(f"the tree shrank from {first} to {second} leaves")
    _check_hashes(proof, "consistency proof")
    if first == second:
        if proof:
            raise ProofError("a consistency proof between equal sizes must be empty")
        if first_root != second_root:
            raise ProofError(f"two different roots for the same tree size {first}: the log forked")
        return
    if first == 0:
        if proof:
            raise ProofError("a consistency proof from the empty tree must be empty")
        return
    if not proof:
        raise ProofError(f"an empty consistency proof cannot link {first} to {second} leaves")
    path = list(proof)
    if first & (first - 1) == 0:  # a power of two: the first tree is itself a node of the second
        path.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:  # start from the first tree's largest complete subtree on its right edge
        fn >>= 1
        sn >>= 1
    fr, sr = _fold(fn, sn, path[0], path[1:], "consistency proof")
    if fr != first_root:
        raise ProofError(f"the consistency proof does not lead to the root of the tree of size {first}: the log forked")
    if sr != second_root:
        raise ProofError(f"the consistency proof does not lead to the root of the tree of size {second}")


# --- a whole tree in memory (tests, small bundles) -------------------------------------------------


def tree_from_leaves(leaves: Iterable[bytes]) -> tuple[int, dict[Node, bytes]]:
    """The kept nodes of the tree over ``leaves``, as the store holds them."""
    size, _, made = append(0, [], leaves)
    return size, {node: value for node, value in made if is_kept(node)}

