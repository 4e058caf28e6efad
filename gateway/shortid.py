"""Short IDs: digits ending in a Damm check digit.

The Damm check catches every single wrong digit and every swap of two neighbouring digits, the
two mistakes people make most when copying a number, so a mistyped ID is refused before any
lookup. Pure functions only: choosing a free ID needs the database and lives in gateway.people.
"""
from __future__ import annotations

MIN_LENGTH = 5

# The totally anti-symmetric quasigroup of order 10 that defines the Damm algorithm.
_QUASIGROUP = (
    (0, 3, 1, 7, 5, 9, 8, 6, 4, 2),
    (7, 0, 9, 2, 1, 5, 4, 8, 6, 3),
    (4, 2, 0, 6, 8, 7, 1, 3, 5, 9),
    (1, 7, 5, 0, 9, 8, 3, 4, 2, 6),
    (6, 1, 2, 3, 0, 4, 5, 9, 7, 8),
    (3, 6, 7, 4, 2, 0, 9, 5, 8, 1),
    (5, 8, 6, 9, 7, 2, 0, 1, 3, 4),
    (8, 9, 4, 5, 3, 6, 2, 0, 1, 7),
    (9, 4, 3, 8, 6, 1, 7, 2, 0, 5),
    (2, 5, 8, 1, 4, 3, 6, 7, 9, 0),
)
# One dict per row, keyed by the digit character: no int() per digit, and any other character
# raises KeyError, which doubles as the "digits only" check.
_STEP = tuple(dict(zip("0123456789", row)) for row in _QUASIGROUP)


def _interim(digits: str) -> int:
    row = 0
    for char in digits:
        row = _STEP[row][char]
    return row


def damm_digit(payload: str) -> str:
    """The check digit for a string of ASCII digits: damm_digit('572') == '4'."""
    try:
        return str(_interim(payload))
    except KeyError:
        raise ValueError(f"'{payload}' is not a string of digits") from None


def make(payload: str) -> str:
    """The payload with its check digit appended: make('572') == '5724'."""
    return payload + damm_digit(payload)


def is_valid(short_id: str) -> bool:
    """True for ASCII digits, at least MIN_LENGTH long, whose Damm checksum is 0."""
    if len(short_id) < MIN_LENGTH:
        return False
    try:
        return _interim(short_id) == 0
    except KeyError:
        return False


def capacity(length: int) -> int:
    """How many IDs of this total length exist with a non-zero first digit."""
    if length < MIN_LENGTH:
        raise ValueError(f"short IDs have at least {MIN_LENGTH} digits, not {length}")
    return 9 * 10 ** (length - 2)
