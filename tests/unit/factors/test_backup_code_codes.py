"""Backup codes: format, entropy and forgiving entry."""

from __future__ import annotations

import math

from mfa_flow.factors.backup_code import codes as backup_codes


def test_a_code_carries_at_least_forty_bits_of_entropy():
    bits = backup_codes.LENGTH * math.log2(len(set(backup_codes.ALPHABET)))
    assert bits >= 40


def test_codes_are_two_groups_of_five_from_an_unambiguous_alphabet():
    code = backup_codes.new_code()
    left, right = code.split("-")
    assert len(left) == len(right) == 5
    assert set(left + right) <= set(backup_codes.ALPHABET)
    assert not set("ilou") & set(backup_codes.ALPHABET)


def test_entry_ignores_case_spaces_and_dashes():
    assert backup_codes.normalise(" AB3DE-fgh9k ") == backup_codes.normalise("ab3de fgh9k") == "ab3defgh9k"


def test_codes_do_not_repeat():
    assert len({backup_codes.new_code() for _ in range(1000)}) == 1000
