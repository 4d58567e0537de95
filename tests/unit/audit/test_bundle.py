"""Checking one sign-in's proof bundle offline: what holds, and what each forgery breaks."""

from __future__ import annotations

import base64
import copy
import json
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from mfa_flow.audit import bundle, merkle, signed_note
from mfa_flow.domain.machine import Step
from tests.support.forgery import rehash_chain
from tests.unit.audit.test_verify import MACHINE, SIGN_IN_WITH_TOTP, log_of

ORIGIN = "mfa-flow.test/audit"
KEY = Ed25519PrivateKey.generate()
VERIFIER_KEY = signed_note.verifier_key(ORIGIN, signed_note.raw_public_key(KEY.public_key()))


def make_bundle(flow_number: int = 1) -> dict[str, Any]:
    """Three flows in one log; the bundle proves the second one, as 'audit prove' writes it."""
    cancel = SIGN_IN_WITH_TOTP[:1] + [Step("cancel", "always", "cancelled")]
    rows, heads = log_of([cancel, SIGN_IN_WITH_TOTP, cancel])
    size, nodes = merkle.tree_from_leaves(bytes.fromhex(r["hash"]) for r in rows)
    head = signed_note.TreeHead(ORIGIN, size, merkle.root_of(size, nodes))
    flow = heads[flow_number]
    entries = []
    for index, row in enumerate(rows):
        if row["flow_id"] == flow.id:
            path = merkle.hashes_for(merkle.inclusion_ranges(index, size), nodes)
            proof = {"leaf_index": index, "tree_size": size, "hashes": [base64.b64encode(p).decode() for p in path]}
            entries.append({"row": json.loads(json.dumps(row)), "inclusion": proof})
    return {
        "format": bundle.FORMAT,
        "flow": flow.__dict__,
        "rows": entries,
        "checkpoint": signed_note.sign(head.text(), ORIGIN, KEY),
        "verifier_key": VERIFIER_KEY,
    }


def test_a_bundle_as_prove_writes_it_holds():
    report = bundle.check(make_bundle(), MACHINE, VERIFIER_KEY)
    assert report.ok, report.summary()
    assert (report.rows, report.tree_size, report.key_pinned) == (3, 7, True)
    assert report.summary().endswith("hold")


def test_a_tampered_row_is_named_the_log_never_signed_it():
    forged = make_bundle()
    forged["rows"][1]["row"]["data"]["factor"] = "sms"
    report = bundle.check(forged, MACHINE, VERIFIER_KEY)
    cursor = forged["rows"][1]["row"]["cursor"]
    assert report.problem == f"row {cursor} (flow {forged['flow']['id']} seq 2): the hash does not match the row's content: the row was changed"


def test_a_tampered_row_with_a_recomputed_chain_fails_its_inclusion_proof():
    forged = make_bundle()
    rows = [e["row"] for e in forged["rows"]]
    rows[1]["data"]["factor"] = "sms"
    forged["flow"]["chain_head"] = rehash_chain(rows)
    report = bundle.check(forged, MACHINE, VERIFIER_KEY)
    assert report.problem.startswith(f"row {rows[1]['cursor']} (seq 2): the inclusion proof of leaf ")
    assert report.problem.endswith("this row is not the one the log signed")


def test_a_dropped_row_breaks_the_chain_and_says_where():
    forged = make_bundle()
    del forged["rows"][1]
    report = bundle.check(forged, MACHINE, VERIFIER_KEY)
    assert "seq 3 follows seq 1 in this flow: a row is missing or rows were re-ordered" in report.problem


def test_a_dropped_last_row_shows_against_the_flow_row():
    forged = make_bundle()
    del forged["rows"][-1]
    assert "row seq 3 and after are missing" in bundle.check(forged, MACHINE, VERIFIER_KEY).problem


def test_a_reordered_pair_is_out_of_the_logs_order():
    forged = make_bundle()
    forged["rows"][0], forged["rows"][1] = forged["rows"][1], forged["rows"][0]
    report = bundle.check(forged, MACHINE, VERIFIER_KEY)
    assert "the rows are out of the log's order" in report.problem


def test_a_head_signed_by_another_key_or_changed_after_signing_is_refused():
    forged = make_bundle()
    forged["checkpoint"] = forged["checkpoint"].replace("\n7\n", "\n8\n")
    assert "the signed text was changed" in bundle.check(forged, MACHINE, VERIFIER_KEY).problem

    impostor = Ed25519PrivateKey.generate()
    forged = make_bundle()
    text = forged["checkpoint"].split("\n\n")[0] + "\n"
    forged["checkpoint"] = signed_note.sign(text, ORIGIN, impostor)
    forged["verifier_key"] = signed_note.verifier_key(ORIGIN, signed_note.raw_public_key(impostor.public_key()))
    assert bundle.check(forged, MACHINE).ok  # self-consistent: only a pinned key tells the impostor apart
    assert "tree head: the note carries no signature by the key" in bundle.check(forged, MACHINE, VERIFIER_KEY).problem


def test_a_proof_for_another_tree_size_or_a_garbled_hash_is_named():
    forged = make_bundle()
    forged["rows"][0]["inclusion"]["tree_size"] = 6
    assert "not the signed head's 7" in bundle.check(forged, MACHINE, VERIFIER_KEY).problem
    forged = make_bundle()
    forged["rows"][0]["inclusion"]["hashes"][0] = "not base64!"
    assert "not base64" in bundle.check(forged, MACHINE, VERIFIER_KEY).problem


def test_anything_that_is_not_a_bundle_is_named_not_raised():
    for thing in [None, [], {"format": "x"}, {**make_bundle(), "rows": "x"}, {**make_bundle(), "flow": {}}]:
        report = bundle.check(copy.deepcopy(thing), MACHINE, VERIFIER_KEY)
        assert not report.ok and report.problem
