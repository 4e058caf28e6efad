"""Every reply template, in every language, with realistic worst-case values, fits one SMS segment."""
from __future__ import annotations

import string

import pytest

from gateway.config import LANGUAGES
from gateway.formpack import load_pack
from gateway.replies import echo, render, render_refusal
from gateway.sms import segments

PACK = load_pack()
COMPLETE = ("en", "zh", "fr", "sw")  # languages every template must have
NAME = {"en": "Christabel Wanjiku A", "zh": "欧阳娜娜欧阳娜娜欧阳娜娜欧阳娜娜欧阳娜娜",
        "fr": "Marie-Eloise Dubois-", "sw": "Mwanaisha Wanjiku Ab"}
assert all(len(n) == 20 for n in NAME.values())
CARE = {"en": "FP injectable", "zh": "产后第42天", "fr": "PF préservatifs", "sw": "Kliniki wiki 40"}  # longest labels


def worst_values(lang: str, field_label: str) -> dict[str, str]:
    name = NAME[lang]
    return {
        "name": name, "head": name, "village": name, "id": "4021345", "household": "4021345",
        "value": echo(name + name), "word": echo("XXXXXXXXXXXXXXXXXXXX"), "field": field_label,
        "min": "1000", "max": "1000", "next_due": "2027-02-27", "suggestion": "REGISTER",
        "keywords": PACK.keyword_list(lang), "weeks": "44", "edd": "2027-06-07", "codes": "BFCHLNR",
        "alert": "123456", "date": "2026-11-29", "lmp": "2026-03-02", "born": "2026-11-28", "day": "56",
        "method": {"en": "injectable", "zh": "避孕针", "fr": "injectable", "sw": "sindano"}[lang],
        "quantity": "13",
        # alerts, reminders and summaries
        "care": CARE[lang], "items": f"{CARE[lang]} {name} 4021345", "count": "99", "form": "REGISTER",
        "by": name, "time": "2026-11-29 14:05", "month": "2026-11", "visits": "9999",
        "pregnancies": "999", "births": "999", "anc": "999/999", "pnc": "999/999", "overdue": "999",
        "flagged": "999",
    }


def templates():
    # USSD screen texts (ussd_*) are no SMS: every screen made of them fits 182 characters, as
    # test_ussd.py checks screen by screen
    shared = [(None, key) for key in PACK.messages if not key.startswith("ussd_")]
    own = [(form, key) for form in PACK.forms.values() for key in form.replies]
    for form in PACK.forms.values():
        for _, key in shared:
            yield form, key, "shared"
    for form, key in own:
        yield form, key, "form"


def placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


CASES = [(form.code, key, lang) for form, key, _ in templates() for lang in LANGUAGES]


@pytest.mark.parametrize("code, key, lang", CASES)
def test_every_template_fits_one_segment(code, key, lang):
    form = PACK.forms[code]
    texts = form.replies.get(key) or PACK.messages[key]
    assert lang in texts, f"{code}/{key} has no {lang} text"
    labels = [f.label(lang) for f in form.fields] or [""]
    for label in labels:
        # the quote as wide as it gets: names of the language, or emoji at two UTF-16 units each
        for quote in (NAME[lang] * 2, "😀" * 20):
            values = {**worst_values(lang, label), "value": echo(quote)}
            text = render_refusal(PACK, form, key, lang, values)
            assert "{" not in text, f"unfilled placeholder in {text!r}"
            encoding, count = segments(text)
            assert count == 1, f"{code}/{key}/{lang} takes {count} {encoding} segments: {text!r}"


@pytest.mark.parametrize("code", list(PACK.forms))
def test_every_language_is_complete(code):
    form = PACK.forms[code]
    for lang in COMPLETE:
        assert lang in form.keywords, f"{code} has no {lang} keyword"
        assert lang in form.examples, f"{code} has no {lang} example"
        assert lang in form.titles, f"{code} has no {lang} title"
        for key, texts in form.replies.items():
            assert lang in texts, f"{code}/{key} has no {lang} text"
        for f in form.fields:
            assert lang in f.labels, f"{code}.{f.name} has no {lang} label"
    for key, texts in PACK.messages.items():
        for lang in COMPLETE:
            assert lang in texts, f"message {key} has no {lang} text"


def test_templates_use_only_values_that_exist():
    known = set(worst_values("en", "x")) | {"keyword", "usage", "example"}
    for form, key, _ in templates():
        texts = form.replies.get(key) or PACK.messages[key]
        for lang, text in texts.items():
            assert placeholders(text) <= known, f"{form.code}/{key}/{lang}: {placeholders(text) - known}"


def test_latin_replies_stay_gsm7_with_accented_names():
    form = PACK.forms["HH"]
    text = render(PACK, form, "registered", "en", {"head": "Ştefan Łukasz “Ali”", "village": "Ombeyi", "id": "40213"})
    assert segments(text)[0] == "GSM-7"
    assert text.startswith("Household of Stefan Lukasz \"Ali\" registered")
