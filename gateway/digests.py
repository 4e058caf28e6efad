"""Reminder digests: each volunteer's due care in one SMS a day, at most two segments.

Finding the due care is a few set queries, not one a volunteer: the volunteers with open care due,
which of them have today's digest already (by its dedupe key), then the earliest items of the
rest, ranked in SQL so that only what can fit in two SMS is read: the first FIRST_READ of each,
and up to MAX_ITEMS only for the few whose FIRST_READ all fit. The partial index
ix_due_items_open_due_on_volunteer_id (due_on, volunteer_id, id) over open items answers the
first and the ranking from the index alone; the ranked items are then read by primary key, with
their people, a batch of volunteers at a time.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time
from itertools import groupby
from operator import itemgetter
from typing import TypeVar

from sqlalchemy import Integer, String, and_, any_, bindparam, cast, func, literal, select
from sqlalchemy.dialects.postgresql import ARRAY, aggregate_order_by
from sqlalchemy.orm import Session

from .alerts import care_label
from .formpack import FormPack
from .models import Contact, DueItem, DueStatus, Household, OptOut, OutgoingMessage, Person, PersonStatus
from .replies import render
from .sms import fit

MAX_SEGMENTS = 2
MAX_ITEMS = 30  # more than two segments can hold; the rest are counted, not read
FIRST_READ = 12  # as many as two segments hold with usual names; more are read only when these all fit
ROUNDS = (6, 9, FIRST_READ)  # items of each volunteer read by each round, while those so far all fit
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
    entries: list[str] = field(default_factory=list, repr=False, compare=False)  # items[:n] as worded


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
        .where(_open(), DueItem.due_on >= oldest, DueItem.due_on <= today,
               DueItem.volunteer_id.is_not(None))
        .order_by(DueItem.volunteer_id)
    ))


def due_care(session: Session, volunteer_ids: list[int], oldest: date, today: date,
             limit: int = MAX_ITEMS) -> list[Digest]:
    """The care to remind these volunteers of: open items due from oldest to today, earliest first,
    at most limit each with the count of all, for active volunteers whose number has not opted
    out; items about people who are not here, not alive or want no reminders are left out."""
    return read_due(session, ranked_due(session, volunteer_ids, oldest, today, limit))


def ranked_due(session: Session, volunteer_ids: list[int], oldest: date, today: date,
               limit: int) -> list[tuple[int, int, int]]:
    """(item, volunteer, count of the volunteer's open items) of the first `limit` open items due
    from oldest to today of each of these volunteers, by volunteer and then earliest first.

    Ranked and counted from the index alone: on PostgreSQL by array_agg(id ORDER BY due_on, id)
    a volunteer, elsewhere by row_number(). For a run of volunteers, most of a range, the range is
    a comparison in the index scan (others in it, whose digest went already, are dropped here)
    rather than a search of the list for each item."""
    if not volunteer_ids:
        return []
    low, high = min(volunteer_ids), max(volunteer_ids)
    dense = 2 * len(volunteer_ids) >= high - low + 1
    due = [_open(), DueItem.due_on >= oldest, DueItem.due_on <= today,
           and_(DueItem.volunteer_id >= low, DueItem.volunteer_id <= high) if dense
           else _among(session, DueItem.volunteer_id, volunteer_ids)]
    wanted = set(volunteer_ids)
    # Core rows from the connection, as tuples: thousands of them, so no ORM loading.
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        # one row a volunteer, the first ids in order in an array: quicker than ranking every item
        first = func.array_agg(aggregate_order_by(DueItem.id, DueItem.due_on, DueItem.id))[1:limit]
        return [(item_id, volunteer_id, total) for volunteer_id, ids, total in connection.execute(
            select(DueItem.volunteer_id, first, func.count()).where(*due)
            .group_by(DueItem.volunteer_id).order_by(DueItem.volunteer_id)
        ).all() if volunteer_id in wanted for item_id in ids]
    ranked = (
        select(
            DueItem.id, DueItem.volunteer_id,
            func.row_number().over(partition_by=DueItem.volunteer_id,
                                   order_by=(DueItem.due_on, DueItem.id)).label("seq"),
            func.count().over(partition_by=DueItem.volunteer_id).label("total"),
        )
        .where(*due)
        .subquery()
    )
    return [(item_id, volunteer_id, total) for item_id, volunteer_id, total in connection.execute(
        select(ranked.c.id, ranked.c.volunteer_id, ranked.c.total)
        .where(ranked.c.seq <= limit)
        .order_by(ranked.c.volunteer_id, ranked.c.seq)
    ).all() if volunteer_id in wanted]


def read_due(session: Session, ranked: list[tuple[int, int, int]],
             into: dict[int, Digest] | None = None) -> list[Digest]:
    """The digests of ranked items (from ranked_due): each item read by primary key with its
    person (or household, for care of a household), and its volunteer's number and language.
    With into (volunteer -> digest), the items are added to the digests there, made if need be.

    Separate plain lookups, joined here, rather than one join the planner may turn into a scan
    of the whole table. The count is of open items: care of people who moved, died or said OFF is
    closed when that is reported, so the few left out here are taken off it."""
    if not ranked:
        return []
    connection = session.connection()
    contacts = {contact_id: (phone, language) for contact_id, phone, language in connection.execute(
        select(Contact.id, Contact.phone, Contact.language)
        .outerjoin(OptOut, OptOut.phone == Contact.phone)
        .where(_among(session, Contact.id, sorted({v for _, v, _ in ranked})), Contact.active, OptOut.phone.is_(None))
    ).all()}
    items = {item_id: rest for item_id, *rest in connection.execute(
        select(DueItem.id, DueItem.schedule, DueItem.item, DueItem.person_id, DueItem.household_id)
        .where(_among(session, DueItem.id, sorted(item_id for item_id, v, _ in ranked if v in contacts)))
    ).all()}
    here = and_(Person.status == PersonStatus.active, Person.reminders_off.is_(False))
    people = {person_id: (shown, name, short_id) for person_id, shown, name, short_id in connection.execute(
        select(Person.id, here, Person.name, Person.short_id)
        .where(_among(session, Person.id, sorted({person_id for _, _, person_id, _ in items.values() if person_id})))
    ).all()}
    of_households = sorted({household_id for _, _, person_id, household_id in items.values()
                            if person_id is None and household_id is not None})
    households = {household_id: (True, name, short_id) for household_id, name, short_id in connection.execute(
        select(Household.id, Household.head_name, Household.short_id)
        .where(_among(session, Household.id, of_households))
    ).all()} if of_households else {}
    digests: dict[int, Digest] = {} if into is None else into
    for item_id, volunteer_id, total in ranked:
        contact = contacts.get(volunteer_id)
        if contact is None:
            continue
        digest = digests.get(volunteer_id)
        if digest is None:
            digest = digests[volunteer_id] = Digest(volunteer_id, *contact, total=total, ranked=total)
        item = items.get(item_id)
        if item is None:  # gone since it was ranked
            digest.total -= 1
            continue
        schedule, care, person_id, household_id = item
        shown, name, short_id = (people.get(person_id) if person_id is not None
                                 else households.get(household_id)) or (False, None, None)
        if shown:
            digest.items.append((schedule, care, name, short_id))
        else:
            digest.total -= 1
    return [d for d in digests.values() if d.items]


def _open():
    """DueItem.status = 'open', the value written into the SQL: a statement the driver prepares
    (psycopg does after five runs) may then get a generic plan, and only a literal lets that plan
    use the partial index over open items."""
    return DueItem.status == literal(DueStatus.open.value, literal_execute=True)


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
    entries = digest.entries  # worded once, though a digest read in rounds is composed again
    parts: list[str] = []
    for n, (schedule, item, name, sid) in enumerate(digest.items):
        if n == len(entries):
            entries.append(render(pack, None, "digest_item", lang,
                                  {"care": care_label(pack, schedule, item, lang), "name": name, "id": sid}))
        parts.append(entries[n])
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

    The first FIRST_READ items of each are ranked at once. A batch's items are then read in
    ROUNDS: the first few of each volunteer, then more only for those whose items so far all fit
    in two SMS; and a volunteer whose FIRST_READ all fit and who has more has them read again, up
    to MAX_ITEMS. The items shown are the same as from reading MAX_ITEMS for everyone: a text
    stops at the first item that does not fit, and what comes before it depends only on the
    items up to it and on the count. The count ('+3 more') is of open items less those found left
    out among the items read, so it may count one left out further down, as it always could
    beyond MAX_ITEMS: such care is closed when the move, death or OFF is reported."""
    ranked = ranked_due(session, volunteer_ids, oldest, today, FIRST_READ)
    each = [list(rows) for _, rows in groupby(ranked, key=itemgetter(1))]  # the ranked items of each volunteer
    for batch in batches(each, size):
        digests: dict[int, Digest] = {}
        texts: dict[int, str] = {}
        fitting: set[int] = set()  # volunteers whose items read so far all fit
        reading, done = batch, 0
        for upto in ROUNDS:
            read_due(session, [row for rows in reading for row in rows[done:upto]], into=digests)
            more = []
            for rows in reading:
                digest = digests.get(rows[0][1])
                if digest is None:
                    continue  # the volunteer is not active, or the number opted out
                texts[digest.volunteer_id], shown = _fitted(pack, digest)
                if shown < len(digest.items):
                    fitting.discard(digest.volunteer_id)
                    continue
                fitting.add(digest.volunteer_id)
                if len(rows) > upto:
                    more.append(rows)
            reading, done = more, upto
        again = sorted(v for v in fitting if digests[v].ranked > FIRST_READ)
        if again:
            for digest in due_care(session, again, oldest, today, limit=MAX_ITEMS):
                digests[digest.volunteer_id], texts[digest.volunteer_id] = digest, compose(pack, digest)
        yield [(digest, texts[v]) for v, digest in digests.items() if digest.items]


def batches(values: list[T], size: int = BATCH) -> Iterator[list[T]]:
    for start in range(0, len(values), size):
        yield values[start:start + size]
