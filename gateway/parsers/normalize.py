"""Text as typed on any phone -> one plain spelling the parser can read (DESIGN §5, "Normalise first").

    normalize("ＲＥＧ　４０２１３，Ｆ")   -> "REG 40213 F"
    normalize("登记 ४०२१६。女")          -> "登记 40216 女"
    normalize("PREG#ID 51025#W 12")    -> "PREG#ID 51025#W 12"

Full-width forms become ASCII (NFKC), digits of every script become 0-9, curly quotes and dashes
become plain ones, invisible characters go, and separators (spaces, commas, semicolons, colons,
'*', Chinese 。、) collapse into one space. '#' is kept: only the parser can tell key/value syntax
from a stray separator. Case is kept too, for names; keyword matching upper-cases on its own.
"""
from __future__ import annotations

import unicodedata
from itertools import chain

SEPARATORS = ",;:*\u3001\u3002"  # ASCII after NFKC takes care of full-width ，；：＊
SINGLE_QUOTES = "\u2018\u2019\u201a\u201b\u2032\u2035\u2039\u203a\u02bc\u00b4"
DOUBLE_QUOTES = "\u201c\u201d\u201e\u201f\u2033\u2036\u00ab\u00bb\u301d\u301e\u301f"
ZERO_WIDTH = "\u200b\u200c\u200d\u2060\ufeff\u00ad"
MINUS_SIGNS = "\u2212\u2796\ufe63\uff0d"


def _build_table() -> dict[int, str | None]:
    """One str.translate table for everything that is a per-character mapping."""
    table: dict[int, str | None] = {}
    # Nd (decimal digits) all sit below U+20000; the only format characters above it are tags.
    for code in chain(range(0x20000), range(0xE0000, 0xE0080)):
        char = chr(code)
        category = unicodedata.category(char)
        if category == "Nd" and code > 0x7F:
            table[code] = str(unicodedata.decimal(char))
        elif category == "Cc":
            table[code] = " "
        elif category == "Cf":  # invisible format characters: zero-width, bidi marks, tags
            table[code] = None
        elif category == "Pd" and char != "-":
            table[code] = "-"
    table.update((ord(c), None) for c in ZERO_WIDTH)
    table.update((ord(c), "-") for c in MINUS_SIGNS)
    table.update((ord(c), "'") for c in SINGLE_QUOTES)
    table.update((ord(c), '"') for c in DOUBLE_QUOTES)
    table.update((ord(c), " ") for c in SEPARATORS)
    return table


_TABLE = _build_table()


def normalize(text: str) -> str:
    """The message in plain form: one space between tokens, '#' kept, case kept."""
    if text.isascii():
        text = text.translate(_TABLE)
    else:
        # Mapped before NFKC as well as after: NFKC would split ″ into two primes and ´ into a
        # space plus an accent, and it turns some compatibility forms into dashes of its own.
        text = unicodedata.normalize("NFKC", text.translate(_TABLE)).translate(_TABLE)
    # A full stop that ends the message is punctuation, like the Chinese 。 above.
    return " ".join(text.split()).rstrip(". ")
