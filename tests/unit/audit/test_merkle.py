"""The Merkle tree math against published test vectors (RFC 9162 / RFC 6962 reference trees).

Vectors: the reference tree of transparency-dev/merkle (proof/verify_test.go, and Certificate
Transparency's C++ merkle_tree_test before it) — eight leaves, the root at every size 1–8,
inclusion and consistency proofs; and a 13-leaf inclusion proof answered by a CT log
(google/trillian's CT test server: get-sth and get-proof-by-hash). Only the hashes are copied.
"""

from __future__ import annotations

import base64
import hashlib
import random

import pytest

from mfa_flow.audit import merkle
from mfa_flow.audit.merkle import ProofError

LEAVES = [bytes.fromhex(h) for h in
          ["", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"]]
ROOTS = [bytes.fromhex(h) for h in [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]]


def h(text: str) -> bytes:
    return bytes.fromhex(text)


# (leaf index 0-based, tree size, audit path)
INCLUSION = [
    (0, 1, []),
    (0, 8, [h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
            h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4")]),
    (5, 8, [h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
            h("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
            h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7")]),
    (2, 3, [h("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125")]),
    (1, 5, [h("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
            h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b")]),
]

# (first size, second size, proof)
CONSISTENCY = [
    (1, 1, []),
    (1, 8, [h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
            h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4")]),
    (6, 8, [h("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
            h("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
            h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7")]),
    (2, 5, [h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b")]),
    (6, 7, [h("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
            h("b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f"),
            h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7")]),
]

# A CT log's answer for a 13-leaf tree: get-sth's root and get-proof-by-hash for leaf 9.
CT_13 = {
    "root": "R9WC7p/bRdY/66oy3quY/0Mt6cjQFyoBZsetEx0IX+M=",
    "leaf_hash": "KVp7ZE6jlFOHhYJassBbPzlw0aehUxNpC/iY57+1ZbU=",
    "leaf_index": 9,
    "audit_path": ["AWYmKRB/QfVeQC/rNwxJgHa4EuqtjhxtcXDcUdzevl8=", "yTCGf34J03ex7inF4sOBVh39vLo/VYbaQUbmm8Z4Z2c=",
                   "BRBvXBkQgjHjTgcmuysrDr4S/fHQGAOnElm+i1DE9eY=", "0UUQNaadR+axKIFU064lMXi00aMsKFwTZjvinNskmy8="],
}


def reference_root(leaves: list[bytes]) -> bytes:
    """RFC 9162 §2.1.1 MTH, written straight from its definition (recursive, no stored nodes)."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return merkle.leaf_hash(leaves[0])
    k = 1 << ((len(leaves) - 1).bit_length() - 1)
    return merkle.node_hash(reference_root(leaves[:k]), reference_root(leaves[k:]))


@pytest.mark.parametrize("size", range(1, 9))
def test_the_root_of_the_reference_tree_at_every_size_from_1_to_8(size):
    tree_size, nodes = merkle.tree_from_leaves(LEAVES[:size])
    assert merkle.root_of(tree_size, nodes) == ROOTS[size - 1]


def test_the_empty_tree_hashes_the_empty_string():
    assert merkle.root_of(0, {}) == h("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")


@pytest.mark.parametrize("index,size,path", INCLUSION)
def test_inclusion_proofs_are_the_reference_audit_paths_and_verify(index, size, path):
    tree_size, nodes = merkle.tree_from_leaves(LEAVES[:size])
    ranges = merkle.inclusion_ranges(index, size)
    assert merkle.hashes_for(ranges, nodes) == path
    merkle.verify_inclusion(index, size, merkle.leaf_hash(LEAVES[index]), path, ROOTS[size - 1])


@pytest.mark.parametrize("first,second,proof", CONSISTENCY)
def test_consistency_proofs_are_the_reference_proofs_and_verify(first, second, proof):
    _, nodes = merkle.tree_from_leaves(LEAVES[:second])
    assert merkle.hashes_for(merkle.consistency_ranges(first, second), nodes) == proof
    merkle.verify_consistency(first, second, ROOTS[first - 1], ROOTS[second - 1], proof)


def test_a_proof_answered_by_a_certificate_transparency_log_for_13_leaves_verifies():
    path = [base64.b64decode(p) for p in CT_13["audit_path"]]
    leaf = base64.b64decode(CT_13["leaf_hash"])
    merkle.verify_inclusion(CT_13["leaf_index"], 13, leaf, path, base64.b64decode(CT_13["root"]))
    with pytest.raises(ProofError):
        merkle.verify_inclusion(CT_13["leaf_index"] - 1, 13, leaf, path, base64.b64decode(CT_13["root"]))


def corruptions(proof: list[bytes]) -> list[tuple[str, list[bytes]]]:
    variants = [("trailing garbage", [*proof, b""]), ("trailing hash", [*proof, ROOTS[0]]),
                ("preceding hash", [ROOTS[0], *proof])]
    if proof:
        variants.append(("truncated", proof[:-1]))
    for i in range(len(proof)):
        flipped = list(proof)
        flipped[i] = bytes([proof[i][0] ^ 8]) + proof[i][1:]
        variants.append((f"bit flipped in hash {i}", flipped))
    return variants


@pytest.mark.parametrize("index,size,path", [v for v in INCLUSION if v[2]])
def test_a_corrupted_inclusion_proof_wrong_index_or_wrong_size_is_refused(index, size, path):
    leaf, root = merkle.leaf_hash(LEAVES[index]), ROOTS[size - 1]
    for _what, bad in corruptions(path):
        with pytest.raises(ProofError):
            merkle.verify_inclusion(index, size, leaf, bad, root)
    for other_index, other_size in [(index + 1, size), (index ^ 2, size), (index, size * 2), (index, size // 2)]:
        if other_index < other_size:
            with pytest.raises(ProofError):
                merkle.verify_inclusion(other_index, other_size, leaf, path, root)
    with pytest.raises(ProofError):
        merkle.verify_inclusion(index, size, merkle.leaf_hash(b"WrongLeaf"), path, root)


@pytest.mark.parametrize("first,second,proof", [v for v in CONSISTENCY if v[2]])
def test_a_corrupted_consistency_proof_swapped_roots_or_wrong_sizes_are_refused(first, second, proof):
    root1, root2 = ROOTS[first - 1], ROOTS[second - 1]
    for _what, bad in [*corruptions(proof), ("empty", [])]:
        with pytest.raises(ProofError):
            merkle.verify_consistency(first, second, root1, root2, bad)
    with pytest.raises(ProofError):
        merkle.verify_consistency(first, second, root2, root1, proof)
    for a, b in [(first - 1, second), (first + 1, second), (first, second * 2), (first, second // 2)]:
        if 0 < a and a != b:
            with pytest.raises(ProofError):
                merkle.verify_consistency(a, b, root1, root2, proof)


def test_a_smaller_second_tree_or_a_different_root_at_one_size_is_a_named_fork():
    with pytest.raises(ProofError, match="shrank from 5 to 3"):
        merkle.verify_consistency(5, 3, ROOTS[4], ROOTS[2], [])
    with pytest.raises(ProofError, match="forked"):
        merkle.verify_consistency(4, 4, ROOTS[3], ROOTS[2], [])


def test_larger_trees_match_the_definition_and_every_proof_verifies():
    rng = random.Random(9162)
    leaves = [rng.randbytes(32) for _ in range(300)]
    size, nodes = merkle.tree_from_leaves(leaves)
    for n in [1, 2, 31, 32, 33, 100, 127, 128, 129, 255, 256, 257, 300]:
        root = reference_root(leaves[:n])
        assert merkle.root_of(n, nodes) == root
        for index in {0, n // 3, n - 1}:
            path = merkle.hashes_for(merkle.inclusion_ranges(index, n), nodes)
            assert len(path) <= n.bit_length()
            merkle.verify_inclusion(index, n, merkle.leaf_hash(leaves[index]), path, root)
        for m in {1, n // 2 or 1, n - 1 or 1}:
            proof = merkle.hashes_for(merkle.consistency_ranges(m, n), nodes) if m < n else []
            merkle.verify_consistency(m, n, reference_root(leaves[:m]), root, proof)


def test_appending_in_batches_stores_the_same_nodes_as_appending_at_once_and_each_leaf_adds_log_n():
    rng = random.Random(6962)
    leaves = [rng.randbytes(32) for _ in range(1000)]
    _, whole = merkle.tree_from_leaves(leaves)
    size, frontier, stored = 0, [], {}
    for start in range(0, 1000, 137):
        size, frontier, made = merkle.append(size, frontier, leaves[start:start + 137])
        assert all(node not in stored for node, _ in made)  # nothing is ever rewritten
        stored.update(made)
        kept = {node: value for node, value in stored.items() if merkle.is_kept(node)}
        assert merkle.frontier_of(size, kept) == frontier  # what extending reads back from the store
        assert frontier == [stored[n] for n in merkle.range_nodes(0, size)]
    assert {node: value for node, value in stored.items() if merkle.is_kept(node)} == whole
    assert len(stored) == 2 * 1000 - bin(1000).count("1")  # about two subtrees completed per leaf
    assert len(whole) == 1000 + 1000 // 16 + 1000 // 256  # kept: the leaves and levels 4, 8
    _, _, made = merkle.append(1023, [stored.get(n, b"x" * 32) for n in merkle.range_nodes(0, 1023)], [b"y"])
    assert len(made) == 11  # leaf 1023 completes ten subtrees: log2 of the size, not the size


def test_a_node_between_kept_levels_is_rebuilt_from_the_kept_ones_below_it():
    rng = random.Random(4)
    leaves = [rng.randbytes(32) for _ in range(64)]
    everything = dict(merkle.append(0, [], leaves)[2])
    _, kept = merkle.tree_from_leaves(leaves)
    assert {node.level for node in kept} == {0, 4}
    for node in [merkle.Node(1, 5), merkle.Node(3, 7), merkle.Node(5, 1), merkle.Node(6, 0)]:
        assert merkle.node_value(node, kept) == everything[node]
    assert merkle.kept_below(merkle.Node(6, 0)) == [merkle.Node(4, i) for i in range(4)]


def test_requests_for_proofs_that_cannot_exist_are_refused():
    with pytest.raises(ProofError):
        merkle.inclusion_ranges(8, 8)
    with pytest.raises(ProofError):
        merkle.consistency_ranges(0, 8)
    with pytest.raises(ProofError):
        merkle.consistency_ranges(9, 8)
