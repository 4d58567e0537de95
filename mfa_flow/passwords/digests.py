"""Password digests imported from another system, each checked by its algorithm's own library.

Accepted encodings (``password_algorithm``: ``password_digest``):

- ``argon2``: the PHC string argon2 libraries write, ``$argon2id$v=19$m=65536,t=3,p=4$<salt>$<hash>``
  (``argon2i`` and ``argon2d`` too); verified by argon2-cffi.
- ``bcrypt``: the modular-crypt string ``$2b$<cost>$<22 characters of salt><31 of hash>`` (``$2a$`` and
  ``$2y$`` too); verified by ``bcrypt``. As the bcrypt that made the digest did, only a password's
  first 72 bytes count.
- ``scrypt``: the PHC-style string ``$scrypt$ln=<log2 N>,r=<r>,p=<p>$<salt>$<hash>`` (as passlib and
  libpass write it), salt and hash in base64 (standard or passlib's ``.`` for ``+``, padding
  optional), the key length being the hash's; verified by ``hashlib.scrypt``.
- ``pbkdf2_sha256``: Django's ``pbkdf2_sha256$<iterations>$<salt>$<base64 hash>`` (the salt is used as
  its UTF-8 text, the key length is the hash's); verified by ``hashlib.pbkdf2_hmac``.

Costs are bounded so that one imported digest cannot tie a hashing thread up for minutes.
``check`` only parses (it is cheap enough for the event loop); ``verify`` does the work.
Nothing here repeats a digest in an error: the messages say what is wrong, never the value.
Pure functions; the caller runs ``verify`` on the hashing pool.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Callable
from dataclasses import dataclass

import bcrypt
from argon2 import PasswordHasher, extract_parameters
from argon2.exceptions import InvalidHashError, VerificationError

from . import profiles

ALGORITHMS = ("argon2", "bcrypt", "scrypt", "pbkdf2_sha256")

_ARGON2 = re.compile(r"\$argon2(?:id|i|d)(?:\$v=(?:16|19))?\$m=\d{1,10},t=\d{1,10},p=\d{1,3}"
                     r"\$[A-Za-z0-9+/]{11,}\$[A-Za-z0-9+/]{16,}")
_ARGON2_MAX_KIB = 4 * 1024 * 1024
_ARGON2_MAX_PASSES = 100

_BCRYPT = re.compile(r"\$2[aby]\$(\d\d)\$[./A-Za-z0-9]{53}")
_BCRYPT_COSTS = (4, 16)  # cost 16 is ~4 s per check here; each step doubles it

_SCRYPT = re.compile(r"\$scrypt\$ln=(\d{1,2}),r=(\d{1,3}),p=(\d{1,3})\$([A-Za-z0-9+/.]+={0,2})\$([A-Za-z0-9+/.]+={0,2})")
_SCRYPT_MAX_BYTES = 256 * 1024 * 1024  # 128 x N x r: the memory one check needs

_PBKDF2 = re.compile(r"pbkdf2_sha256\$(\d{1,9})\$([^$]{1,128})\$([A-Za-z0-9+/]+={0,2})")
_PBKDF2_MAX_ITERATIONS = 5_000_000  # ~2.5 s per check here

_KEY_BYTES = (16, 128)  # derived-key lengths accepted for scrypt and pbkdf2_sha256


class DigestError(ValueError):
    """The root of the password digests' errors: a digest this service will not check."""


class MalformedDigest(DigestError):
    """The digest is not in the accepted encoding of its algorithm."""


class DigestTooCostly(DigestError):
    """Well-formed, but its cost parameters are beyond what one sign-in may spend; ``limit``
    names the bound it broke (``argon2_memory``, ``argon2_time``, ``argon2_lanes``), when one
    is named."""

    def __init__(self, message: str, limit: str | None = None) -> None:
        super().__init__(message)
        self.limit = limit


# How much more than the service's own hashes an argon2 digest may cost per check.
ARGON2_FACTOR = 4


@dataclass(frozen=True)
class Argon2Ceiling:
    """The costliest argon2 parameters a stored digest may name: ``ARGON2_FACTOR`` times what
    the service itself would choose, in memory (``memory_kib``), in time (``kib_passes``,
    memory x passes: argon2 fills m KiB t times, so its CPU time follows m x t) and in lanes
    (each lane is a thread). "What the service would choose" is the costlier, in each of the
    three, of the configured profile and the default one, so that hashes the service wrote
    under its default stay checkable after a move to a cheaper profile (they are rehashed at
    their user's next sign-in). Never above the absolute bounds (4 GiB, 100 passes)."""

    memory_kib: int
    kib_passes: int
    lanes: int

    @classmethod
    def of(cls, profile: profiles.Argon2Profile) -> "Argon2Ceiling":
        default = profiles.PROFILES[profiles.DEFAULT]
        memory = max(profile.memory_kib, default.memory_kib)
        work = max(profile.memory_kib * profile.time_cost, default.memory_kib * default.time_cost)
        lanes = max(profile.parallelism, default.parallelism)
        return cls(min(ARGON2_FACTOR * memory, _ARGON2_MAX_KIB),
                   min(ARGON2_FACTOR * work, _ARGON2_MAX_KIB * _ARGON2_MAX_PASSES), ARGON2_FACTOR * lanes)

    def refusal(self, memory_kib: int, passes: int, lanes: int) -> DigestTooCostly | None:
        """Why parameters m, t, p cost too much per check, or None. Names the limit and its
        value; never the digest."""
        why = (f" ({ARGON2_FACTOR} x the costlier of MFA_FLOW_PASSWORD_HASH and the default profile,"
               f" {profiles.DEFAULT})")
        if memory_kib > self.memory_kib:
            return DigestTooCostly(f"argon2 m={memory_kib} KiB is beyond this service's limit of m <= {self.memory_kib}"
                                   f" KiB{why}", limit="argon2_memory")
        if memory_kib * passes > self.kib_passes:
            return DigestTooCostly(f"argon2 m x t = {memory_kib * passes} KiB-passes is beyond this service's limit of"
                                   f" m x t <= {self.kib_passes}{why}", limit="argon2_time")
        if lanes > self.lanes:
            return DigestTooCostly(f"argon2 p={lanes} is beyond this service's limit of p <= {self.lanes}{why}",
                                   limit="argon2_lanes")
        return None


DEFAULT_CEILING_PROFILE = profiles.PROFILES[profiles.DEFAULT]

_argon2 = PasswordHasher()  # verifies with the parameters each digest names


def check(algorithm: str, digest: str, profile: profiles.Argon2Profile = DEFAULT_CEILING_PROFILE) -> None:
    """Raise ``MalformedDigest`` or ``DigestTooCostly`` (with a reason) unless ``digest`` is a
    digest of ``algorithm`` that ``verify`` can check at a cost the service allows when its own
    hashes use ``profile`` (argon2's bound follows the profile: ``Argon2Ceiling``)."""
    if algorithm == "argon2":
        _check_argon2(digest, Argon2Ceiling.of(profile))
    else:
        _CHECKS[algorithm](digest)


def too_costly(algorithm: str, digest: str, profile: profiles.Argon2Profile) -> DigestTooCostly | None:
    """Before a stored digest is checked (on the event loop: parsing only): why checking it
    would cost more than ``check`` lets a digest be imported with, or None. A digest that is
    not even well-formed is left to ``verify`` (which finds no match)."""
    try:
        check(algorithm, digest, profile)
    except DigestTooCostly as refused:
        return refused
    except (MalformedDigest, KeyError):
        return None
    return None


def verify(algorithm: str, digest: str, password: str) -> bool:
    """Whether ``password`` matches ``digest`` (of a checked ``algorithm``)."""
    return _VERIFIERS[algorithm](digest, password)


# --- argon2 -------------------------------------------------------------------------------------


def _check_argon2(digest: str, ceiling: Argon2Ceiling) -> None:
    if not _ARGON2.fullmatch(digest):
        raise MalformedDigest("not an argon2 PHC string ($argon2id$v=19$m=..,t=..,p=..$<salt>$<hash>)")
    try:
        params = extract_parameters(digest)
    except (InvalidHashError, ValueError):
        raise MalformedDigest("not an argon2 PHC string argon2-cffi can read") from None
    if params.memory_cost > _ARGON2_MAX_KIB or params.time_cost > _ARGON2_MAX_PASSES:
        raise DigestTooCostly(f"argon2 parameters beyond m={_ARGON2_MAX_KIB} KiB or t={_ARGON2_MAX_PASSES}",
                              limit="argon2_memory" if params.memory_cost > _ARGON2_MAX_KIB else "argon2_time")
    if params.parallelism < 1 or params.time_cost < 1 or params.memory_cost < 8 * params.parallelism:
        raise MalformedDigest("argon2 parameters out of the algorithm's range (t >= 1, p >= 1, m >= 8 x p)")
    refused = ceiling.refusal(params.memory_cost, params.time_cost, params.parallelism)
    if refused is not None:
        raise refused


def _verify_argon2(digest: str, password: str) -> bool:
    try:
        return _argon2.verify(digest, password)
    except (VerificationError, InvalidHashError):
        return False


# --- bcrypt -------------------------------------------------------------------------------------


def _check_bcrypt(digest: str) -> None:
    found = _BCRYPT.fullmatch(digest)
    if found is None:
        raise MalformedDigest("not a bcrypt digest ($2a$, $2b$ or $2y$, two digits of cost, $, 53 characters)")
    low, high = _BCRYPT_COSTS
    if not low <= int(found.group(1)) <= high:
        raise DigestTooCostly(f"bcrypt cost must be from {low:02d} to {high}")


def _verify_bcrypt(digest: str, password: str) -> bool:
    try:
        return bcrypt.checkpw(password.encode()[:72], digest.encode())
    except ValueError:
        return False


# --- scrypt -------------------------------------------------------------------------------------


def _b64(text: str) -> bytes:
    """Standard base64, or passlib's variant ('.' for '+'), with or without padding."""
    text = text.replace(".", "+").rstrip("=")
    return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)


def _scrypt_parts(digest: str) -> tuple[int, int, int, bytes, bytes]:
    found = _SCRYPT.fullmatch(digest)
    if found is None:
        raise MalformedDigest("not a scrypt digest ($scrypt$ln=<log2 N>,r=<r>,p=<p>$<base64 salt>$<base64 hash>)")
    ln, r, p = (int(g) for g in found.group(1, 2, 3))
    try:
        salt, key = _b64(found.group(4)), _b64(found.group(5))
    except (binascii.Error, ValueError):
        raise MalformedDigest("the scrypt digest's salt or hash is not base64") from None
    return ln, r, p, salt, key


def _check_scrypt(digest: str) -> None:
    ln, r, p, salt, key = _scrypt_parts(digest)
    if not (1 <= ln <= 30 and r >= 1 and p >= 1):
        raise MalformedDigest("scrypt parameters out of the algorithm's range (ln from 1 to 30, r >= 1, p >= 1)")
    if 128 * (2**ln) * r > _SCRYPT_MAX_BYTES or p > 16:
        raise DigestTooCostly(f"scrypt parameters need more than {_SCRYPT_MAX_BYTES // 2**20} MiB (128 x N x r)"
                              " or p above 16")
    _check_key(key, "scrypt")
    if not salt:
        raise MalformedDigest("the scrypt digest has no salt")


def _verify_scrypt(digest: str, password: str) -> bool:
    ln, r, p, salt, key = _scrypt_parts(digest)
    n = 2**ln
    derived = hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, dklen=len(key),
                             maxmem=128 * n * r + 128 * r * p + 2**20)
    return hmac.compare_digest(derived, key)


# --- pbkdf2_sha256 ------------------------------------------------------------------------------


def _pbkdf2_parts(digest: str) -> tuple[int, bytes, bytes]:
    found = _PBKDF2.fullmatch(digest)
    if found is None:
        raise MalformedDigest("not a Django pbkdf2_sha256 digest (pbkdf2_sha256$<iterations>$<salt>$<base64 hash>)")
    try:
        key = base64.b64decode(found.group(3), validate=True)
    except (binascii.Error, ValueError):
        raise MalformedDigest("the pbkdf2_sha256 digest's hash is not base64") from None
    return int(found.group(1)), found.group(2).encode(), key


def _check_pbkdf2(digest: str) -> None:
    iterations, _, key = _pbkdf2_parts(digest)
    if iterations < 1:
        raise MalformedDigest("pbkdf2_sha256 needs at least 1 iteration")
    if iterations > _PBKDF2_MAX_ITERATIONS:
        raise DigestTooCostly(f"pbkdf2_sha256 iterations beyond {_PBKDF2_MAX_ITERATIONS:,}")
    _check_key(key, "pbkdf2_sha256")


def _verify_pbkdf2(digest: str, password: str) -> bool:
    iterations, salt, key = _pbkdf2_parts(digest)
    derived = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations, dklen=len(key))
    return hmac.compare_digest(derived, key)


def _check_key(key: bytes, algorithm: str) -> None:
    low, high = _KEY_BYTES
    if not low <= len(key) <= high:
        raise MalformedDigest(f"the {algorithm} digest's hash must be {low} to {high} bytes long")


_CHECKS: dict[str, Callable[[str], None]] = {
    "bcrypt": _check_bcrypt, "scrypt": _check_scrypt, "pbkdf2_sha256": _check_pbkdf2,
}
_VERIFIERS: dict[str, Callable[[str, str], bool]] = {
    "argon2": _verify_argon2, "bcrypt": _verify_bcrypt, "scrypt": _verify_scrypt, "pbkdf2_sha256": _verify_pbkdf2,
}
