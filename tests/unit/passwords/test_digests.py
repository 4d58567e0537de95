"""Imported password digests: each accepted encoding is read and checked by its algorithm's own
library (the digests here are made with those libraries, not with our code), and anything else is
refused before it is stored, with a reason that never repeats the digest."""

from __future__ import annotations

import base64
import hashlib

import bcrypt
import pytest
from argon2 import PasswordHasher, Type

from mfa_flow.passwords import digests, profiles

PASSWORD = "correct horse battery"


def scrypt_digest(password: str, ln: int = 10, r: int = 8, p: int = 1, salt: bytes = b"0123456789abcdef",
                  passlib_alphabet: bool = False) -> str:
    key = hashlib.scrypt(password.encode(), salt=salt, n=2**ln, r=r, p=p, dklen=32)

    def b64(raw: bytes) -> str:
        text = base64.b64encode(raw).decode().rstrip("=")
        return text.replace("+", ".") if passlib_alphabet else text

    return f"$scrypt$ln={ln},r={r},p={p}${b64(salt)}${b64(key)}"


def pbkdf2_digest(password: str, iterations: int = 1000, salt: str = "NaCl4salt") -> str:
    key = hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), iterations)
    return f"pbkdf2_sha256${iterations}${salt}${base64.b64encode(key).decode()}"


def bcrypt_digest(password: str, prefix: bytes = b"2b") -> str:
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(4, prefix=prefix)).decode()


MADE_BY_THEIR_LIBRARIES = {
    "argon2 (argon2id)": ("argon2", lambda pw: PasswordHasher(time_cost=1, memory_cost=8192).hash(pw)),
    "argon2 (argon2i)": ("argon2", lambda pw: PasswordHasher(time_cost=1, memory_cost=8192, type=Type.I).hash(pw)),
    "bcrypt $2b$": ("bcrypt", bcrypt_digest),
    "bcrypt $2a$": ("bcrypt", lambda pw: bcrypt_digest(pw, b"2a")),
    "bcrypt $2y$": ("bcrypt", lambda pw: bcrypt_digest(pw).replace("$2b$", "$2y$", 1)),
    "scrypt": ("scrypt", scrypt_digest),
    "scrypt, passlib's base64": ("scrypt", lambda pw: scrypt_digest(pw, salt=b"\xfb\xff" * 8, passlib_alphabet=True)),
    "pbkdf2_sha256 (Django)": ("pbkdf2_sha256", pbkdf2_digest),
}


@pytest.mark.parametrize("made", MADE_BY_THEIR_LIBRARIES.values(), ids=MADE_BY_THEIR_LIBRARIES.keys())
def test_a_digest_made_by_its_library_is_accepted_and_matches_only_its_password(made):
    algorithm, make = made
    digest = make(PASSWORD)
    digests.check(algorithm, digest)
    assert digests.verify(algorithm, digest, PASSWORD)
    assert not digests.verify(algorithm, digest, PASSWORD + "!")
    assert not digests.verify(algorithm, digest, "")


def test_bcrypt_counts_only_the_first_72_bytes_as_the_system_that_made_the_digest_did():
    long = "é" * 40  # 80 bytes of UTF-8
    digest = bcrypt.hashpw(long.encode()[:72], bcrypt.gensalt(4)).decode()
    assert digests.verify("bcrypt", digest, long)
    assert digests.verify("bcrypt", digest, long + "anything after byte 72")


MALFORMED = {
    "argon2, not PHC": ("argon2", "argon2id$m=65536"),
    "argon2, a bcrypt digest": ("argon2", "$2b$04$" + "a" * 53),
    "argon2, no salt": ("argon2", "$argon2id$v=19$m=65536,t=3,p=4$$" + "A" * 43),
    "argon2, m below 8 x p": ("argon2", "$argon2id$v=19$m=8,t=1,p=4$c2FsdHNhbHRzYWx0$" + "A" * 43),
    "bcrypt, $2x$": ("bcrypt", "$2x$04$" + "a" * 53),
    "bcrypt, short": ("bcrypt", "$2b$04$" + "a" * 52),
    "bcrypt, an argon2 digest": ("bcrypt", "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA"),
    "scrypt, Django's layout": ("scrypt", "scrypt$16384$salt$8$1$" + "A" * 88),
    "scrypt, not base64": ("scrypt", "$scrypt$ln=10,r=8,p=1$c2FsdA$!!!!"),
    "scrypt, 8-byte hash": ("scrypt", "$scrypt$ln=10,r=8,p=1$c2FsdHNhbHQ$" + base64.b64encode(b"x" * 8).decode()),
    "scrypt, ln 0": ("scrypt", "$scrypt$ln=0,r=8,p=1$c2FsdA$" + "A" * 43),
    "pbkdf2, another hash function": ("pbkdf2_sha256", "pbkdf2_sha1$1000$salt$" + "A" * 28),
    "pbkdf2, not base64": ("pbkdf2_sha256", "pbkdf2_sha256$1000$salt$@@@@"),
    "pbkdf2, 0 iterations": ("pbkdf2_sha256", "pbkdf2_sha256$0$salt$" + base64.b64encode(b"k" * 32).decode()),
}


@pytest.mark.parametrize("bad", MALFORMED.values(), ids=MALFORMED.keys())
def test_a_malformed_digest_is_refused_with_a_reason_that_does_not_repeat_it(bad):
    algorithm, digest = bad
    with pytest.raises(digests.MalformedDigest) as refused:
        digests.check(algorithm, digest)
    assert digest not in str(refused.value) and str(refused.value)


TOO_COSTLY = {
    "bcrypt cost 17": ("bcrypt", "$2b$17$" + "a" * 53),
    "scrypt 512 MiB": ("scrypt", "$scrypt$ln=19,r=8,p=1$c2FsdA$" + "A" * 43),
    "scrypt p 17": ("scrypt", "$scrypt$ln=10,r=8,p=17$c2FsdA$" + "A" * 43),
    "pbkdf2 10 million iterations": ("pbkdf2_sha256", "pbkdf2_sha256$10000000$salt$" + "A" * 44),
    "argon2 t=101": ("argon2", "$argon2id$v=19$m=65536,t=101,p=4$c2FsdHNhbHRzYWx0$" + "A" * 43),
}


@pytest.mark.parametrize("bad", TOO_COSTLY.values(), ids=TOO_COSTLY.keys())
def test_a_digest_that_would_cost_too_much_at_each_sign_in_is_refused(bad):
    with pytest.raises(digests.DigestTooCostly):
        digests.check(*bad)


# --- argon2: bounded by what the service itself would choose (issue 21, defect 11) ------------------


def _argon2(m: int, t: int, p: int) -> str:
    return f"$argon2id$v=19$m={m},t={t},p={p}$c2FsdHNhbHRzYWx0c2FsdA$" + "A" * 43


def test_the_argon2_ceiling_is_4_times_the_costlier_of_the_configured_and_the_default_profile():
    default = digests.Argon2Ceiling.of(profiles.PROFILES["rfc9106-low-memory"])
    assert (default.memory_kib, default.kib_passes, default.lanes) == (4 * 65536, 4 * 65536 * 3, 16)
    # A cheaper profile keeps the default's ceiling: hashes written under the default stay checkable.
    assert digests.Argon2Ceiling.of(profiles.PROFILES["owasp"]) == default
    digests.check("argon2", _argon2(65536, 3, 4), profiles.PROFILES["owasp"])
    # A costlier one raises it.
    costly = digests.Argon2Ceiling.of(profiles.parse("argon2id:m=262144,t=4,p=8"))
    assert (costly.memory_kib, costly.kib_passes, costly.lanes) == (4 * 262144, 4 * 262144 * 4, 32)


@pytest.mark.parametrize("m, t, p, limit", [
    (4194304, 100, 999, "argon2_memory"),  # the issue's: minutes and gigabytes per check
    (262145, 1, 1, "argon2_memory"),
    (65536, 13, 1, "argon2_time"),
    (8192, 97, 1, "argon2_time"),
    (65536, 1, 17, "argon2_lanes"),
])
def test_argon2_parameters_beyond_the_ceiling_are_refused_naming_the_limit(m, t, p, limit):
    with pytest.raises(digests.DigestTooCostly) as refused:
        digests.check("argon2", _argon2(m, t, p))
    assert refused.value.limit == limit and "$argon2id" not in str(refused.value)
    assert digests.too_costly("argon2", _argon2(m, t, p), profiles.PROFILES["rfc9106-low-memory"]) is not None


def test_a_digest_within_the_ceiling_or_malformed_is_not_refused_as_too_costly():
    profile = profiles.PROFILES["rfc9106-low-memory"]
    assert digests.too_costly("argon2", _argon2(262144, 3, 16), profile) is None
    assert digests.too_costly("argon2", "not a digest", profile) is None  # left to verify, which finds no match
