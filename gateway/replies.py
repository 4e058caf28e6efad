"""Turning a reply key and values into one SMS in the sender's language."""
from __future__ import annotations

from typing import Any

from .formpack import Form, FormPack
from .sms import to_gsm

ECHO_LIMIT = 16  # characters of a volunteer's own text quoted back in an error


def echo(value: Any) -> str:
    text = "" if value is None else str(value)
    return text if len(text) <= ECHO_LIMIT else text[: ECHO_LIMIT - 3] + "..."


def render(pack: FormPack, form: Form | None, key: str, lang: str, values: dict[str, Any]) -> str:
    """The form's template for key (or the shared one), filled and fitted to GSM-7 where it can."""
    templates = form.replies.get(key) if form else None
    if templates is None:
        templates = pack.messages[key]
    template = templates.get(lang) or templates["en"]
    context = dict(values)
    if form is not None:
        context.setdefault("keyword", form.keyword(lang))
        context.setdefault("usage", form.usage(lang))
        context.setdefault("example", form.example(lang))
    text = template.format_map(_Missing(context))
    return text if lang == "zh" else to_gsm(text)


class _Missing(dict):
    """Leaves an unknown placeholder visible rather than failing the whole reply."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"
