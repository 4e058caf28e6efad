"""Phone numbers: one E.164 form for every way a number is written; impossible numbers refused."""
from __future__ import annotations

import pytest

from gateway.phones import InvalidPhone, mask_phone, normalize_phone


@pytest.mark.parametrize("raw, region, expected", [
    ("0712 345 678", "KE", "+254712345678"),
    ("+254712345678", "KE", "+254712345678"),
    ("+254 712-345-678", "CN", "+254712345678"),
    ("00254712345678", "KE", "+254712345678"),
    ("138 0013 8000", "CN", "+8613800138000"),
    ("+86 138 0013 8000", "KE", "+8613800138000"),
])
def test_local_and_international_forms_are_one_number(raw, region, expected):
    assert normalize_phone(raw, region) == expected


@pytest.mark.parametrize("raw", ["", "12345", "0712", "hello", "+999 123 456", "0712 345 678 999 12"])
def test_impossible_numbers_are_refused(raw):
    with pytest.raises(InvalidPhone):
        normalize_phone(raw, "KE")


def test_masked_numbers_keep_only_country_code_and_last_digits():
    assert mask_phone("+254712345678") == "+254*******78"
    assert mask_phone(None) == "-"
