"""MFA_FLOW_PASSWORD_HASH: two named argon2id profiles, or explicit argon2id or argon2i parameters
(written as a PHC string writes them) checked at start."""

from __future__ import annotations

import base64
import hashlib
import re

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


def test_explicit_parameters_are_read_with_m_in_kib_in_any_order():
    assert profiles.parse("argon2id:m=32768,t=4,p=2") == profiles.Argon2Profile(4, 32768, 2)
    assert profiles.parse("argon2id:t=4,m=32768,p=2") == profiles.Argon2Profile(4, 32768, 2)
    assert profiles.parse(" argon2id: p=2, m=32768, t=4 ") == profiles.Argon2Profile(4, 32768, 2)
    assert profiles.parse("argon2id:m=32768,t=4,p=2").describe() == "argon2id t=4, m=32768 KiB, p=2"


def test_owasp_written_out_is_the_same_cost_as_its_name():
    explicit = profiles.parse("argon2id:m=19456,t=2,p=1")
    named = profiles.parse("owasp")
    assert (explicit.variant, explicit.time_cost, explicit.memory_kib, explicit.parallelism) == (
        named.variant, named.time_cost, named.memory_kib, named.parallelism)


def test_argon2i_is_accepted_for_the_cost_of_imported_digests():
    profile = profiles.parse("argon2i:m=32768,t=4,p=1")
    assert profile == profiles.Argon2Profile(4, 32768, 1, variant="argon2i")
    assert profile.describe() == "argon2i t=4, m=32768 KiB, p=1"
    assert profile.setting == "argon2i:m=32768,t=4,p=1"
    assert profiles.parse(profile.setting) == profile


@pytest.mark.parametrize("text, why", [
    ("bcrypt", "must be rfc9106-low-memory, owasp, argon2id:m=<memory in KiB>,t=<passes>,p=<lanes> or argon2i:"),
    ("argon2d:m=65536,t=3,p=4", "must be rfc9106-low-memory"),
    ("argon2id:t=3,m=65536", "'argon2id:t=3,m=65536': p (lanes) missing"),
    ("argon2id:m=65536", "t (passes) and p (lanes) missing"),
    ("argon2id:m=65536,t=3,p=4,t=2", "t is given twice"),
    ("argon2id:m=64MiB,t=3,p=4", "'m=64MiB' is not m=<KiB>, t=<passes> or p=<lanes>"),
    ("argon2id:m=65536,t=3,p=4,x=1", "'x=1' is not m=<KiB>"),
    ("argon2id:m=65536,t=0,p=4", "t (passes) must be from 1"),
    ("argon2id:m=16,t=3,p=4", "m (memory, KiB) must be from 8 x p = 32"),
    ("argon2id:m=65536,t=3,p=0", "p (lanes) must be from 1"),
    ("argon2i:m=8192,t=1,p=1", "too cheap to guess"),
])
def test_anything_else_is_refused_in_one_line_naming_the_value_and_what_is_accepted(text, why):
    with pytest.raises(ValueError, match=re.escape(why)) as refused:
        profiles.parse(text)
    assert repr(text) in str(refused.value) and "\n" not in str(refused.value)


def test_the_service_refuses_to_start_with_a_profile_it_cannot_use(monkeypatch):
    monkeypatch.setenv("MFA_FLOW_PASSWORD_HASH", "argon2id:m=64,t=1,p=1")
    with pytest.raises(SystemExit, match="MFA_FLOW_PASSWORD_HASH 'argon2id:m=64,t=1,p=1': m x t must be at least"):
        Settings.from_env()
    monkeypatch.setenv("MFA_FLOW_PASSWORD_HASH", "owasp")
    assert Settings.from_env().password_hash == profiles.PROFILES["owasp"]
    monkeypatch.setenv("MFA_FLOW_PASSWORD_HASH", "argon2i:m=32768,t=4,p=1")
    assert Settings.from_env().password_hash.variant == "argon2i"


def test_new_hashes_are_argon2id_at_the_profile():
    params = extract_parameters(Hasher(CHEAP).hash(PASSWORD))
    assert (params.type.name, params.time_cost, params.memory_cost, params.parallelism) == ("ID", 5, 7168, 1)


def test_a_match_at_the_profile_needs_no_rehash_and_a_wrong_password_none_either():
    hasher = Hasher(CHEAP)
    digest = hasher.hash(PASSWORD)
    checked = hasher.check("argon2", digest, PASSWORD)
    assert checked.ok and checked.rehashed is None
    assert hasher.check("argon2", digest, "wrong").rehashed is None


def test_an_argon2i_profile_makes_argon2i_hashes_and_moves_argon2id_ones_over():
    argon2i = Hasher(profiles.Argon2Profile(5, 7168, 1, variant="argon2i"))
    made = argon2i.hash(PASSWORD)
    assert made.startswith("$argon2i$") and extract_parameters(made).type.name == "I"
    assert argon2i.check("argon2", made, PASSWORD).rehashed is None
    checked = argon2i.check("argon2", Hasher(CHEAP).hash(PASSWORD), PASSWORD)  # argon2id at the same cost
    assert checked.ok and checked.rehashed is not None and checked.rehashed.startswith("$argon2i$")
    assert Hasher(CHEAP).check("argon2", made, PASSWORD).rehashed.startswith("$argon2id$")


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
