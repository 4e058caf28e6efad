"""How long a USSD screen is on the air, and how a list is paged so that every screen fits.

A screen carries at most 182 characters of the GSM 7-bit alphabet (an extension character such
as '€' costs two). A screen with any character outside that alphabet, Chinese above all, goes as
UCS-2 and is counted here in UTF-16 code units against the same 182. The 'CON ' or 'END ' that
starts the answer counts too.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..sms import GSM7_EXTENSION, is_gsm7

SCREEN_LIMIT = 182
ELLIPSIS = "..."


def screen_length(text: str) -> int:
    """Characters text takes on a screen: GSM-7 septets, or UTF-16 code units when it is UCS-2."""
    if is_gsm7(text):
        return len(text) + sum(1 for ch in text if ch in GSM7_EXTENSION)
    return len(text) + sum(1 for ch in text if ch > "\uffff")


def fits(text: str) -> bool:
    return screen_length(text) <= SCREEN_LIMIT


def clip(text: str, room: int) -> str:
    """text cut to room characters, ending in '...' when it had to be cut."""
    if screen_length(text) <= room:
        return text
    room = max(room, len(ELLIPSIS))
    while text and screen_length(text + ELLIPSIS) > room:
        text = text[:-1]
    return text + ELLIPSIS


def end_screen(text: str) -> str:
    """A closing screen ('END ' and text), cut to fit."""
    return "END " + clip(text, SCREEN_LIMIT - 4)


@dataclass(frozen=True)
class Page:
    """One screen of a list: its text (after 'CON '), and where the next page starts (None: the
    list ends on this screen)."""

    text: str
    next_offset: int | None = None


def page(head: list[str], items: list[str], offset: int, tail: list[str], more: str) -> Page:
    """head, as many of items from offset as fit, the `more` line when items are left for the
    next page, then tail. A head too long to leave room for one item is cut."""
    rest = items[offset:]
    if _fits(head + rest + tail):
        return Page("\n".join(head + rest + tail))
    shown: list[str] = []
    for item in rest:
        if not _fits(head + shown + [item] + tail + [more]):
            break
        shown.append(item)
    if not shown and rest:
        shown = [clip(rest[0], SCREEN_LIMIT // 2)]
    after = ([more] if len(shown) < len(rest) else []) + tail
    head = _squeeze(head, shown + after)
    next_offset = offset + len(shown) if len(shown) < len(rest) else None
    return Page("\n".join(head + shown + after), next_offset)


def _fits(lines: list[str]) -> bool:
    return fits("CON " + "\n".join(lines))


def _squeeze(head: list[str], others: list[str]) -> list[str]:
    """head with its longest lines cut until head and others fit one screen together."""
    lines = list(head)
    while lines and not _fits(lines + others):
        longest = max(range(len(lines)), key=lambda i: screen_length(lines[i]))
        excess = screen_length("CON " + "\n".join(lines + others)) - SCREEN_LIMIT
        size = screen_length(lines[longest])
        if size <= len(ELLIPSIS):
            del lines[longest]
            continue
        lines[longest] = clip(lines[longest], max(size - excess, len(ELLIPSIS)))
    return lines
