"""Signed tree heads: C2SP signed-note and tlog-checkpoint, byte for byte as Go's note package.

The known vector is the example of golang.org/x/mod/sumdb/note (its package documentation and
note_test.go): the signer key ``PRIVATE+KEY+PeterNeumann+c74f20a3+AYEK…``, its verifier key, and
the note it signs. Ed25519 is deterministic, so signing the same text must give the same bytes.
"""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from mfa_flow.audit import signed_note
from mfa_flow.audit.signed_note import NoteError, TreeHead, Verifier

GO_SIGNER_SEED = base64.b64decode("AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz")[1:]  # after the 0x01 type byte
GO_VERIFIER_KEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_TEXT = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n"
GO_NOTE = GO_TEXT + "\n\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"


def go_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(GO_SIGNER_SEED)


def test_the_key_id_and_verifier_key_are_the_ones_go_derives():
    public = signed_note.raw_public_key(go_key().public_key())
    assert signed_note.key_id("PeterNeumann", public).hex() == "c74f20a3"
    assert signed_note.verifier_key("PeterNeumann", public) == GO_VERIFIER_KEY


def test_signing_the_go_example_gives_the_go_note_byte_for_byte():
    assert signed_note.sign(GO_TEXT, "PeterNeumann", go_key()) == GO_NOTE


def test_the_go_note_opens_with_the_go_verifier_key_and_a_changed_byte_does_not():
    verifier = Verifier.parse(GO_VERIFIER_KEY)
    assert signed_note.open_note(GO_NOTE, verifier) == GO_TEXT
    with pytest.raises(NoteError, match="does not verify"):
        signed_note.open_note(GO_NOTE.replace("cryptography", "cryptographY"), verifier)


def test_a_note_signed_by_another_key_or_name_is_refused():
    other = signed_note.sign(GO_TEXT, "PeterNeumann", Ed25519PrivateKey.generate())
    with pytest.raises(NoteError, match="no signature by the key PeterNeumann"):
        signed_note.open_note(other, Verifier.parse(GO_VERIFIER_KEY))


def test_a_cosignature_by_another_key_is_ignored():
    extra = signed_note.sign(GO_TEXT, "witness.example", Ed25519PrivateKey.generate()).split("\n\n")[1]
    assert signed_note.open_note(GO_NOTE + extra, Verifier.parse(GO_VERIFIER_KEY)) == GO_TEXT


@pytest.mark.parametrize("bad", [
    "PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # key ID off by one
    "PeterNeumanm+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # another name
    "PeterNeumann+c74f20a3+Apc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # not 0x01 || 32 bytes
    "PeterNeumann+c74f20a3",
    "Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
])
def test_malformed_verifier_keys_are_refused(bad):
    with pytest.raises(NoteError):
        Verifier.parse(bad)


def test_a_checkpoint_is_origin_size_and_base64_root_and_parses_back():
    head = TreeHead("mfa-flow/audit", 1234, bytes(range(32)))
    assert head.text() == "mfa-flow/audit\n1234\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n"
    assert TreeHead.parse(head.text()) == head


@pytest.mark.parametrize("text", ["o\n12\n", "o\n-1\nAAAA\n", "o\n012\n" + base64.b64encode(bytes(32)).decode() + "\n",
                                  "o\n1\nAAAA\n", "o\n1\n" + base64.b64encode(bytes(32)).decode()])
def test_malformed_checkpoints_are_refused(text):
    with pytest.raises(NoteError):
        TreeHead.parse(text)


def test_a_checkpoint_for_another_origin_is_refused():
    key = Ed25519PrivateKey.generate()
    vkey = signed_note.verifier_key("mfa-flow/audit", signed_note.raw_public_key(key.public_key()))
    note = signed_note.sign(TreeHead("other-log", 1, bytes(32)).text(), "mfa-flow/audit", key)
    with pytest.raises(NoteError, match="for the log 'other-log'"):
        signed_note.open_checkpoint(note, Verifier.parse(vkey))
