"""One converter per field type: the raw value as typed (normalised) -> the value a handler uses.

Every converter has the shape convert(raw, field, ctx, lang) and raises ParseError with the field's
name and the raw value when the volunteer must fix something; the caller adds form and language.
"""
from __future__ import annotations

import calendar
import re
from datetime import date, timedelta
from typing import Any, Callable

from .. import shortid
from ..formpack import Field
from ..phones import InvalidPhone, normalize_phone
from . import Age, ParseContext, ParseError

Converter = Callable[[str, Field, ParseContext, str], Any]

_INTEGER = re.compile(r"[+-]?[0-9]{1,18}")
_DECIMAL = re.compile(r"[+-]?(?:[0-9]{1,15}(?:\.[0-9]{0,9})?|\.[0-9]{1,9})")
_AMOUNT_AND_UNIT = re.compile(r"([0-9]{1,5})([^0-9]*)")  # 12W, 6个月, 24; six digits are a date

# Dates, tried in this order on the upper-cased token.
_ISO_DATE = re.compile(r"([0-9]{4})([-/.])([0-9]{1,2})\2([0-9]{1,2})")
_NUMERIC_DATE = re.compile(r"([0-9]{1,2})([-/.])([0-9]{1,2})\2([0-9]{4}|[0-9]{2})")
_PACKED_DATE = re.compile(r"[0-9]{8}|[0-9]{6}")
_CHINESE_DATE = re.compile(r"(?:([0-9]{4})年)?([0-9]{1,2})月([0-9]{1,2})[日号]?")
_DAYS_AGO = re.compile(r"([0-9]{1,6})(?:D|DAY|DAYS|天|天前|J|JOUR|JOURS|SIKU)")
_TODAY = frozenset({"TODAY", "今天", "AUJOURDHUI", "AUJOURD'HUI", "LEO"})
_YESTERDAY = frozenset({"YESTERDAY", "昨天", "HIER", "JANA"})
_MAX_DAYS_AGO = 200 * 366

_WEEK_UNITS = frozenset({"", "W", "WK", "WKS", "WEEK", "WEEKS", "S", "SEM", "SEMAINES", "周", "WIKI"})
_AGE_UNITS = {
    **dict.fromkeys(("", "Y", "YR", "YRS", "YEAR", "YEARS", "A", "AN", "ANS", "岁", "MIAKA"), "Y"),
    **dict.fromkeys(("M", "MO", "MOS", "MONTH", "MONTHS", "MOIS", "月", "个月", "MWEZI"), "M"),
    **dict.fromkeys(("W", "WK", "WKS", "WEEK", "WEEKS", "S", "SEM", "周", "WIKI"), "W"),
    **dict.fromkeys(("D", "DAY", "DAYS", "J", "JOUR", "JOURS", "天", "SIKU"), "D"),
}
_YEARS_PER_UNIT = {"Y": 1.0, "M": 1 / 12, "W": 7 / 365.25, "D": 1 / 365.25}


class _NotADate(ValueError):
    """A token shaped like a date that names no day of the calendar (31/2/2026)."""


def _invalid(field: Field, raw: str, reason: str | None = None, **args: Any) -> ParseError:
    return ParseError("invalid_value", reason=reason, field=field.name, value=raw, **args)


def _bad_date(field: Field, raw: str, reason: str) -> ParseError:
    return ParseError("invalid_date", reason=reason, field=field.name, value=raw)


def _check_bounds(number: float, raw: str, field: Field) -> None:
    if field.min is not None and number < field.min:
        raise _invalid(field, raw, "too_small", min=field.min, max=field.max)
    if field.max is not None and number > field.max:
        raise _invalid(field, raw, "too_large", min=field.min, max=field.max)


# -- dates -----------------------------------------------------------------------------------------

def _day(year: int, month: int, day: int) -> date:
    try:
        return date(year, month, day)
    except ValueError:
        raise _NotADate from None


def _full_year(digits: str, today: date) -> int:
    """A two-digit year is this century's, unless that year is still to come."""
    year = int(digits)
    if len(digits) == 2:
        year += 2000 if 2000 + year <= today.year else 1900
    return year


def _day_month(first: str, second: str, ctx: ParseContext) -> tuple[int, int]:
    if ctx.date_order == "MDY":
        return int(second), int(first)
    return int(first), int(second)


def read_date(token: str, ctx: ParseContext) -> date | None:
    """The day a token names, None if it does not look like a date; _NotADate if impossible."""
    text = token.upper()
    if text in _TODAY:
        return ctx.today
    if text in _YESTERDAY:
        return ctx.today - timedelta(days=1)
    if m := _ISO_DATE.fullmatch(text):
        return _day(int(m[1]), int(m[3]), int(m[4]))
    if m := _NUMERIC_DATE.fullmatch(text):
        day, month = _day_month(m[1], m[3], ctx)
        return _day(_full_year(m[4], ctx.today), month, day)
    if _PACKED_DATE.fullmatch(text):
        day, month = _day_month(text[:2], text[2:4], ctx)
        return _day(_full_year(text[4:], ctx.today), month, day)
    if m := _CHINESE_DATE.fullmatch(text):
        return _day(int(m[1]) if m[1] else ctx.today.year, int(m[2]), int(m[3]))
    if m := _DAYS_AGO.fullmatch(text):
        days = int(m[1])
        if days > _MAX_DAYS_AGO:
            raise _NotADate
        return ctx.today - timedelta(days=days)
    return None


def convert_date(raw: str, field: Field, ctx: ParseContext, lang: str) -> date:
    """A day in any of the accepted spellings, not after today."""
    try:
        value = read_date(raw, ctx)
    except _NotADate:
        value = None
    if value is None:
        raise _bad_date(field, raw, "invalid_date")
    if value > ctx.today:
        raise _bad_date(field, raw, "future_date")
    return value


# -- numbers -----------------------------------------------------------------------------------------

def convert_integer(raw: str, field: Field, ctx: ParseContext, lang: str) -> int:
    """A whole number within the field's min and max."""
    if not _INTEGER.fullmatch(raw):
        raise _invalid(field, raw)
    value = int(raw)
    _check_bounds(value, raw, field)
    return value


def convert_decimal(raw: str, field: Field, ctx: ParseContext, lang: str) -> float:
    """A number with a decimal point ('3.2'; ',' separates values) within min and max."""
    if not _DECIMAL.fullmatch(raw):
        raise _invalid(field, raw)
    value = float(raw)
    _check_bounds(value, raw, field)
    return value


def convert_weeks(raw: str, field: Field, ctx: ParseContext, lang: str) -> int | date:
    """Weeks as 12W / 12 / 12周; with accept_date, a date (the LMP) instead, returned as a date."""
    m = _AMOUNT_AND_UNIT.fullmatch(raw)
    if m and m[2].upper() in _WEEK_UNITS:
        weeks = int(m[1])
        _check_bounds(weeks, raw, field)
        return weeks
    if not field.accept_date:
        raise _invalid(field, raw)
    try:
        lmp = read_date(raw, ctx)
    except _NotADate:
        raise _bad_date(field, raw, "invalid_date") from None
    if lmp is None:
        raise _invalid(field, raw)
    if lmp > ctx.today:
        raise _bad_date(field, raw, "future_date")
    _check_bounds((ctx.today - lmp).days // 7, raw, field)
    return lmp


# -- ages ---------------------------------------------------------------------------------------------

def _years_before(today: date, years: int) -> date:
    year = today.year - years
    day = 28 if (today.month, today.day) == (2, 29) and not calendar.isleap(year) else today.day
    return date(year, today.month, day)


def _months_before(today: date, months: int) -> date:
    year, month0 = divmod(today.year * 12 + today.month - 1 - months, 12)
    if year < 1:
        raise ValueError("before year 1")
    day = min(today.day, calendar.monthrange(year, month0 + 1)[1])
    return date(year, month0 + 1, day)


def _full_years(birth: date, today: date) -> int:
    return today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))


def convert_age(raw: str, field: Field, ctx: ParseContext, lang: str) -> Age:
    """24 / 24Y / 6M / 3W / 10D -> an estimated birth date; a date -> the exact one."""
    m = _AMOUNT_AND_UNIT.fullmatch(raw)
    unit = _AGE_UNITS.get(m[2].upper()) if m else None
    if unit is not None:
        amount = int(m[1])
        _check_bounds(amount * _YEARS_PER_UNIT[unit], raw, field)
        try:
            if unit == "Y":
                birth = _years_before(ctx.today, amount)
            elif unit == "M":
                birth = _months_before(ctx.today, amount)
            else:
                birth = ctx.today - timedelta(days=amount * (7 if unit == "W" else 1))
        except (ValueError, OverflowError):
            raise _invalid(field, raw, "too_large", min=field.min, max=field.max) from None
        return Age(birth_date=birth, estimated=True)
    try:
        birth = read_date(raw, ctx)
    except _NotADate:
        raise _bad_date(field, raw, "invalid_date") from None
    if birth is None:
        raise _invalid(field, raw)
    if birth > ctx.today:
        raise _bad_date(field, raw, "future_date")
    _check_bounds(_full_years(birth, ctx.today), raw, field)
    return Age(birth_date=birth, estimated=False)


# -- the rest -----------------------------------------------------------------------------------------

def convert_id(raw: str, field: Field, ctx: ParseContext, lang: str) -> str:
    """A short ID with a valid check digit; alert numbers are plain counters without one."""
    if field.kind == "alert":
        if raw.isascii() and raw.isdigit() and len(raw) <= 12:
            return raw
    elif shortid.is_valid(raw):
        return raw
    raise ParseError("invalid_id", field=field.name, value=raw)


_choice_tables: dict[tuple[int, str], tuple[Field, dict[str, str]]] = {}


def language_rank(word_lang: str, lang: str) -> int:
    """How much a word of word_lang counts for a sender of lang: theirs 2, '*' 1, another 0."""
    return 2 if word_lang == lang else 1 if word_lang == "*" else 0


def _choice_table(field: Field, lang: str) -> dict[str, str]:
    """WORD -> CODE; any language's word is understood, the sender's wins a clash."""
    cached = _choice_tables.get((id(field), lang))
    if cached is not None and cached[0] is field:
        return cached[1]
    ranked = sorted(
        (language_rank(word_lang, lang), word.upper(), code)
        for code, per_lang in field.choices.items()
        for word_lang, words in per_lang.items()
        for word in words
    )
    table = {code: code for code in field.choices}
    table.update((word, code) for _, word, code in ranked)
    if len(_choice_tables) > 4096:  # packs reloaded many times over, e.g. in tests
        _choice_tables.clear()
    _choice_tables[(id(field), lang)] = (field, table)
    return table


def convert_choice(raw: str, field: Field, ctx: ParseContext, lang: str) -> str:
    """A word of the field's choices, in any case and language -> the choice's code."""
    code = _choice_table(field, lang).get(raw.upper())
    if code is None:
        raise _invalid(field, raw)
    return code


def convert_codes(raw: str, field: Field, ctx: ParseContext, lang: str) -> str:
    """'bf', 'B F' or 'FBB' -> 'BF': known letters, once each, in the form's order."""
    letters = raw.replace(" ", "").upper()
    if not letters:
        raise _invalid(field, raw)
    for letter in letters:
        if letter not in field.codes:
            raise _invalid(field, letter)
    return "".join(code for code in field.codes if code in letters)


def convert_phone(raw: str, field: Field, ctx: ParseContext, lang: str) -> str:
    """A valid phone number, local to ctx.region or international -> E.164."""
    if len(raw) > 24:  # longer than any phone number, however it is written
        raise _invalid(field, raw)
    try:
        return normalize_phone(raw, ctx.region)
    except InvalidPhone:
        raise _invalid(field, raw) from None


def convert_text(raw: str, field: Field, ctx: ParseContext, lang: str) -> str:
    """Free text as typed, case kept, no longer than max_length."""
    if field.max_length is not None and len(raw) > field.max_length:
        raise _invalid(field, raw, "too_long", max=field.max_length)
    return raw


CONVERTERS: dict[str, Converter] = {
    "id": convert_id,
    "integer": convert_integer,
    "decimal": convert_decimal,
    "date": convert_date,
    "weeks": convert_weeks,
    "age": convert_age,
    "choice": convert_choice,
    "codes": convert_codes,
    "phone": convert_phone,
    "text": convert_text,
}
