"""parse(): one SMS body -> Parsed, or a ParseError saying what the volunteer should fix.

The keyword picks the form and the language; the rest is read in one of two syntaxes made from
the same form definition: compact, values by position ('REG 40216 F 24 Amina Juma'), or key/value
with '#' in any order ('REG #hh 40216 #s f #a 24 #n Amina Juma').
"""
from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import Any

from ..formpack import Field, Form, FormPack
from . import Parsed, ParseContext, ParseError
from .fields import CONVERTERS, Converter, language_rank
from .normalize import normalize

GREEDY_TYPES = frozenset({"text", "codes"})  # as the last field, these take the rest


@dataclass(frozen=True)
class _Plan:
    """A form as read by a sender of one language: its fields in order and its keys."""

    steps: tuple[tuple[Field, Converter, bool], ...]  # field, converter, takes the rest
    keys: dict[str, Field]  # KEY -> field
    keys_by_length: tuple[str, ...]


_plans: weakref.WeakKeyDictionary[FormPack, dict[tuple[str, str], _Plan]] = weakref.WeakKeyDictionary()


def parse(text: str, pack: FormPack, ctx: ParseContext) -> Parsed:
    """Parse one SMS body, e.g. 'PREG 51025 12W' or 'PREG#ID 51025#W 12'."""
    text = normalize(text).lstrip("# ")
    if not text:
        raise ParseError("empty")
    form, lang, rest = _keyword(text, pack)
    plan = _plan(pack, form, lang)
    try:
        segments = _keyed_segments(rest, plan)
        if segments is None:
            return Parsed(form.code, lang, _read_compact(rest, plan, ctx, lang), "compact")
        return Parsed(form.code, lang, _read_keyvalue(segments, plan, ctx, lang), "keyvalue")
    except ParseError as error:
        error.form, error.language = form.code, lang
        raise


# -- the keyword -------------------------------------------------------------------------------------

def _keyword(text: str, pack: FormPack) -> tuple[Form, str, str]:
    """The form, the keyword's language and the text after the keyword."""
    end = text.find(" ")
    word = text if end < 0 else text[:end]
    hash_at = word.find("#")
    if hash_at >= 0:
        word = word[:hash_at]
    hit = pack.keywords.get(word.upper())
    if hit is not None:
        return hit[0], hit[1], text[len(word):]
    for keyword in pack.keywords_by_length:
        size = len(keyword)
        if len(word) > size and word[:size].upper() == keyword and _may_glue(keyword, word[size]):
            form, lang = pack.keywords[keyword]
            return form, lang, " " + text[size:]
    raise _unknown_keyword(word, pack)


def _may_glue(word: str, following: str) -> bool:
    """'HH40216' is HH 40216 and '登记40216' is 登记 40216, but 'VISIT' is not V ISIT."""
    last = word[-1]
    return following.isdigit() or not (last.isascii() and last.isalnum())


def _unknown_keyword(word: str, pack: FormPack) -> ParseError:
    """Suggest the keyword one edit away when it belongs to exactly one form."""
    typed = word.rstrip("0123456789") or word  # 'PRGE51025': the digits were glued on
    probe = typed.upper()
    near: dict[str, tuple[str, str]] = {}
    for keyword, (form, lang) in pack.keywords.items():
        if form.code not in near and _one_edit_apart(probe, keyword):
            near[form.code] = (keyword, lang)
    if len(near) == 1:
        ((code, (keyword, lang)),) = near.items()
        return ParseError(
            "unknown_keyword", reason="did_you_mean", form=code, language=lang, value=typed,
            suggestion=keyword,
        )
    return ParseError("unknown_keyword", value=typed)


def _one_edit_apart(a: str, b: str) -> bool:
    """One insertion, deletion, substitution, or swap of two neighbours turns a into b."""
    if abs(len(a) - len(b)) > 1 or a == b:
        return False
    if len(a) == len(b):
        diffs = [i for i, (x, y) in enumerate(zip(a, b)) if x != y]
        if len(diffs) == 1:
            return True
        i, j = diffs[0], diffs[-1]
        return len(diffs) == 2 and j == i + 1 and a[i] == b[j] and a[j] == b[i]
    if len(a) > len(b):
        a, b = b, a
    i = 0
    while i < len(a) and a[i] == b[i]:
        i += 1
    return a[i:] == b[i + 1:]


# -- the form as one language reads it ------------------------------------------------------------

def _plan(pack: FormPack, form: Form, lang: str) -> _Plan:
    plans = _plans.get(pack)
    if plans is None:
        plans = _plans[pack] = {}
    plan = plans.get((form.code, lang))
    if plan is None:
        plan = plans[(form.code, lang)] = _make_plan(form, lang)
    return plan


def _make_plan(form: Form, lang: str) -> _Plan:
    last = len(form.fields) - 1
    steps = tuple(
        (f, CONVERTERS[f.type], i == last and f.type in GREEDY_TYPES) for i, f in enumerate(form.fields)
    )
    # Any language's key is understood; on a clash the sender's language, then '*', wins.
    ranked = sorted(
        ((language_rank(key_lang, lang), word.upper(), i) for i, f in enumerate(form.fields)
         for key_lang, words in f.keys.items() for word in words)
    )
    keys = {word: form.fields[i] for _, word, i in ranked}
    return _Plan(steps, keys, tuple(sorted(keys, key=len, reverse=True)))


# -- compact syntax -------------------------------------------------------------------------------------

def _read_compact(rest: str, plan: _Plan, ctx: ParseContext, lang: str) -> dict[str, Any]:
    tokens = rest.replace("#", " ").split()
    count = len(tokens)
    values: dict[str, Any] = {}
    at = 0
    for field, convert, greedy in plan.steps:
        if at >= count:
            if field.required:
                raise ParseError("missing_field", field=field.name)
            break  # only optional fields follow an optional one
        if greedy:
            raw, at = " ".join(tokens[at:]), count
        else:
            raw, at = tokens[at], at + 1
        values[field.name] = convert(raw, field, ctx, lang)
    if at < count:
        raise ParseError("extra_values", value=" ".join(tokens[at:]))
    return values


# -- key/value syntax ----------------------------------------------------------------------------------

def _keyed_segments(rest: str, plan: _Plan) -> list[tuple[str, Field | None, str]] | None:
    """[(key as typed, field or None, value)] when rest is key/value syntax, else None.

    It is key/value syntax when rest starts with '#' and the first key is one of the form's;
    otherwise '#' was only a separator.
    """
    rest = rest.lstrip(" ")
    if not rest.startswith("#"):
        return None
    segments = []
    for part in rest.split("#"):
        part = part.strip(" ")
        if part:
            segments.append(_split_key(part, plan))
    if not segments or segments[0][1] is None:
        return None
    return segments


def _split_key(part: str, plan: _Plan) -> tuple[str, Field | None, str]:
    key, _, value = part.partition(" ")
    field = plan.keys.get(key.upper())
    if field is not None:
        return key, field, value
    for known in plan.keys_by_length:  # a key glued to its value: '#W12', '#姓名李娜'
        size = len(known)
        if len(key) > size and key[:size].upper() == known and _may_glue(known, key[size]):
            glued = key[size:]
            return key[:size], plan.keys[known], f"{glued} {value}" if value else glued
    return key, None, value


def _read_keyvalue(
    segments: list[tuple[str, Field | None, str]], plan: _Plan, ctx: ParseContext, lang: str
) -> dict[str, Any]:
    given: dict[str, str] = {}
    for key, field, value in segments:
        if field is None:
            raise ParseError("invalid_value", reason="unknown_key", value=key)
        if field.name in given:
            raise ParseError("invalid_value", reason="repeated_key", field=field.name, value=key)
        given[field.name] = value
    values: dict[str, Any] = {}
    for field, convert, _ in plan.steps:
        raw = given.get(field.name)
        if not raw:
            if field.required:
                raise ParseError("missing_field", field=field.name)
            continue
        if field.type not in GREEDY_TYPES and " " in raw:
            raise ParseError("extra_values", field=field.name, value=raw.split(" ", 1)[1])
        values[field.name] = convert(raw, field, ctx, lang)
    return values
