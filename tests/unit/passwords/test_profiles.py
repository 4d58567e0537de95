"""MFA_FLOW_PASSWORD_HASH: two named argon2id profiles, or explicit parameters checked at start."""

from __future__ import annotations

import base64
import hashlib

import pytest
from argon2 import extract_parameters

from mfa_flow.passwords import Hasher, digests, profiles
from mfa_flow.settings import Settings

PASSWORD = "correct horse battery"
CHEAP = profiles.Argon2Profile(5, 7168, 1)  # the cheapest accepted: quick tests


def test_the_named_profiles_are_the_contracts():
    low = profiles.parse("rfc9106-low-memory")
    assert (low.time_cost, low.memory_kib, low.parallelism) == (3, 64 * 1024, 4)
    owasp = profiles.parse("owasp")
    assert (owasp.time_cost, owasp.memory_kib, owasp.parallelism) == (2, 19 * 1024, 1)
    assert profiles.PROFILES[profiles.DEFAULT] == low


def test_explicit_parameters_are_read_with_m_in_kib():
    assert profiles.parse("argon2id:t=4,m=32768,p=2") == profiles.Argon2Profile(4, 32768, 2)
    assert profiles.parse("argon2id:t=4,m=32768,p=2").describe() == "argon2id t=4, m=32768 KiB, p=2"


@pytest.mark.parametrize("text, why", [
    ("bcrypt", "must be rfc9106-low-memory, owasp or argon2id:t="),
    ("argon2i:t=3,m=65536,p=4", "must be rfc9106-low-memory"),
    ("argon2id:t=3,m=65536", "must be rfc9106-low-memory"),
    ("argon2id:t=0,m=65536,p=4", "t (passes) must be from 1"),
    ("argon2id:t=3,m=16,p=4", "m (memory, KiB) must be from 8 x p = 32"),
    ("argon2id:t=3,m=65536,p=0", "p (lanes) must be from 1"),
    ("argon2id:t=1,m=8192,p=1", "too cheap to guess"),
])
def test_anything_else_is_refused_saying_what_is_accepted(text, why):
    with pytest.raises(ValueError, match=why.replace("(", r"\(").replace(")", r"\)")):
        profiles.parse(text)


def test_the_service_refuses_to_start_with_a_profile_it_cannot_use(monkeypatch):
    monkeypatch.setenv("MFA_FLOW_PASSWORD_HASH", "argon2id:t=1,m=64,p=1")
    with pytest.raises(SystemExit, match="MFA_FLOW_PASSWORD_HASH m x t must be at least"):
        Settings.from_env()
    monkeypatch.setenv("MFA_FLOW_PASSWORD_HASH", "owasp")
    assert Settings.from_env().password_hash == profiles.PROFILES["owasp"]


def test_new_hashes_are_argon2id_at_the_profile():
    params = extract_parameters(Hasher(CHEAP).hash(PASSWORD))
    assert (params.type.name, params.time_cost, params.memory_cost, params.parallelism) == ("ID", 5, 7168, 1)


def test_a_match_at_the_profile_needs_no_rehash_and_a_wrong_password_none_either():
    hasher = Hasher(CHEAP)
    digest = hasher.hash(PASSWORD)
    checked = hasher.check("argon2", digest, PASSWORD)
    assert checked.ok and checked.rehashed is None
    assert hasher.check("argon2", digest, "wrong").rehashed is None


def test_a_match_made_at_another_profile_is_rehashed_to_this_one():
    old = Hasher(profiles.Argon2Profile(6, 7168, 1)).hash(PASSWORD)
    checked = Hasher(CHEAP).check("argon2", old, PASSWORD)
    assert checked.ok and checked.rehashed is not None
    assert extract_parameters(checked.rehashed).time_cost == 5
    assert Hasher(CHEAP).check("argon2", checked.rehashed, PASSWORD).rehashed is None


def test_an_imported_digest_is_rehashed_at_its_first_match():
    key = hashlib.pbkdf2_hmac("sha256", PASSWORD.encode(), b"salt", 1000)
    imported = "pbkdf2_sha256$1000$salt$" + base64.b64encode(key).decode()
    digests.check("pbkdf2_sha256", imported)
    checked = Hasher(CHEAP).check("pbkdf2_sha256", imported, PASSWORD)
    assert checked.ok and checked.rehashed is not None and checked.rehashed.startswith("$argon2id$")
    assert not Hasher(CHEAP).check("pbkdf2_sha256", imported, "wrong").ok


def test_no_stored_digest_never_matches():
    assert Hasher(CHEAP).check(None, None, "mfa-flow: no such user").ok is False
