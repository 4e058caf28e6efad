"""The volunteer's card: the keywords of the form pack, each with its form and one example, and the
codes volunteers send, in one language; generated from the forms, so a new form is on it at once."""
from __future__ import annotations

from dataclasses import dataclass

from gateway.formpack import FormPack

# The card's own words; the rest comes from the pack.
HEADINGS = {
    "en": {"title": "Fieldline: messages", "form": "Send", "example": "Example", "codes": "Codes"},
    "zh": {"title": "Fieldline：短信格式", "form": "格式", "example": "例子", "codes": "代码"},
    "fr": {"title": "Fieldline : messages", "form": "Envoyer", "example": "Exemple", "codes": "Codes"},
    "sw": {"title": "Fieldline: ujumbe", "form": "Tuma", "example": "Mfano", "codes": "Misimbo"},
}


@dataclass(frozen=True)
class CardLine:
    keyword: str
    usage: str
    example: str


@dataclass(frozen=True)
class Card:
    lang: str
    words: dict[str, str]
    lines: list[CardLine]
    codes: list[tuple[str, str]]  # (code, meaning)


def volunteer_card(pack: FormPack, lang: str) -> Card:
    """The forms a volunteer may send, in the pack's order, and the first code set they use."""
    lines, codes = [], []
    for form in pack.forms.values():
        if "volunteer" not in form.roles:
            continue
        lines.append(CardLine(form.keyword(lang), form.usage(lang), form.example(lang)))
        for f in form.fields:
            if f.type == "codes" and not codes:
                codes = [(code, meanings.get(lang) or meanings.get("en", "")) for code, meanings in f.codes.items()]
    return Card(lang, HEADINGS.get(lang, HEADINGS["en"]), lines, codes)
