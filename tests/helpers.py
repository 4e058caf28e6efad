"""Sending a message through intake the way a channel does, inside the test's transaction; and
reading back what it left in the database."""
from __future__ import annotations

import itertools

from sqlalchemy import func, select

from gateway import shortid
from gateway.channels import take
from gateway.intake import Outcome
from gateway.models import (
    Alert,
    AlertEvent,
    Birth,
    DueItem,
    Household,
    InboundMessage,
    Person,
    Pregnancy,
    Report,
    ShortId,
)

_ids = itertools.count(1)

# What a refused report must leave as it was: only its raw message is kept.
RECORDS = (Report, Pregnancy, Birth, DueItem, Alert, AlertEvent, Person, Household)


def send(runtime, phone: str, text: str, channel: str = "test") -> Outcome:
    """One message through intake as a channel takes it (in a pipeline on PostgreSQL), committed."""
    return take(runtime, channel=channel, provider_id=f"T{next(_ids)}", sender=phone, receiver="test", body=text)


def accepted(runtime, phone: str, text: str) -> Outcome:
    """Send a report that must be accepted; the reply says why when it is not."""
    outcome = send(runtime, phone, text)
    assert outcome.status == "accepted", (text, outcome.error, outcome.reply)
    return outcome


def count(session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


def record_counts(session) -> dict[str, int]:
    return {model.__name__: count(session, model) for model in RECORDS}


def refused(runtime, session, phone: str, text: str, error: str) -> Outcome:
    """Send a report that must be refused with error: no record is written, the raw message is kept."""
    before = record_counts(session)
    messages = count(session, InboundMessage)
    outcome = send(runtime, phone, text)
    assert (outcome.status, outcome.error) == ("rejected", error), (text, outcome.reply)
    assert record_counts(session) == before, text
    assert count(session, InboundMessage) == messages + 1
    kept = session.get(InboundMessage, outcome.message_id)
    assert kept.body == text and kept.error == error and kept.reply == outcome.reply
    assert outcome.reply
    return outcome


def due_items(session, person_id: int) -> list[DueItem]:
    """A person's due care, fresh from the database, earliest first."""
    session.expire_all()
    return list(session.scalars(
        select(DueItem).where(DueItem.person_id == person_id).order_by(DueItem.due_on, DueItem.id)
    ))


def due_by_item(session, person_id: int) -> dict[str, str]:
    """item -> status of a person's due care (one item of each name at a time)."""
    items = due_items(session, person_id)
    table = {item.item: item.status.value for item in items}
    assert len(table) == len(items), "an item of the same name twice"
    return table


def unregistered_id(session) -> str:
    """A valid short ID that names nothing."""
    taken = set(session.scalars(select(ShortId.value)))
    return next(v for v in (shortid.make(str(p)) for p in range(1000, 10000)) if v not in taken)


def mistyped(short_id: str) -> str:
    """The ID with one digit changed, which its check digit catches."""
    digit = str((int(short_id[1]) + 1) % 10)
    return short_id[0] + digit + short_id[2:]

