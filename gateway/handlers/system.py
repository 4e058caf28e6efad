"""HELP and LANG: answers about Fieldline itself; they make no report."""
from __future__ import annotations

from ..parsers import Parsed
from . import Context, Refusal, Reply, handler


@handler("help")
def help_handler(ctx: Context, parsed: Parsed) -> Reply:
    pack = ctx.runtime.pack
    role = ctx.sender.role.value
    word = (parsed.values.get("keyword") or "").split()
    if not word:
        return Reply("list", {"keywords": pack.keyword_list(ctx.language, role)})
    found = pack.keywords.get(word[0].upper())
    if found is None:
        raise Refusal("unknown_keyword", value=word[0], keywords=pack.keyword_list(ctx.language, role))
    form = found[0]
    return Reply("form", {"usage": form.usage(ctx.language), "example": form.example(ctx.language)})


@handler("set_language")
def set_language(ctx: Context, parsed: Parsed) -> Reply:
    ctx.sender.language = parsed.values["language"].lower()
    ctx.language = ctx.sender.language
    return Reply("changed")
