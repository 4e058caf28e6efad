"""Pure text -> Parsed or ParseError. No session, no app, no network.

    parse("PREG 51023 12W", pack, ctx)     -> Parsed(form="PREG", values={"id": "51023", "weeks": 12})
    parse("PREG#ID 51023#W 12", pack, ctx) -> the same, from the key/value syntax
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any


@dataclass(frozen=True)
class ParseContext:
    """What parsing needs to know beyond the text: the day it is, how to read numbers and dates."""

    today: date
    region: str = "KE"  # phonenumbers region for local numbers
    date_order: str = "DMY"  # or "MDY"


@dataclass(frozen=True)
class Age:
    """An age as typed: a birth date, exact when a date was given, estimated from 24 / 6M / 3W."""

    birth_date: date
    estimated: bool


@dataclass
class Parsed:
    form: str  # the form's code, e.g. "PREG"
    language: str  # the language of the keyword that was used
    values: dict[str, Any] = field(default_factory=dict)
    syntax: str = "compact"  # or "keyvalue"


class ParseError(ValueError):
    """A problem the volunteer can fix; code and args turn into a reply in their language.

    code is the public error code (empty, unknown_keyword, missing_field, invalid_value,
    invalid_date, invalid_id, extra_values); reason names the reply template in _messages.yaml
    (e.g. too_large, future_date, did_you_mean) and defaults to the code.
    """

    def __init__(
        self,
        code: str,
        *,
        reason: str | None = None,
        form: str | None = None,
        language: str | None = None,
        field: str | None = None,
        value: str | None = None,
        **args: Any,
    ):
        super().__init__(code)
        self.code = code
        self.reason = reason or code
        self.form = form
        self.language = language
        self.field = field
        self.value = value
        self.args_ = args

    def __repr__(self) -> str:
        return f"ParseError({self.code!r}, reason={self.reason!r}, form={self.form!r}, field={self.field!r}, value={self.value!r})"


from .core import parse  # noqa: E402

__all__ = ["Age", "ParseContext", "ParseError", "Parsed", "parse"]
