"""Reminder digests: each volunteer's due care in one SMS a day, at most two segments.

Finding the due care is a few set queries, not one a volunteer: the volunteers with open care due,
which of them have today's digest already (by its dedupe key), then the earliest items of the
rest, ranked in SQL so that only what can fit in two SMS is read: the first FIRST_READ of each,
and up to MAX_ITEMS only for the few whose FIRST_READ all fit. The partial index
ix_due_items_open_due_on_volunteer_id (due_on, volunteer_id, id) over open items answers the
first and the ranking from the index alone (on PostgreSQL it includes each item's schedule, item,
person and household, so the ranking reads no table); the people of the ranked items are then
read by primary key, a batch of volunteers at a time.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time
from itertools import groupby
from operator import itemgetter
from typing import TypeVar

from sqlalchemy import Integer, String, and_, any_, bindparam, cast, func, literal, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from .alerts import care_label
from .formpack import FormPack
from .models import Contact, DueItem, DueStatus, Household, OptOut, OutgoingMessage, Person, PersonStatus
from .replies import render
from .sms import fit

MAX_SEGMENTS = 2
MAX_ITEMS = 30  # more than two segments can hold; the rest are counted, not read
FIRST_READ = 12  # as many as two segments hold with usual names; more are read only when these all fit
BATCH = 500  # volunteers per query and per transaction
T = TypeVar("T")


@dataclass
class Digest:
    """One volunteer's due care: the earliest items and how many there are in all."""

    volunteer_id: int
    phone: str
    language: str
    items: list[tuple[str, str, str, str]] = field(default_factory=list)  # schedule, item, name, short ID
    total: int = 0
    ranked: int = 0  # open items due in all, those left out included; more than read when over the limit


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
        .where(_open(), DueItem.due_on >= _written(oldest), DueItem.due_on <= _written(today),
               DueItem.volunteer_id.is_not(None))
        .order_by(DueItem.volunteer_id)
    ))


def due_care(session: Session, volunteer_ids: list[int], oldest: date, today: date,
             limit: int = MAX_ITEMS) -> list[Digest]:
    """The care to remind these volunteers of: open items due from oldest to today, earliest first,
    at most limit each with the count of all, for active volunteers whose number has not opted
    out; items about people who are not here, not alive or want no reminders are left out."""
    return read_due(session, ranked_due(session, volunteer_ids, oldest, today, limit))


Ranked = tuple[int, int, int, str, str, int | None, int | None]  # see ranked_due


def ranked_due(session: Session, volunteer_ids: list[int], oldest: date, today: date, limit: int) -> list[Ranked]:
    """(item id, volunteer, count of the volunteer's open items, schedule, item, person, household) of
    the first `limit` open items due from oldest to today of each of these volunteers, by volunteer
    and then earliest first; ranked and counted from the index alone.

    For a run of volunteers, most of a range, the range is a comparison in the index scan (others
    in it, whose digest went already, are dropped here) rather than a search of the list for each
    item. Core rows from the connection, as tuples: thousands of them, so no ORM loading."""
    if not volunteer_ids:
        return []
    low, high = min(volunteer_ids), max(volunteer_ids)
    dense = 2 * len(volunteer_ids) >= high - low + 1
    ranked = (
        select(
            DueItem.id, DueItem.volunteer_id,
            func.row_number().over(partition_by=DueItem.volunteer_id,
                                   order_by=(DueItem.due_on, DueItem.id)).label("seq"),
            func.count().over(partition_by=DueItem.volunteer_id).label("total"),
            DueItem.schedule, DueItem.item, DueItem.person_id, DueItem.household_id,
        )
        .where(_open(), DueItem.due_on >= _written(oldest), DueItem.due_on <= _written(today),
               and_(DueItem.volunteer_id >= _written(low), DueItem.volunteer_id <= _written(high)) if dense
               else _among(session, DueItem.volunteer_id, volunteer_ids))
        .subquery()
    )
    wanted = set(volunteer_ids)
    return [tuple(row) for row in session.connection().execute(
        select(ranked.c.id, ranked.c.volunteer_id, ranked.c.total, ranked.c.schedule, ranked.c.item,
               ranked.c.person_id, ranked.c.household_id)
        .where(ranked.c.seq <= _written(limit))
        .order_by(ranked.c.volunteer_id, ranked.c.seq)
    ).all() if row[1] in wanted]


def read_due(session: Session, ranked: list[Ranked]) -> list[Digest]:
    """The digests of ranked items (from ranked_due): each item with its person (or household, for
    care of a household) read by primary key, and its volunteer's number and language.

    Separate plain lookups, joined here, rather than one join the planner may turn into a scan
    of the whole table. The count is of open items: care of people who moved, died or said OFF is
    closed when that is reported, so the few left out here are taken off it."""
    if not ranked:
        return []
    connection = session.connection()
    contacts = {contact_id: (phone, language) for contact_id, phone, language in connection.execute(
        select(Contact.id, Contact.phone, Contact.language)
        .outerjoin(OptOut, OptOut.phone == Contact.phone)
        .where(_among(session, Contact.id, sorted({row[1] for row in ranked})), Contact.active, OptOut.phone.is_(None))
    ).all()}
    ranked = [row for row in ranked if row[1] in contacts]
    here = and_(Person.status == PersonStatus.active, Person.reminders_off.is_(False))
    people = {person_id: (shown, name, short_id) for person_id, shown, name, short_id in connection.execute(
        select(Person.id, here, Person.name, Person.short_id)
        .where(_among(session, Person.id, sorted({row[5] for row in ranked if row[5] is not None})))
    ).all()}
    of_households = sorted({row[6] for row in ranked if row[5] is None and row[6] is not None})
    households = {household_id: (True, name, short_id) for household_id, name, short_id in connection.execute(
        select(Household.id, Household.head_name, Household.short_id)
        .where(_among(session, Household.id, of_households))
    ).all()} if of_households else {}
    digests: dict[int, Digest] = {}
    for _, volunteer_id, total, schedule, care, person_id, household_id in ranked:
        digest = digests.get(volunteer_id)
        if digest is None:
            digest = digests[volunteer_id] = Digest(volunteer_id, *contacts[volunteer_id], total=total, ranked=total)
        shown, name, short_id = (people.get(person_id) if person_id is not None
                                 else households.get(household_id)) or (False, None, None)
        if shown:
            digest.items.append((schedule, care, name, short_id))
        else:
            digest.total -= 1
    return [d for d in digests.values() if d.items]


def _written(value):
    """A value written into the SQL rather than sent as a parameter. The driver prepares a statement
    it has run five times (psycopg does), and PostgreSQL may then plan it once for any parameters:
    for a day's range of due dates, unknown, that plan guesses a few rows and combines two other
    indexes, one over every item, many times slower than the plan made for the actual dates."""
    return literal(value, literal_execute=True)


def _open():
    """DueItem.status = 'open', written into the SQL (see _written): only then can a plan made
    for any parameters use the partial index over open items."""
    return DueItem.status == _written(DueStatus.open.value)


def _among(session: Session, column, values: list[int]):
    """column IN values; on PostgreSQL one array parameter (= ANY) rather than one a value, which
    thousands of ids make slow to send, parse and plan."""
    if session.get_bind().dialect.name == "postgresql":  # as '{1,2,3}': quicker for the driver than a list
        return column == any_(cast(bindparam(None, "{" + ",".join(map(str, values)) + "}", type_=String),
                                   ARRAY(Integer)))
    return column.in_(values)


def compose(pack: FormPack, digest: Digest) -> str:
    """'Due: ANC 26w Amina Juma 51023; PNC day 3 Li Na 62014; +3 more', in at most two SMS."""
    return _fitted(pack, digest)[0]


def _fitted(pack: FormPack, digest: Digest) -> tuple[str, int]:
    """The digest's text and how many of its items it shows: as many as fit, earliest first."""
    lang = digest.language

    def more(count: int) -> str:
        return render(pack, None, "digest_more", lang, {"count": count})

    best, shown = render(pack, None, "digest", lang, {"items": more(digest.total)}), 0
    parts: list[str] = []
    for schedule, item, name, sid in digest.items:  # worded one by one, up to the first that does not fit
        parts.append(render(pack, None, "digest_item", lang,
                            {"care": care_label(pack, schedule, item, lang), "name": name, "id": sid}))
        tail = [more(digest.total - len(parts))] if len(parts) < digest.total else []
        text = render(pack, None, "digest", lang, {"items": "; ".join(parts + tail)})
        if not fit(text, MAX_SEGMENTS):
            break
        best, shown = text, len(parts)
    return best, shown


def composed(session: Session, pack: FormPack, volunteer_ids: list[int], oldest: date, today: date,
             size: int = BATCH) -> Iterator[list[tuple[Digest, str]]]:
    """The digests of these volunteers (those with care to remind them of) and their texts, a
    batch of `size` volunteers at a time; the caller may commit between batches.

    The first FIRST_READ items of each are ranked at once, then read a batch at a time; a
    volunteer whose FIRST_READ items all fit in two SMS and who has more has them read again, up
    to MAX_ITEMS. The items shown are the same as from reading MAX_ITEMS for everyone: a text
    stops at the first item that does not fit, and what comes before it depends only on the
    items up to it and on the count. The count ('+3 more') is of open items less those found left
    out among the items read, so it may count one left out further down, as it always could
    beyond MAX_ITEMS: such care is closed when the move, death or OFF is reported."""
    ranked = ranked_due(session, volunteer_ids, oldest, today, FIRST_READ)
    each = [list(rows) for _, rows in groupby(ranked, key=itemgetter(1))]  # the ranked items of each volunteer
    for batch in batches(each, size):
        found: list[tuple[Digest, str]] = []
        again: dict[int, int] = {}  # volunteer -> place in found
        for digest in read_due(session, [row for rows in batch for row in rows]):
            text, shown = _fitted(pack, digest)
            if shown == len(digest.items) and digest.ranked > FIRST_READ:
                again[digest.volunteer_id] = len(found)
            found.append((digest, text))
        if again:
            for digest in due_care(session, list(again), oldest, today, limit=MAX_ITEMS):
                found[again[digest.volunteer_id]] = (digest, compose(pack, digest))
        yield found


def batches(values: list[T], size: int = BATCH) -> Iterator[list[T]]:
    for start in range(0, len(values), size):
        yield values[start:start + size]
