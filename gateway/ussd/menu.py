"""The USSD menu: screens made from the form pack, and a session's answers replayed into a state.

Pure: the pack, the sender's language and role, a ParseContext and a lookup of IDs go in; the
screen to show, or the report as the SMS it stands for, comes out. Nothing is kept between
requests here: Africa's Talking sends every answer of the session so far, and replaying them from
the main menu gives the same state on any web process, after any restart.

    menu = Menu(pack, "en", "volunteer", ctx, lookup)
    menu.run([])                          -> Screen("Fieldline: choose a report\\n1 Home visit\\n...")
    menu.run(["2", "51023", "12"])        -> Screen("Confirm: pregnancy for Amina Juma (51023), 12 weeks?...")
    menu.run(["2", "51023", "12", "1"])   -> Submission("PREG", "PREG 51023 12")

The main menu lists the forms of the sender's role that have a required field and whose required
fields can all be typed on a keypad (digits, '#'); each field is one prompt. An answer is checked
by the same converters as the SMS parser, so a wrong one is named as in an SMS reply, on top of
the same prompt. Keys: a number picks from a list, several at once for a code set ('13'); 98 is
the next page of a long list, 0 goes back a screen, 00 skips an optional field.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from typing import Any, Callable

from ..formpack import Field, Form, FormPack
from ..parsers import Age, ParseContext, ParseError
from ..parsers.fields import CONVERTERS
from ..replies import echo, render
from ..sms import to_gsm
from .screens import Page, clip, page, screen_length

BACK, MORE, SKIP = "0", "98", "00"
YES, NO = "1", "2"
KEYPAD_TYPES = frozenset({"id", "integer", "decimal", "date", "weeks", "age", "choice", "codes", "phone"})
MAX_CODES = 9  # a code set is entered one digit per code
NAME_ROOM = 30  # characters of a name on the confirm screen
_ADVICE = "\x00"  # stands for the SMS syntax an error reply would add ('Send: PREG <ID> ...')


@dataclass(frozen=True)
class Subject:
    """What an ID names: a person or a household, and the name to show for it."""

    kind: str  # person | household
    name: str


Lookup = Callable[..., "Subject | None"]  # (short_id, kind="household" or "person") -> the subject or None


@dataclass(frozen=True)
class Screen:
    text: str
    end: bool = False

    @property
    def response(self) -> str:
        return ("END " if self.end else "CON ") + self.text


@dataclass(frozen=True)
class Submission:
    """The finished report, as the SMS that says the same: handled like one."""

    form: str
    body: str


@dataclass(frozen=True)
class Answer:
    value: Any  # as the field's converter returned it
    sms: str  # as an SMS spells it
    subject: Subject | None = None  # what an ID names


@dataclass(frozen=True)
class Step:
    """One screen of the session: the main menu (form None), a field's prompt, or the confirm
    screen (every field answered); offset is the first list item on it."""

    form: str | None = None
    answers: tuple[Answer | None, ...] = ()
    offset: int = 0
    error: str | None = None


def keypad_field(field: Field) -> bool:
    """A field a keypad can enter: digits, with numbered lists for choices and code sets."""
    if field.type == "codes":
        return len(field.codes) <= MAX_CODES
    return field.type in KEYPAD_TYPES


def keypad_form(form: Form) -> bool:
    """A form offered on the menu: something to report, and every required field enterable."""
    required = [f for f in form.fields if f.required]
    return bool(required) and all(keypad_field(f) for f in required)


def menu_forms(pack: FormPack, role: str) -> list[Form]:
    return [f for f in pack.forms.values() if role in f.roles and keypad_form(f)]


def _asked(field: Field) -> bool:
    """Optional free text is offered (00 skips it); an optional field no keypad can enter is not."""
    return keypad_field(field) or field.type == "text"


class Menu:
    def __init__(self, pack: FormPack, lang: str, role: str, ctx: ParseContext, lookup: Lookup):
        self.pack = pack
        self.lang = lang
        self.ctx = ctx
        self.lookup = lookup
        self.forms = menu_forms(pack, role)

    def run(self, inputs: list[str]) -> Screen | Submission:
        """The screen after these answers (every answer of the session, oldest first)."""
        if not self.forms:
            return Screen(self._text("ussd_no_reports"), end=True)
        history = [Step()]
        for raw in inputs:
            final = self._take(history, raw.strip())
            if final is not None:
                return final
        return Screen(self._page(history).text)

    # -- one answer -------------------------------------------------------------------------------

    def _take(self, history: list[Step], raw: str) -> Screen | Submission | None:
        step = history[-1]
        if raw == MORE:
            next_offset = self._page(history).next_offset
            if next_offset is not None:
                history.append(replace(step, offset=next_offset, error=None))
                return None
        if raw == BACK and self._may_go_back(history):
            history.pop()
            history[-1] = replace(history[-1], error=None)
            return None
        if step.form is None:
            return self._pick_form(history, raw)
        form = self.pack.forms[step.form]
        if len(step.answers) == len(form.fields):
            return self._confirm(history, form, raw)
        return self._answer(history, form, raw)

    def _pick_form(self, history: list[Step], raw: str) -> None:
        if raw.isdigit() and 1 <= int(raw) <= len(self.forms):
            history.append(self._skip_unasked(Step(form=self.forms[int(raw) - 1].code)))
        else:
            history[-1] = replace(history[-1], error=self._text("ussd_not_listed", value=echo(raw)))

    def _answer(self, history: list[Step], form: Form, raw: str) -> None:
        step = history[-1]
        field = form.fields[len(step.answers)]
        if not field.required and raw in (SKIP, ""):
            answer = None
        else:
            try:
                answer = self._convert(form, field, raw)
            except ParseError as error:
                history[-1] = replace(step, error=self._error(form, error))
                return
        history.append(self._skip_unasked(Step(form.code, step.answers + (answer,))))

    def _confirm(self, history: list[Step], form: Form, raw: str) -> Screen | Submission | None:
        if raw == YES:
            return Submission(form.code, self._compose(form, history[-1].answers))
        if raw == NO:
            return Screen(self._text("ussd_cancelled"), end=True)
        history[-1] = replace(history[-1], error=self._text("ussd_not_listed", value=echo(raw)))
        return None

    def _skip_unasked(self, step: Step) -> Step:
        fields = self.pack.forms[step.form].fields
        answers = list(step.answers)
        while len(answers) < len(fields) and not _asked(fields[len(answers)]):
            answers.append(None)
        return replace(step, answers=tuple(answers))

    def _may_go_back(self, history: list[Step]) -> bool:
        """Back is 0, unless 0 is a good answer to the prompt on screen (a count that may be 0)."""
        if len(history) < 2:
            return False
        field = self._field(history[-1])
        counts = ("integer", "decimal", "weeks", "age")  # IDs are never 0: short IDs have 5 digits or more
        return field is None or field.type not in counts or not self._valid(field, BACK)

    def _valid(self, field: Field, raw: str) -> bool:
        try:
            CONVERTERS[field.type](raw, field, self.ctx, self.lang)
        except ParseError:
            return False
        return True

    # -- reading an answer with the SMS parser's converters ----------------------------------------

    def _convert(self, form: Form, field: Field, raw: str) -> Answer:
        if not raw:
            raise ParseError("missing_field", field=field.name)
        typed = raw
        if field.type == "choice":
            typed = self._numbered_choice(field, raw)
        elif field.type == "codes":
            typed = self._numbered_codes(field, raw)
        elif field.type == "decimal":
            typed = raw.replace("#", ".")  # a keypad has no point; '#' stands for it
        try:
            value = CONVERTERS[field.type](typed, field, self.ctx, self.lang)
        except ParseError as error:
            if error.value == typed:
                error.value = raw  # quote what was typed: '3##1', not '3..1'
            raise
        subject = self._subject(field, value) if field.type == "id" and field.kind != "alert" else None
        return Answer(value, self._spelling(form, field, typed, value), subject)

    def _numbered_choice(self, field: Field, raw: str) -> str:
        codes = list(field.choices)
        if raw.isdigit() and 1 <= int(raw) <= len(codes):
            return codes[int(raw) - 1]
        return raw  # a word of the choice is understood as in an SMS; anything else is refused so

    def _numbered_codes(self, field: Field, raw: str) -> str:
        if not raw.isdigit():
            return raw
        codes = list(field.codes)
        for digit in raw:
            if not 1 <= int(digit) <= len(codes):
                raise ParseError("invalid_value", field=field.name, value=digit)
        return "".join(codes[int(digit) - 1] for digit in raw)

    def _subject(self, field: Field, short_id: str) -> Subject:
        subject = self.lookup(short_id, kind=field.kind)  # the kind asked for is looked for first
        if subject is None:
            raise ParseError("invalid_id", reason="unknown_id", field=field.name, value=short_id)
        if field.kind == "person" and subject.kind == "household":
            raise ParseError("invalid_id", reason="household_not_person", field=field.name, value=short_id)
        if field.kind == "household" and subject.kind == "person":
            raise ParseError("invalid_id", reason="person_not_household", field=field.name, value=short_id)
        return subject

    def _error(self, form: Form, error: ParseError) -> str:
        """The SMS reply to the same mistake, without its 'Send: <the SMS form>' advice."""
        values: dict[str, Any] = dict(error.args_)
        values["value"] = echo(error.value)
        field = next((f for f in form.fields if f.name == error.field), None)
        values["field"] = field.label(self.lang) if field else (error.field or "")
        values["usage"] = values["example"] = _ADVICE
        text = render(self.pack, form, error.reason, self.lang, values)
        at = text.find(_ADVICE)
        if at >= 0:
            text = text[:at]
            stop = max(text.rfind(". "), text.rfind("。"))
            text = text[:stop] if stop > 0 else text.rstrip(" ,:，：")
        return to_gsm(text)

    # -- the report as an SMS -------------------------------------------------------------------------

    def _spelling(self, form: Form, field: Field, typed: str, value: Any) -> str:
        """The answer as an SMS would give it, read back to the same value whatever DATE_ORDER is."""
        if isinstance(value, date):
            return value.isoformat()
        if isinstance(value, Age):
            return value.birth_date.isoformat() if not value.estimated else typed
        if field.type == "choice":
            return self._choice_word(form, field, value)
        return str(value) if field.type in ("integer", "codes") else typed

    def _choice_word(self, form: Form, field: Field, code: str) -> str:
        """A word for the choice that the parser reads back as code in the keyword's language."""
        keyword_lang = self.pack.keywords[form.keyword(self.lang).upper()][1]
        words = [code] + [w for per_lang in field.choices[code].values() for w in per_lang]
        for word in words:
            try:
                if CONVERTERS["choice"](word, field, self.ctx, keyword_lang) == code:
                    return word
            except ParseError:
                continue
        return code

    def _compose(self, form: Form, answers: tuple[Answer | None, ...]) -> str:
        """Compact syntax ('PREG 51023 12'); key/value when an optional field was skipped before
        one that was given, which positions cannot say."""
        keyword = form.keyword(self.lang)
        given = [(f, a) for f, a in zip(form.fields, answers) if a is not None]
        if all(a is not None for a in answers[: len(given)]):
            return " ".join([keyword] + [a.sms for _, a in given])
        return keyword + "".join(f"#{self._key(f)} {a.sms}" for f, a in given)

    def _key(self, field: Field) -> str:
        words = field.keys.get(self.lang) or field.keys.get("*") or next(iter(field.keys.values()))
        return words[0]

    # -- screens ----------------------------------------------------------------------------------------

    def _field(self, step: Step) -> Field | None:
        if step.form is None:
            return None
        fields = self.pack.forms[step.form].fields
        return fields[len(step.answers)] if len(step.answers) < len(fields) else None

    def _page(self, history: list[Step]) -> Page:
        step = history[-1]
        head = [step.error] if step.error else []
        tail = [self._text("ussd_back")] if self._may_go_back(history) else []
        items: list[str] = []
        if step.form is None:
            head.append(self._text("ussd_menu"))
            items = [self._line(f"{n} {form.title(self.lang)}") for n, form in enumerate(self.forms, 1)]
        elif (field := self._field(step)) is None:
            head.append(self._confirm_line(self.pack.forms[step.form], step.answers))
            tail.insert(0, self._text("ussd_yes_no"))
        else:
            head.append(self._prompt(field))
            items = self._items(field)
            if not field.required:
                tail.insert(0, self._text("ussd_skip"))
        return page(head, items, step.offset, tail, self._text("ussd_more"))

    def _prompt(self, field: Field) -> str:
        label = field.label(self.lang)
        key = {
            "date": "ussd_enter_date", "age": "ussd_enter_age", "decimal": "ussd_enter_decimal",
            "choice": "ussd_choose", "codes": "ussd_choose_codes",
            "weeks": "ussd_enter_weeks_or_date" if field.accept_date else "ussd_enter",
        }.get(field.type, "ussd_enter")
        return self._text(key, label=label, example=self.ctx.today.strftime("%d%m%Y"))

    def _items(self, field: Field) -> list[str]:
        if field.type == "choice":
            names = [self._choice_name(field, code) for code in field.choices]
        elif field.type == "codes":
            names = [self._code_name(field, code) for code in field.codes]
        else:
            return []
        return [self._line(f"{n} {name}") for n, name in enumerate(names, 1)]

    def _choice_name(self, field: Field, code: str) -> str:
        """The longest word of the choice in the sender's language ('FACILITY' -> 'Facility')."""
        per_lang = field.choices[code]
        words = per_lang.get(self.lang) or per_lang.get("*") or (code,)
        word = max(words, key=len)
        return word.capitalize() if word.isascii() and word.isupper() and len(word) > 1 else word

    def _code_name(self, field: Field, code: str) -> str:
        meanings = field.codes[code]
        return meanings.get(self.lang) or meanings.get("en") or code

    def _confirm_line(self, form: Form, answers: tuple[Answer | None, ...]) -> str:
        """'Confirm: pregnancy for Amina Juma (51023), 12 weeks?'; code sets by their letters when
        their meanings would not fit."""
        title = form.title(self.lang)
        if len(title) > 1 and title[1].islower():
            title = title[0].lower() + title[1:]  # 'Pregnancy' reads 'pregnancy' mid-sentence, 'ANC' stays
        line = ""
        for letters in (False, True):
            details = [self._detail(f, a, letters) for f, a in zip(form.fields, answers) if a is not None]
            line = self._text("ussd_confirm", title=title, details=self._text("ussd_separator").join(details))
            if screen_length(line) <= 120:
                break
        return line

    def _detail(self, field: Field, answer: Answer, letters: bool) -> str:
        value = answer.value
        if answer.subject is not None:
            key = "ussd_household" if answer.subject.kind == "household" else "ussd_person"
            return self._text(key, name=clip(answer.subject.name, NAME_ROOM), id=value)
        if field.type == "id":
            return str(value)
        if field.type == "weeks":
            return self._text("ussd_lmp" if isinstance(value, date) else "ussd_weeks", value=answer.sms)
        if field.type == "choice":
            return self._choice_name(field, value)
        if field.type == "codes" and not letters:
            return self._text("ussd_separator").join(self._code_name(field, c) for c in value)
        shown = answer.sms if field.type != "text" else clip(answer.sms, NAME_ROOM)
        return self._text("ussd_value", label=field.label(self.lang), value=shown)

    def _text(self, key: str, **values: Any) -> str:
        return render(self.pack, None, key, self.lang, values)

    def _line(self, text: str) -> str:
        return to_gsm(text)
