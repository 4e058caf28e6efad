"""STOP and START: a number that opted out gets nothing from Fieldline until it opts in again."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete
from sqlalchemy.orm import Session

from .db import take_key
from .models import OptOut
from .parsers.normalize import normalize

# The words Twilio itself treats as opting out and in (its default Advanced Opt-Out keywords).
STOP_WORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"})
START_WORDS = frozenset({"START", "UNSTOP", "YES"})


def opt_out_change(body: str, opt_out_type: str | None = None) -> str | None:
    """'STOP' or 'START' when a message opts its sender out or in, else None.

    The provider's word (Twilio's OptOutType) decides when given; otherwise the whole message
    must be one of the keywords, as Twilio matches them."""
    kind = (opt_out_type or "").strip().upper()
    if kind in {"STOP", "START"}:
        return kind
    word = normalize(body or "").upper()
    if word in STOP_WORDS:
        return "STOP"
    if word in START_WORDS:
        return "START"
    return None


def is_opted_out(session: Session, phone: str) -> bool:
    return session.get(OptOut, phone) is not None


def opt_out(session: Session, phone: str, *, source: str, at: datetime) -> None:
    """Record that phone wants nothing more; a second STOP keeps the first one's time."""
    # one statement; a phone opted out already, or by another request at the same moment, is kept
    take_key(session, OptOut.__table__, {"phone": phone, "source": source, "opted_out_at": at}, ["phone"])


def opt_in(session: Session, phone: str) -> bool:
    """Let phone receive messages again; True if it had opted out."""
    result = session.execute(delete(OptOut).where(OptOut.phone == phone))
    return bool(result.rowcount)

