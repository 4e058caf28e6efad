"""USSD: numbered menus made from the form pack (menu.py), fitted to 182-character screens
(screens.py), with the little a session keeps beyond its text in Redis (sessions.py). The channel
that serves them is gateway/channels/ussd.py."""
from __future__ import annotations

from .menu import Menu, Screen, Subject, Submission, keypad_form, menu_forms
from .screens import SCREEN_LIMIT, screen_length
from .sessions import TTL_SECONDS, make_sessions

__all__ = [
    "Menu", "SCREEN_LIMIT", "Screen", "Subject", "Submission", "TTL_SECONDS", "keypad_form",
    "make_sessions", "menu_forms", "screen_length",
]
