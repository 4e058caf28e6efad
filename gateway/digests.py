"""Reminder digests: each volunteer's due care in one SMS a day, at most two segments.

Finding the due care is three set queries, not one a volunteer: the volunteers with open care due,
which of them have today's digest already (by its dedupe key), then the earliest items of the
rest, a batch of volunteers at a time, ranked in SQL so that only what can fit in two SMS is read.
The partial index ix_due_items_open_due_on_volunteer_id (due_on, volunteer_id, id) over open
items answers the first and the ranking from the index alone.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from .alerts import care_label
from .formpack import FormPack
from .models import Contact, DueItem, DueStatus, Household, OptOut, OutgoingMessage, Person, PersonStatus
from .replies import render
from .sms import fit

MAX_SEGMENTS = 2
MAX_ITEMS = 30  # more than two segments can hold; the rest are counted, not read
BATCH = 500  # volunteers per query and per transaction


@dataclass
class Digest:
    """One volunteer's due care: the earliest items and how many there are in all."""

    volunteer_id: int
    phone: str
    language: str
    items: list[tuple[str, str, str, str]] = field(default_factory=list)  # schedule, item, name, short ID
    total: int = 0


def in_window(local: datetime, window: tuple[time, time]) -> bool:
    """True inside SEND_WINDOW: from its start, up to but not including its end."""
    start, end = window
    return start <= local.time().replace(tzinfo=None) < end


def digest_key(volunteer_id: int, day: date) -> str:
    return f"digest:{volunteer_id}:{day.isoformat()}"


def existing_keys(session: Session, keys: Iterable[str]) -> set[str]:
    """Which of these dedupe keys an outgoing message holds already."""
    keys = list(keys)
    found: set[str] = set()
    for start in range(0, len(keys), 1000):
        found.update(session.scalars(
            select(OutgoingMessage.dedupe_key).where(OutgoingMessage.dedupe_key.in_(keys[start:start + 1000]))
        ))
    return found


def volunteers_due(session: Session, oldest: date, today: date) -> list[int]:
    """Volunteers with open care due from oldest to today (some may turn out to have none to send)."""
    return list(session.scalars(
        select(DueItem.volunteer_id).distinct()
        .where(DueItem.status == DueStatus.open, DueItem.due_on >= oldest, DueItem.due_on <= today,
               DueItem.volunteer_id.is_not(None))
        .order_by(DueItem.volunteer_id)
    ))


def due_care(session: Session, volunteer_ids: list[int], oldest: date, today: date) -> list[Digest]:
    """The care to remind these volunteers of: open items due from oldest to today, earliest first,
    at most MAX_ITEMS each with the count of all, for active volunteers whose number has not opted
    out; items about people who are not here, not alive or want no reminders are left out.

    Items are ranked and counted from the index alone; only the first MAX_ITEMS of each volunteer
    are joined to their people. The count is of open items: care of people who moved, died or said
    OFF is closed when that is reported, so the few left out here are taken off it."""
    ranked = (
        select(
            DueItem.id, DueItem.volunteer_id,
            func.row_number().over(partition_by=DueItem.volunteer_id,
                                   order_by=(DueItem.due_on, DueItem.id)).label("seq"),
            func.count().over(partition_by=DueItem.volunteer_id).label("total"),
        )
        .where(DueItem.status == DueStatus.open, DueItem.due_on >= oldest, DueItem.due_on <= today,
               DueItem.volunteer_id.in_(volunteer_ids))
        .subquery()
    )
    first = select(ranked).where(ranked.c.seq <= MAX_ITEMS).subquery()
    here = and_(Person.status == PersonStatus.active, Person.reminders_off.is_(False))
    rows = session.execute(
        select(
            first.c.volunteer_id, first.c.total, Contact.phone, Contact.language, DueItem.schedule, DueItem.item,
            func.coalesce(Person.name, Household.head_name).label("name"),
            func.coalesce(Person.short_id, Household.short_id).label("short_id"),
            or_(and_(Person.id.is_not(None), here), and_(Person.id.is_(None), Household.id.is_not(None))).label("shown"),
        )
        .join(DueItem, DueItem.id == first.c.id)
        .join(Contact, Contact.id == first.c.volunteer_id)
        .outerjoin(Person, Person.id == DueItem.person_id)
        .outerjoin(Household, and_(DueItem.person_id.is_(None), Household.id == DueItem.household_id))
        .outerjoin(OptOut, OptOut.phone == Contact.phone)
        .where(Contact.active, OptOut.phone.is_(None))
        .order_by(first.c.volunteer_id, first.c.seq)
    ).all()
    digests: dict[int, Digest] = {}
    for row in rows:
        digest = digests.get(row.volunteer_id)
        if digest is None:
            digest = digests[row.volunteer_id] = Digest(row.volunteer_id, row.phone, row.language, total=row.total)
        if row.shown:
            digest.items.append((row.schedule, row.item, row.name, row.short_id))
        else:
            digest.total -= 1
    return [d for d in digests.values() if d.items]


def compose(pack: FormPack, digest: Digest) -> str:
    """'Due: ANC 26w Amina Juma 51023; PNC day 3 Li Na 62014; +3 more', in at most two SMS."""
    lang = digest.language
    entries = [
        render(pack, None, "digest_item", lang, {"care": care_label(pack, schedule, item, lang), "name": name, "id": sid})
        for schedule, item, name, sid in digest.items
    ]
    best = render(pack, None, "digest", lang, {"items": render(pack, None, "digest_more", lang, {"count": digest.total})})
    for shown in range(1, len(entries) + 1):
        parts = entries[:shown]
        if shown < digest.total:
            parts.append(render(pack, None, "digest_more", lang, {"count": digest.total - shown}))
        text = render(pack, None, "digest", lang, {"items": "; ".join(parts)})
        if not fit(text, MAX_SEGMENTS):
            break
        best = text
    return best


def batches(values: list[int], size: int = BATCH) -> Iterator[list[int]]:
    for start in range(0, len(values), size):
        yield values[start:start + size]
