"""A USSD session's next screen, whoever serves it: the Africa's Talking view, `fieldline ussd`
on a terminal, the admin simulator.

The menu (gateway/ussd) turns the session's answers into a screen, or into the finished report as
the SMS it stands for; that SMS goes through intake like any other (stored raw, deduplicated on
the session id, parsed, handled, answered), and its reply closes the session."""
from __future__ import annotations

import logging
from functools import partial

from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from ..models import Contact, Household, Person
from ..parsers import ParseContext
from ..people import find_subject
from ..phones import InvalidPhone, mask_phone, normalize_phone
from ..replies import render
from ..runtime import Runtime, current_runtime
from ..ussd import Menu, Subject, Submission, make_sessions
from ..ussd.screens import end_screen
from . import Unavailable, take_message

log = logging.getLogger(__name__)
CHANNEL = "ussd"


def respond(*, session_id: str, phone: str, service_code: str, text: str, channel: str = CHANNEL) -> str:
    """The answer to one USSD request: 'CON <screen>' to go on, 'END <screen>' to finish.

    text is every answer of the session so far, joined by '*' (empty when it begins)."""
    runtime = current_runtime()
    try:
        phone = normalize_phone(phone, runtime.settings.DEFAULT_REGION)
    except InvalidPhone:
        return end_screen(_message(runtime, "unknown_sender"))
    answers = text.split("*") if text else []
    session = runtime.db.session()
    try:
        contact = session.scalar(select(Contact).where(Contact.phone == phone))
        if contact is None or not contact.active:
            log.info("USSD %s from %s: not an active contact", session_id, mask_phone(phone))
            return end_screen(_message(runtime, "unknown_sender" if contact is None else "inactive_sender"))
        lang = contact.language
        base = _sessions().base(session_id, phone, len(answers))
        ctx = ParseContext(today=runtime.clock.today(), region=runtime.settings.DEFAULT_REGION, date_order="DMY")
        menu = Menu(runtime.pack, lang, contact.role.value, ctx, partial(_subject, session))
        result = menu.run(answers[base:])
    except DBAPIError as exc:
        log.error("database unavailable for USSD %s: %s", session_id, type(exc.orig).__name__)
        return end_screen(_message(runtime, "ussd_unavailable"))
    finally:
        session.close()
    if not isinstance(result, Submission):
        log.debug("USSD %s from %s: screen %d of the session", session_id, mask_phone(phone), len(answers))
        return result.response
    try:
        outcome = take_message(channel=channel, provider_id=session_id, sender=phone,
                               receiver=service_code, body=result.body)
    except Unavailable:
        return end_screen(render(runtime.pack, None, "ussd_unavailable", lang, {}))
    log.info("USSD %s from %s: %s report sent as message %s (%s)", session_id, mask_phone(phone),
             result.form, outcome.message_id, outcome.status)
    return end_screen(outcome.reply)


def _subject(session: Session, short_id: str, kind: str | None = None) -> Subject | None:
    found = find_subject(session, short_id, expect=Person if kind == "person" else Household)
    if found is None:
        return None
    if isinstance(found, Household):
        return Subject("household", found.head_name)
    return Subject("person", found.name)


def _message(runtime: Runtime, key: str) -> str:
    return render(runtime.pack, None, key, runtime.settings.DEFAULT_LANGUAGE, {})


def _sessions():
    """The app's session store: Redis when REDIS_URL is set, else this process's memory."""
    store = current_app.extensions.get("fieldline.ussd_sessions")
    if store is None:
        store = current_app.extensions.setdefault(
            "fieldline.ussd_sessions", make_sessions(current_runtime().settings.REDIS_URL))
    return store
