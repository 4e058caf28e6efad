"""SMS encoding arithmetic: which alphabet a text needs, how many segments it costs,
and how to keep Latin-script replies in the GSM 03.38 default alphabet.

A basic phone receives either GSM-7 (160 septets in one SMS, 153 per part when the
message is split) or UCS-2 (70 UTF-16 code units, 67 per part). One character outside
GSM-7 switches the whole message to UCS-2 and more than halves its room, so replies
pass through to_gsm() before they are sent.
"""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable

__all__ = [
    "GSM7_BASIC",
    "GSM7_EXTENSION",
    "is_gsm7",
    "segments",
    "to_gsm",
    "force_gsm",
    "fit",
]

# The default alphabet, in code order 0x00-0x7F. 0x1B is the escape to the extension
# table and is not a character of its own.
_BASIC_TABLE = (
    "@£$¥èéùìòÇ\nØø\rÅå"
    "Δ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ"
    " !\"#¤%&'()*+,-./"
    "0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNO"
    "PQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmno"
    "pqrstuvwxyzäöñüà"
)
assert len(_BASIC_TABLE) == 128

GSM7_BASIC: frozenset[str] = frozenset(_BASIC_TABLE) - {"\x1b"}
# Sent as escape + code, so each costs two septets.
GSM7_EXTENSION: frozenset[str] = frozenset("\f^{}\\[~]|€")
_GSM7 = GSM7_BASIC | GSM7_EXTENSION

GSM7_SINGLE = 160   # septets in a message that fits one SMS
GSM7_PART = 153     # septets per part once the concatenation header is added
UCS2_SINGLE = 70    # UTF-16 code units in one SMS
UCS2_PART = 67      # UTF-16 code units per part


def is_gsm7(text: str) -> bool:
    """True when every character is in the GSM-7 default alphabet or its extension table."""
    return _GSM7.issuperset(text)


def _parts(total: int, widths: Iterable[int] | None, single: int, part: int) -> int:
    """Parts for total units; widths (1 or 2 per character) is given when some character
    is 2 units wide, as such a character may not straddle two parts."""
    if total <= single:
        return 1
    if widths is None:
        return -(-total // part)
    count, used = 1, 0
    for w in widths:
        if used + w > part:
            count += 1
            used = 0
        used += w
    return count


def segments(text: str) -> tuple[str, int]:
    """("GSM-7" or "UCS-2", the number of SMS segments text is sent as). Empty text is one."""
    if is_gsm7(text):
        ext = sum(map(text.count, GSM7_EXTENSION))
        widths = (2 if ch in GSM7_EXTENSION else 1 for ch in text) if ext else None
        return "GSM-7", _parts(len(text) + ext, widths, GSM7_SINGLE, GSM7_PART)
    astral = len(text.encode("utf-16-le", "surrogatepass")) // 2 - len(text)  # characters past U+FFFF
    widths = (2 if ch > "\uffff" else 1 for ch in text) if astral else None
    return "UCS-2", _parts(len(text) + astral, widths, UCS2_SINGLE, UCS2_PART)


def fit(text: str, limit_segments: int = 1) -> bool:
    """True when text goes out in no more than limit_segments SMS."""
    return segments(text)[1] <= limit_segments


# --- Look-alikes -------------------------------------------------------------------

# Substitutions decided by hand; they take precedence over the derived ones below.
_SINGLE_QUOTES = "`´‘’‚‛′‵‹›ʹʻʼʽˈˊˋ＇"
_DOUBLE_QUOTES = "“”„‟″‶«»ʺ˝＂"
_DASHES = "‐‑‒–—―−⁃﹘﹣－"
_SPACES = "\t\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u202f\u205f\u3000"
_INVISIBLE = "\u00ad\u200b\u200e\u200f\u2060\ufeff"  # soft hyphen, zero-width space, direction marks, BOM
_LINE_BREAKS = "\u0085\u2028\u2029"

_MANUAL: dict[str, str] = {
    **{ch: "'" for ch in _SINGLE_QUOTES},
    **{ch: '"' for ch in _DOUBLE_QUOTES},
    **{ch: "-" for ch in _DASHES},
    **{ch: " " for ch in _SPACES},
    **{ch: "" for ch in _INVISIBLE},
    **{ch: "\n" for ch in _LINE_BREAKS},
    "…": "...",
    "‥": "..",
    "•": "-",
    "‣": "-",
    "◦": "-",
    "·": ".",
    "˜": "~",
    "ˆ": "^",
    "⁄": "/",
    "∕": "/",
    "×": "x",
    "→": "->",
    "←": "<-",
    "↔": "<->",
    "⇒": "=>",
    "₤": "£",
    # Latin letters with no Unicode decomposition to a base letter
    "ł": "l", "Ł": "L",
    "đ": "d", "Đ": "D",
    "ð": "d", "Ð": "D",
    "ħ": "h", "Ħ": "H",
    "ı": "i",
    "ŧ": "t", "Ŧ": "T",
    "ƀ": "b", "Ƀ": "B",
    "ɨ": "i", "Ɨ": "I",
    "ƒ": "f",
    "ŋ": "n", "Ŋ": "N",
    "ĸ": "k",
    "œ": "oe", "Œ": "OE",
    "þ": "th", "Þ": "Th",
    "ẞ": "SS",
}

# Blocks searched for characters whose compatibility decomposition is GSM-7:
# Latin supplements and extensions, spacing modifiers, Latin Extended Additional,
# punctuation, super/subscripts, currency, letterlike and number forms, enclosed
# alphanumerics, CJK squared units, ligatures, small and full-width forms, and the
# mathematical and enclosed alphanumeric letters pasted from styled text.
_DERIVED_RANGES = (
    (0x00A0, 0x02FF),
    (0x1E00, 0x1EFF),
    (0x2000, 0x24FF),
    (0x2C60, 0x2C7F),
    (0x3000, 0x303F),
    (0x3380, 0x33FF),
    (0xA720, 0xA7FF),
    (0xFB00, 0xFB06),
    (0xFE50, 0xFE6F),
    (0xFF00, 0xFF5E),
    (0x1D400, 0x1D7FF),
    (0x1F100, 0x1F189),
)

# Combining diacritics (general, extended, supplement, half marks).
_MARKS = "\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\ufe20-\ufe2f"
_CLUSTER = re.compile(f"(.)([{_MARKS}]+)", re.DOTALL)
_BASE_AND_MARKS = re.compile(f"([^{_MARKS}])([{_MARKS}]*)", re.DOTALL)


def _with_manual(s: str) -> str:
    return "".join(_MANUAL.get(ch, ch) for ch in s)


def _fold_cluster(base: str, marks: str, substitute: Callable[[str], str]) -> str | None:
    """The closest GSM-7 spelling of base + marks: drop marks from the end until the
    composed form, after substitute(), is GSM-7. ǻ -> å, ǘ -> ü, ș -> s. Marks are
    dropped from letters only: = with a stroke through it is ≠, not =."""
    fewest = 0 if unicodedata.category(base).startswith("L") else len(marks)
    for keep in range(len(marks), fewest - 1, -1):
        composed = substitute(unicodedata.normalize("NFC", base + marks[:keep]))
        if composed and is_gsm7(composed):
            return composed
    return None


def _derive(ch: str) -> str | None:
    """A GSM-7 look-alike from the compatibility decomposition of ch, or None."""
    decomposed = unicodedata.normalize("NFKD", ch)
    if decomposed == ch or unicodedata.combining(decomposed[0]):
        return None
    out = []
    for m in _BASE_AND_MARKS.finditer(decomposed):
        folded = _fold_cluster(m.group(1), m.group(2), _with_manual)
        if folded is None:
            return None
        out.append(folded)
    result = "".join(out)
    if not result:
        return None
    # A spacing accent such as ¨ decomposes to space + mark; that is not a look-alike.
    if result.isspace() and unicodedata.category(ch) != "Zs":
        return None
    return result


def _build_table() -> dict[int, str]:
    table: dict[int, str] = {}
    for lo, hi in _DERIVED_RANGES:
        for cp in range(lo, hi + 1):
            ch = chr(cp)
            if ch in _GSM7:
                continue
            look_alike = _derive(ch)
            if look_alike is not None:
                table[cp] = look_alike
    for ch, look_alike in _MANUAL.items():
        if ch not in _GSM7:
            table[ord(ch)] = look_alike
    return table


_TABLE = _build_table()
# str.translate deletes a character mapped to None; an empty string does the same.
_TRANSLATE = {cp: (s if s else None) for cp, s in _TABLE.items()}


def _translate(s: str) -> str:
    return s.translate(_TRANSLATE)


def _fold_match(m: re.Match[str]) -> str:
    """A letter written with separate combining marks (e + U+0301), folded like its
    precomposed form; left alone when no GSM-7 spelling exists."""
    folded = _fold_cluster(m.group(1), m.group(2), _translate)
    return m.group(0) if folded is None else folded


def to_gsm(text: str) -> str:
    """text with GSM-7 look-alikes for characters outside GSM-7, so Latin-script text
    stays GSM-7: ’ -> ', – -> -, … -> ..., ă -> a, ł -> l, œ -> oe, no-break space -> space.
    Letters GSM-7 has (é è à ù ì ò Ç É Ä ä Ö ö Ñ ñ Ü ü Å å Ø ø Æ æ ß) are kept; the
    rest lose their accents (ê -> e, È -> E), and ç -> c, as GSM-7 has only the capital Ç.

    All or nothing: when some character has no look-alike (Chinese, emoji, Cyrillic ...)
    the message is UCS-2 whatever is done, so text is returned exactly as given rather
    than with its punctuation and accents degraded for no saving."""
    if is_gsm7(text):
        return text
    folded = _CLUSTER.sub(_fold_match, text) if not text.isascii() else text
    result = folded.translate(_TRANSLATE)
    return result if is_gsm7(result) else text


def force_gsm(text: str) -> str:
    """text in GSM-7 whatever it holds: to_gsm()'s look-alikes where there are some, '?' for
    each character that has none (李 -> ?, 😀 -> ?). For text a reply only quotes, such as a
    volunteer's mistyped word, where one segment matters more than the exact characters."""
    folded = _CLUSTER.sub(_fold_match, text) if not text.isascii() else text
    folded = folded.translate(_TRANSLATE)
    if is_gsm7(folded):
        return folded
    return "".join(ch if ch in _GSM7 else "?" for ch in folded)
