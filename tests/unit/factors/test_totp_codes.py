"""RFC 6238 TOTP: the RFC's own test vectors, drift and replay."""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime

import pytest

from mfa_flow.factors.totp import codes as totp

# RFC 6238 Appendix B: the SHA-1 seed is the ASCII string "12345678901234567890", 8 digits.
RFC_SECRET = base64.b32encode(b"12345678901234567890").decode()
RFC_SHA256_SECRET = base64.b32encode(b"12345678901234567890123456789012").decode()
RFC_SHA512_SECRET = base64.b32encode(b"1234567890123456789012345678901234567890123456789012345678901234").decode()
VECTORS = [
    (59, "94287082", "46119246", "90693936"),
    (1111111109, "07081804", "68084774", "25091201"),
    (1111111111, "14050471", "67062674", "99943326"),
    (1234567890, "89005924", "91819424", "93441116"),
    (2000000000, "69279037", "90698825", "38618901"),
    (20000000000, "65353130", "77737706", "47863826"),
]


@pytest.mark.parametrize("unix_time,sha1,sha256,sha512", VECTORS)
def test_rfc6238_appendix_b_vectors(unix_time, sha1, sha256, sha512):
    step = unix_time // totp.STEP_SECONDS
    assert totp.code_at(RFC_SECRET, step, digits=8) == sha1
    assert totp.code_at(RFC_SHA256_SECRET, step, digits=8, digest=hashlib.sha256) == sha256
    assert totp.code_at(RFC_SHA512_SECRET, step, digits=8, digest=hashlib.sha512) == sha512


def at(unix_time: float) -> datetime:
    return datetime.fromtimestamp(unix_time, UTC)


SECRET = totp.new_secret()
NOW = 1_800_000_015  # 15 s into a step


def code(offset_steps: int) -> str:
    return totp.code_at(SECRET, NOW // 30 + offset_steps)


def test_secrets_carry_160_random_bits():
    assert len(base64.b32decode(totp.new_secret())) == 20
    assert totp.new_secret() != totp.new_secret()


@pytest.mark.parametrize("offset", [-1, 0, 1])
def test_one_step_of_drift_either_way_is_accepted(offset):
    assert totp.matching_step(SECRET, code(offset), at(NOW)) == NOW // 30 + offset


@pytest.mark.parametrize("offset", [-2, 2])
def test_two_steps_away_is_refused(offset):
    assert totp.matching_step(SECRET, code(offset), at(NOW)) is None


def test_a_step_not_newer_than_the_last_accepted_one_is_a_replay():
    step = NOW // 30
    assert totp.matching_step(SECRET, code(0), at(NOW), last_step=step) is None
    assert totp.matching_step(SECRET, code(0), at(NOW), last_step=step - 1) == step


@pytest.mark.parametrize("entered", ["12345", "1234567", "abcdef", "", "12 34 5x"])
def test_malformed_codes_never_match(entered):
    assert totp.matching_step(SECRET, entered, at(NOW)) is None


def test_spaces_inside_a_code_are_ignored():
    c = code(0)
    assert totp.matching_step(SECRET, f"{c[:3]} {c[3:]}", at(NOW)) == NOW // 30


def test_the_otpauth_uri_names_issuer_and_account():
    uri = totp.otpauth_uri(SECRET, "alice", "Acme")
    assert uri.startswith("otpauth://totp/Acme:alice?") and f"secret={SECRET}" in uri and "issuer=Acme" in uri
