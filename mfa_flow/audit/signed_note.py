"""Signed tree heads: C2SP ``tlog-checkpoint`` text signed as a C2SP ``signed-note`` with
Ed25519, byte for byte as Go's ``golang.org/x/mod/sumdb/note`` writes and reads them. Pure.

- Checkpoint text: ``<origin>\\n<tree size>\\n<base64 root>\\n`` (no extension lines here).
- Note: the text, a blank line, then one line per signature ``— <key name> base64(key ID ||
  signature)`` (an em dash, U+2014). The signature is over the text, final newline included.
- Key ID: ``SHA-256(key name || 0x0A || 0x01 || public key)[:4]`` (0x01: Ed25519).
- Verifier key: ``<key name>+<key ID, 8 hex digits>+<base64(0x01 || public key)>``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from .errors import AuditError

ED25519 = 0x01
SIGNATURE_PREFIX = "\u2014 "  # "— "
MAX_SIGNATURES = 100  # as Go's note.Open


class NoteError(AuditError):
    """A note, checkpoint or verifier key that is malformed or does not verify; says why."""


def _b64decode(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise NoteError(f"{what} is not base64") from None


def _check_name(name: str) -> None:
    if not name or "+" in name or any(c.isspace() for c in name):
        raise NoteError(f"{name[:60]!r} is not a key name: it must be non-empty, with no spaces and no '+'")


def key_id(name: str, public_key: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + bytes([ED25519]) + public_key).digest()[:4]


def raw_public_key(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def verifier_key(name: str, public_key: bytes) -> str:
    _check_name(name)
    encoded = base64.b64encode(bytes([ED25519]) + public_key).decode()
    return f"{name}+{key_id(name, public_key).hex()}+{encoded}"


@dataclass(frozen=True)
class Verifier:
    name: str
    key_id: bytes
    public_key: bytes

    @classmethod
    def parse(cls, text: str) -> "Verifier":
        name, sep, rest = text.strip().partition("+")
        hash_hex, sep2, encoded = rest.partition("+")
        if not sep or not sep2:
            raise NoteError("a verifier key looks like <name>+<8 hex digits>+<base64 key>")
        _check_name(name)
        if len(hash_hex) != 8:
            raise NoteError("the verifier key's key ID must be 8 hex digits")
        try:
            declared = bytes.fromhex(hash_hex)
        except ValueError:
            raise NoteError("the verifier key's key ID is not hex") from None
        material = _b64decode(encoded, "the verifier key's key material")
        if len(material) != 33 or material[0] != ED25519:
            raise NoteError("the verifier key is not an Ed25519 key (0x01 and 32 bytes)")
        public_key = material[1:]
        if key_id(name, public_key) != declared:
            raise NoteError("the verifier key's key ID does not match its name and key")
        return cls(name, declared, public_key)

    def verify(self, message: bytes, signature: bytes) -> bool:
        try:
            Ed25519PublicKey.from_public_bytes(self.public_key).verify(signature, message)
        except (InvalidSignature, ValueError):
            return False
        return True

    def __str__(self) -> str:
        return verifier_key(self.name, self.public_key)


def sign(text: str, name: str, private_key: Ed25519PrivateKey) -> str:
    """The signed note: ``text`` (ending in a newline), a blank line, one signature line."""
    _check_name(name)
    if not text.endswith("\n") or "\n\n" in text:
        raise NoteError("a note's text ends with a newline and has no blank line")
    public = raw_public_key(private_key.public_key())
    signature = private_key.sign(text.encode())
    encoded = base64.b64encode(key_id(name, public) + signature).decode()
    return f"{text}\n{SIGNATURE_PREFIX}{name} {encoded}\n"


def open_note(note: str, verifier: Verifier) -> str:
    """The note's text if ``verifier`` signed it; NoteError naming what is wrong otherwise.
    Signatures by other keys are ignored (a note may carry a witness's cosignature)."""
    if not note.endswith("\n"):
        raise NoteError("the signed note does not end with a newline")
    split = note.rfind("\n\n")
    if split < 0:
        raise NoteError("the signed note has no blank line before its signatures")
    text, lines = note[: split + 1], note[split + 2 :].splitlines()
    if len(lines) > MAX_SIGNATURES:
        raise NoteError(f"the signed note has more than {MAX_SIGNATURES} signature lines")
    for line in lines:
        if not line.startswith(SIGNATURE_PREFIX):
            raise NoteError(f"{line[:60]!r} is not a signature line ('— <name> <base64>')")
        name, _, encoded = line[len(SIGNATURE_PREFIX) :].partition(" ")
        blob = _b64decode(encoded, "a signature")
        if len(blob) < 5:
            raise NoteError("a signature line is too short")
        if name == verifier.name and blob[:4] == verifier.key_id:
            if not verifier.verify(text.encode(), blob[4:]):
                raise NoteError(f"the signature of {name} does not verify: the signed text was changed")
            return text
    raise NoteError(f"the note carries no signature by the key {verifier.name}+{verifier.key_id.hex()}")


# --- tlog-checkpoint -------------------------------------------------------------------------------


@dataclass(frozen=True)
class TreeHead:
    origin: str
    size: int
    root: bytes

    def text(self) -> str:
        return f"{self.origin}\n{self.size}\n{base64.b64encode(self.root).decode()}\n"

    @classmethod
    def parse(cls, text: str) -> "TreeHead":
        lines = text.split("\n")
        if len(lines) < 4 or lines[-1] != "":
            raise NoteError("a checkpoint is three lines: origin, tree size, base64 root")
        origin, size_text, root_text = lines[0], lines[1], lines[2]
        if not origin:
            raise NoteError("the checkpoint has no origin")
        if not size_text.isdigit() or (size_text != "0" and size_text.startswith("0")) or not size_text.isascii():
            raise NoteError(f"the checkpoint's tree size {size_text[:30]!r} is not a decimal number")
        root = _b64decode(root_text, "the checkpoint's root hash")
        if len(root) != 32:
            raise NoteError("the checkpoint's root hash is not 32 bytes")
        return cls(origin, int(size_text), root)


def open_checkpoint(note: str, verifier: Verifier, origin: str | None = None) -> TreeHead:
    """Verify the signature, parse the checkpoint, and check its origin (if given)."""
    head = TreeHead.parse(open_note(note, verifier))
    expected = origin if origin is not None else verifier.name
    if head.origin != expected:
        raise NoteError(f"the checkpoint is for the log {head.origin!r}, not {expected!r}")
    return head
