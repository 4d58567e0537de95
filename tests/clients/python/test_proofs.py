"""The client's offline proof checks against RFC 9162's own recursive definitions (MTH, PATH,
PROOF, written out here from §2.1): every proof of every tree up to 33 leaves verifies, and any
changed hash, index or size is refused."""

from __future__ import annotations

import hashlib

import pytest
from mfa_flow_client import ProofError
from mfa_flow_client.proofs import leaf_hash, verify_consistency, verify_inclusion

LEAVES = [hashlib.sha256(f"row {i}".encode()).digest() for i in range(33)]


def node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def split(n: int) -> int:
    """The largest power of two smaller than n."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def mth(leaves: list[bytes]) -> bytes:
    if len(leaves) == 1:
        return leaf_hash(leaves[0])
    k = split(len(leaves))
    return node(mth(leaves[:k]), mth(leaves[k:]))


def path(m: int, leaves: list[bytes]) -> list[bytes]:
    if len(leaves) == 1:
        return []
    k = split(len(leaves))
    return path(m, leaves[:k]) + [mth(leaves[k:])] if m < k else path(m - k, leaves[k:]) + [mth(leaves[:k])]


def subproof(m: int, leaves: list[bytes], whole: bool) -> list[bytes]:
    n = len(leaves)
    if m == n:
        return [] if whole else [mth(leaves)]
    k = split(n)
    if m <= k:
        return subproof(m, leaves[:k], whole) + [mth(leaves[k:])]
    return subproof(m - k, leaves[k:], False) + [mth(leaves[:k])]


SIZES = range(1, len(LEAVES) + 1)


@pytest.mark.parametrize("size", SIZES)
def test_every_inclusion_proof_verifies_and_a_changed_one_does_not(size):
    leaves = LEAVES[:size]
    root = mth(leaves)
    for index in range(size):
        proof = path(index, leaves)
        verify_inclusion(index, size, leaves[index], proof, root)
        with pytest.raises(ProofError):
            verify_inclusion(index, size, LEAVES[-1] if index != 32 else LEAVES[0], proof, root)
        if proof:
            bad = [*proof]
            bad[-1] = bytes(32)
            with pytest.raises(ProofError):
                verify_inclusion(index, size, leaves[index], bad, root)
            with pytest.raises(ProofError):
                verify_inclusion(index, size, leaves[index], [*proof, bytes(32)], root)
        if size > 1:
            with pytest.raises(ProofError):
                verify_inclusion((index + 1) % size, size, leaves[index], proof, root)
    with pytest.raises(ProofError):
        verify_inclusion(size, size, leaves[0], [], root)


@pytest.mark.parametrize("second", SIZES)
def test_every_consistency_proof_verifies_and_a_forked_log_does_not(second):
    later = LEAVES[:second]
    for first in range(1, second + 1):
        proof = subproof(first, later, True)
        verify_consistency(first, second, mth(later[:first]), mth(later), proof)
        if first < second:
            with pytest.raises(ProofError):  # an older tree that is not a prefix: a fork
                verify_consistency(first, second, mth([bytes(32)] + later[1:first]), mth(later), proof)
            with pytest.raises(ProofError):
                verify_consistency(first, second, mth(later[:first]), mth(later[:-1] + [bytes(32)]), proof)
            with pytest.raises(ProofError):
                verify_consistency(first, second, mth(later[:first]), mth(later), proof[:-1])
    with pytest.raises(ProofError, match="shrank"):
        verify_consistency(second + 1, second, mth(later), mth(later), [])
