"""A tiny software WebAuthn authenticator (and client) for tests.

Tests need real, signed WebAuthn responses, but they can't drive a browser or a
security key. This class plays both the browser (it builds clientDataJSON and the
``toJSON()`` shape) and the authenticator (it owns ES256 keys and signs). Every
value is real, so py_webauthn verifies it like a browser response. Keyword
*overrides* make the response wrong in exactly one way, for negative tests.

Each instance is one device. Two users' devices are just two instances. Copying
a credential onto another device (a cloned key) is ``b.credentials.append(cred.clone())``.
"""
import base64
import dataclasses
import hashlib
import json
import os
import struct
from urllib.parse import urlsplit

import cbor2
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

ES256 = -7
UP, UV, BE, BS, AT = 0x01, 0x04, 0x08, 0x10, 0x40


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class AuthenticatorError(Exception):
    """What a browser would reject with (InvalidStateError / NotAllowedError)."""


@dataclasses.dataclass
class Credential:
    """One stored key: the state a real authenticator keeps per credential."""
    id: bytes
    private_key: ec.EllipticCurvePrivateKey
    rp_id: str
    user_handle: bytes
    sign_count: int = 0

    @property
    def id_b64(self) -> str:
        return b64url(self.id)

    def clone(self) -> "Credential":
        """Copy with the same key and counter (the key object is immutable, so sharing it is safe)."""
        return dataclasses.replace(self)

    def cose_public_key(self) -> bytes:
        """COSE_Key (EC2, P-256, ES256): the key format inside authenticator data."""
        nums = self.private_key.public_key().public_numbers()
        return cbor2.dumps({1: 2, 3: ES256, -1: 1, -2: nums.x.to_bytes(32, "big"), -3: nums.y.to_bytes(32, "big")})


class SoftAuthenticator:
    """A platform authenticator with discoverable credentials. Use ``create()``/``get()`` like
    ``navigator.credentials.create()/get()``: WebAuthn JSON options in, ``toJSON()`` dict out."""

    AAGUID = bytes(16)  # all zero: "no attestation", which is what fmt "none" implies
    _CEREMONY_KNOBS = {"origin", "rp_id", "challenge", "counter", "user_present", "user_verified", "type"}
    _CREATE_KNOBS = _CEREMONY_KNOBS | {"reuse_credential_id"}
    _GET_KNOBS = _CEREMONY_KNOBS | {"tamper_signature", "credential_id"}

    def __init__(self, *, origin="http://localhost:8080", rp_id=None,
                 user_present=True, user_verified=True, backed_up=False):
        """``rp_id`` None means: use the rp id in the options (then the origin's host), as a browser does.
        ``backed_up`` sets the BE and BS flags, like a synced passkey."""
        self.origin, self.rp_id = origin, rp_id
        self.user_present, self.user_verified, self.backed_up = user_present, user_verified, backed_up
        self.credentials: list[Credential] = []

    def create(self, options: dict, **overrides) -> dict:
        """Make a new credential, store it, and return a RegistrationResponseJSON (attestation "none")."""
        o = self._knobs(overrides, self._CREATE_KNOBS)
        rp_id = self._scope(options.get("rp", {}).get("id"))
        if ES256 not in [p.get("alg") for p in options.get("pubKeyCredParams", [])]:
            raise AuthenticatorError("NotSupportedError: RP does not accept ES256")
        excluded = {unb64url(c["id"]) for c in options.get("excludeCredentials") or []}
        if any(c.rp_id == rp_id and c.id in excluded for c in self.credentials):
            raise AuthenticatorError("InvalidStateError: a credential in excludeCredentials is on this device")
        # reuse_credential_id: a new key under an id that exists already (an RP must refuse it).
        new_id = unb64url(o["reuse_credential_id"]) if "reuse_credential_id" in o else os.urandom(32)
        cred = Credential(new_id, ec.generate_private_key(ec.SECP256R1()), rp_id,
                          unb64url(options["user"]["id"]), o.get("counter", 0))
        self.credentials.append(cred)
        attested = self.AAGUID + struct.pack(">H", len(cred.id)) + cred.id + cred.cose_public_key()
        auth_data = self._auth_data(o, rp_id, AT, cred.sign_count) + attested
        client_data = self._client_data(o, "webauthn.create", options["challenge"])
        spki = cred.private_key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        return self._credential_json(cred, {
            "clientDataJSON": b64url(client_data),
            "attestationObject": b64url(cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": auth_data})),
            "transports": ["internal"],
            "authenticatorData": b64url(auth_data),
            "publicKey": b64url(spki),
            "publicKeyAlgorithm": ES256,
        })

    def get(self, options: dict, **overrides) -> dict:
        """Sign an assertion with a matching credential (the first one; an empty allowCredentials
        means any discoverable one), bump its counter, and return an AuthenticationResponseJSON."""
        o = self._knobs(overrides, self._GET_KNOBS)
        rp_id = self._scope(options.get("rpId"))
        if "credential_id" in o:  # answer with this key even if the RP did not ask for it
            found = [c for c in self.credentials if c.id == unb64url(o["credential_id"])]
        else:
            allowed = {unb64url(c["id"]) for c in options.get("allowCredentials") or []}
            found = [c for c in self.credentials if c.rp_id == rp_id and (not allowed or c.id in allowed)]
        if not found:
            raise AuthenticatorError("NotAllowedError: no matching credential on this device")
        cred = found[0]
        cred.sign_count = o.get("counter", cred.sign_count + 1)
        auth_data = self._auth_data(o, rp_id, 0, cred.sign_count)
        client_data = self._client_data(o, "webauthn.get", options["challenge"])
        signature = cred.private_key.sign(auth_data + hashlib.sha256(client_data).digest(),
                                          ec.ECDSA(hashes.SHA256()))
        if o.get("tamper_signature"):  # flip the last bit: DER stays well-formed, the value is wrong
            signature = signature[:-1] + bytes([signature[-1] ^ 0x01])
        return self._credential_json(cred, {
            "clientDataJSON": b64url(client_data),
            "authenticatorData": b64url(auth_data),
            "signature": b64url(signature),
            "userHandle": b64url(cred.user_handle),
        })

    # -- helpers -------------------------------------------------------------------------

    @staticmethod
    def _knobs(overrides: dict, allowed: set) -> dict:
        """Reject typos: a misspelt knob would silently make a negative test pass for the wrong reason."""
        unknown = set(overrides) - allowed
        if unknown:
            raise TypeError(f"unknown override(s): {sorted(unknown)}")
        return overrides

    def _scope(self, options_rp_id) -> str:
        """The rp id the credential belongs to (override ``rp_id`` only changes the hash that is signed)."""
        return self.rp_id or options_rp_id or urlsplit(self.origin).hostname

    def _auth_data(self, o: dict, rp_id: str, extra_flags: int, counter: int) -> bytes:
        flags = extra_flags
        flags |= UP if o.get("user_present", self.user_present) else 0
        flags |= UV if o.get("user_verified", self.user_verified) else 0
        flags |= (BE | BS) if self.backed_up else 0
        rp_id_hash = hashlib.sha256(o.get("rp_id", rp_id).encode()).digest()
        return rp_id_hash + bytes([flags]) + struct.pack(">I", counter)

    def _client_data(self, o: dict, ceremony: str, challenge: str) -> bytes:
        """Compact JSON in the key order browsers use; the RP hashes these exact bytes."""
        return json.dumps({"type": o.get("type", ceremony), "challenge": o.get("challenge", challenge),
                           "origin": o.get("origin", self.origin), "crossOrigin": False},
                          separators=(",", ":")).encode()

    @staticmethod
    def _credential_json(cred: Credential, response: dict) -> dict:
        return {"id": cred.id_b64, "rawId": cred.id_b64, "type": "public-key", "response": response,
                "clientExtensionResults": {}, "authenticatorAttachment": "platform"}
