"""Short IDs: the Damm check digit catches one wrong digit and two swapped neighbours."""
from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.shortid import capacity, damm_digit, is_valid, make

valid_ids = st.integers(min_value=4, max_value=8).flatmap(
    lambda n: st.from_regex(rf"\A[1-9][0-9]{{{n - 1}}}\Z")
).map(make)


@pytest.mark.parametrize("payload, check", [("572", "4"), ("4021", "6"), ("5102", "5"), ("0", "0")])
def test_known_check_digits(payload, check):
    assert damm_digit(payload) == check


@pytest.mark.parametrize("short_id, valid", [
    ("40216", True), ("51025", True), ("73454", True), ("5724", False),  # too short
    ("40213", False), ("40261", False), ("4021a", False), ("", False), ("٤٠٢١٦", False),
])
def test_is_valid(short_id, valid):
    assert is_valid(short_id) is valid


def test_damm_digit_refuses_what_is_not_digits():
    with pytest.raises(ValueError):
        damm_digit("40 21")


def test_capacity_counts_ids_without_a_leading_zero():
    assert capacity(5) == 9000
    assert capacity(6) == 90000
    assert capacity(5) == sum(1 for p in range(1000, 10000) if is_valid(make(str(p))))
    with pytest.raises(ValueError):
        capacity(4)


@given(valid_ids)
def test_made_ids_are_valid(short_id):
    assert 5 <= len(short_id) <= 9
    assert is_valid(short_id)


@given(valid_ids)
def test_every_single_wrong_digit_is_caught(short_id):
    for i, digit in enumerate(short_id):
        for other in "0123456789":
            if other != digit:
                assert not is_valid(short_id[:i] + other + short_id[i + 1:])


@given(valid_ids)
def test_every_swap_of_neighbours_is_caught(short_id):
    for i in range(len(short_id) - 1):
        a, b = short_id[i], short_id[i + 1]
        if a != b:
            assert not is_valid(short_id[:i] + b + a + short_id[i + 2:])
