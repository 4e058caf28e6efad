"""Turning a reply key and values into one SMS in the sender's language."""
from __future__ import annotations

from typing import Any

from .formpack import Form, FormPack
from .parsers import ParseError
from .sms import fit, force_gsm, is_gsm7, to_gsm

ECHO_LIMIT = 16  # UTF-16 units of a volunteer's own text quoted back in an error
QUOTED = ("value", "word")  # the values of a refusal that hold the volunteer's own text


def echo(value: Any) -> str:
    """A volunteer's text as a reply quotes it: at most ECHO_LIMIT UTF-16 units, as UCS-2 counts
    them (an emoji is two), so a quote never takes more room than the templates are tested with."""
    text = "" if value is None else str(value)
    if _units(text) <= ECHO_LIMIT:
        return text
    kept, used = [], 0
    for ch in text:
        used += _units(ch)
        if used > ECHO_LIMIT - 3:
            break
        kept.append(ch)
    return "".join(kept) + "..."


def _units(text: str) -> int:
    return len(text) + sum(ch > "\uffff" for ch in text)


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


def render_refusal(pack: FormPack, form: Form | None, key: str, lang: str, values: dict[str, Any]) -> str:
    """render() for a reply that quotes the volunteer's text back (values 'value' and 'word').

    A quote with characters GSM-7 lacks (Chinese, emoji) turns a Latin-script reply into UCS-2,
    whose 70 units its advice does not fit; then those characters are quoted as '?', so the
    reply stays one SMS."""
    text = render(pack, form, key, lang, values)
    if lang == "zh" or fit(text):
        return text
    plain = {k: force_gsm(str(v)) if k in QUOTED and v is not None else v for k, v in values.items()}
    return render(pack, form, key, lang, plain)


def parse_refusal(pack: FormPack, error: ParseError, lang: str, role: str | None = None) -> str:
    """The reply to a message that did not parse, in lang: what is wrong, and the form to send.
    role picks the keywords an unknown keyword is answered with (None: every listed one)."""
    values: dict[str, Any] = dict(error.args_)
    values["value"] = echo(error.value)
    form = pack.forms.get(error.form) if error.form else None
    if error.code == "unknown_keyword":
        values["word"] = echo(error.value)
        values["keywords"] = pack.keyword_list(lang, role)
        if form is None:
            return render_refusal(pack, None, "unknown_keyword", lang, values)
        suggestion = values.get("suggestion") or form.keyword(lang)
        if lang != "zh" and not is_gsm7(suggestion):
            suggestion = form.keyword(lang)  # a Latin-script reply suggests a keyword it can spell
        values["suggestion"] = suggestion
        values["usage"] = form.usage(lang)
        return render_refusal(pack, None, "did_you_mean", lang, values)
    if form is not None and error.field:
        field = next((f for f in form.fields if f.name == error.field), None)
        values["field"] = field.label(lang) if field else error.field
    return render_refusal(pack, form, error.reason, lang, values)


class _Missing(dict):
    """Leaves an unknown placeholder visible rather than failing the whole reply."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"
