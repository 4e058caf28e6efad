"""Households, people, their short IDs and who may report on them."""
from __future__ import annotations

import secrets
import weakref
from datetime import date

from sqlalchemy import Exists, bindparam, func, select, update
from sqlalchemy.orm import Session, aliased
from sqlalchemy.orm.attributes import set_committed_value

from . import shortid, sql
from .db import take_key
from .models import Area, AreaKind, Contact, ContactArea, Household, IdKind, Person, Role, ShortId

FIRST_LENGTH = 5
FILL_LIMIT = 0.5  # move to longer IDs once half the space of a length is used


RECOUNT_EVERY = 200  # IDs given out between two counts of those used at a length
_USED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # per engine: length -> [counted, given since]


def new_short_id(session: Session, kind: IdKind) -> str:
    """A fresh ID with a Damm check digit, 5 digits to start, longer as the space fills."""
    length = _id_length(session)
    for _ in range(50):
        payload = str(secrets.randbelow(9 * 10 ** (length - 2)) + 10 ** (length - 2))
        value = shortid.make(payload)
        if take_key(session, ShortId.__table__, {"value": value, "kind": kind}, ["value"]) is not None:
            return value
        # taken, by us earlier or by a concurrent registration: another
    raise RuntimeError(f"no free short ID of length {length} after 50 tries")


def _id_length(session: Session) -> int:
    """The shortest length whose space is less than half used.

    Counting a length's IDs reads all of them (a million people: a million rows), so it is done
    once, then again after RECOUNT_EVERY IDs given out by this process; in between the count is
    the last one plus what this process gave out since. Other processes' IDs are missed until
    then, which only delays the move to a longer length a little: the space is far from full."""
    known = _USED.setdefault(session.get_bind().engine, {})
    length = FIRST_LENGTH
    while True:
        entry = known.get(length)
        if entry is None or entry[1] >= RECOUNT_EVERY:
            counted = session.scalar(
                select(func.count()).select_from(ShortId).where(func.length(ShortId.value) == length))
            entry = known[length] = [counted, 0]
        if entry[0] + entry[1] < shortid.capacity(length) * FILL_LIMIT:
            entry[1] += 1
            return length
        length += 1


def find_subject(session: Session, short_id: str, expect: type[Household] | type[Person] = Household,
                 reporter: Contact | None = None) -> Household | Person | None:
    """The household or person an ID names. The kind the form expects is looked for first, so the
    usual case is one query (a person comes with their household, for the area check). With a
    reporter, the same query says whether they may report on the subject's village, which
    may_report_on then answers without a query of its own."""
    params = {"short_id": short_id, "reporter_id": reporter.id if reporter is not None else None}

    def household() -> Household | None:
        row = sql.take_ahead(session, (Household, short_id, params["reporter_id"]))
        if row is sql.NOT_AHEAD:
            row = _HOUSEHOLD_BY_ID.first(session, params)
        if row is None:
            return None
        found = sql.load(session, Household, _HOUSEHOLD_NAMES, row[:-1])
        _known_covers(session)[params["reporter_id"], found.village_id] = row[-1]
        return found

    def person() -> Person | None:
        row = sql.take_ahead(session, (Person, short_id, params["reporter_id"]))
        if row is sql.NOT_AHEAD:
            row = _PERSON_BY_ID.first(session, params)
        if row is None:
            return None
        found = sql.load(session, Person, _PERSON_NAMES, row[:len(_PERSON_NAMES)])
        home = sql.load(session, Household, _HOUSEHOLD_NAMES, row[len(_PERSON_NAMES):-1])
        set_committed_value(found, "household", home)
        _known_covers(session)[params["reporter_id"], home.village_id] = row[-1]
        return found

    first, second = (household, person) if expect is Household else (person, household)
    return first() or second()


def read_ahead(short_id: str, expect: type[Household] | type[Person]) -> tuple[sql.Prepared, dict]:
    """The statement find_subject(short_id, expect) runs first, and its parameters, for a reporter
    named by the parameter sender (a phone number), to be sent ahead of it with the read that
    finds the sender (sql.first_rows); keep its row with keep_read_ahead."""
    return (_HOUSEHOLD_AHEAD if expect is Household else _PERSON_AHEAD), {"short_id": short_id}


def keep_read_ahead(session: Session, short_id: str, expect: type[Household] | type[Person],
                    reporter: Contact, row: tuple | None) -> None:
    """Keep what read_ahead's statement found, for the sender found with it: find_subject takes
    it instead of running that statement, if asked before anything is written."""
    sql.keep_ahead(session, (expect, short_id, reporter.id), row)


def _covers(village_id, reporter=None) -> Exists:
    """Whether the contact reporter (by default the parameter reporter_id) works in the village:
    one of their areas is the village, its township or its district (areas are those three levels deep)."""
    reporter = bindparam("reporter_id") if reporter is None else reporter
    village, township = aliased(Area), aliased(Area)
    return (select(ContactArea.area_id)
            .select_from(village)
            .outerjoin(township, township.id == village.parent_id)
            .join(ContactArea, ContactArea.area_id.in_([village.id, village.parent_id, township.parent_id]))
            .where(village.id == village_id, ContactArea.contact_id == reporter)
            .exists())


def _known_covers(session: Session) -> dict:
    """(reporter id, village id) -> may report, as read with subjects in this transaction."""
    transaction = session.get_transaction()
    held = session.info.get(_COVERS_KEY)
    if held is None or held[0] is not transaction:
        held = session.info[_COVERS_KEY] = (transaction, {})
    return held[1]


_COVERS_KEY = "fieldline_covers"
# a subject is looked up on nearly every message: these run without the ORM's query machinery
_HOUSEHOLD_COLUMNS = sql.columns_of(Household)
_HOUSEHOLD_NAMES = tuple(c.name for c in _HOUSEHOLD_COLUMNS)
_PERSON_COLUMNS = sql.columns_of(Person)
_PERSON_NAMES = tuple(c.name for c in _PERSON_COLUMNS)
_HOUSEHOLD_BY_ID = sql.Prepared(
    select(*_HOUSEHOLD_COLUMNS, _covers(Household.village_id))
    .where(Household.short_id == bindparam("short_id")))
_PERSON_BY_ID = sql.Prepared(
    select(*_PERSON_COLUMNS, *_HOUSEHOLD_COLUMNS, _covers(Household.village_id))
    .join_from(Person, Household, Person.household_id == Household.id)
    .where(Person.short_id == bindparam("short_id")))
# the same, for the contact whose phone is the parameter sender (see read_ahead)
_SENDER_ID = select(Contact.id).where(Contact.phone == bindparam("sender")).scalar_subquery()
_HOUSEHOLD_AHEAD = sql.Prepared(
    select(*_HOUSEHOLD_COLUMNS, _covers(Household.village_id, _SENDER_ID))
    .where(Household.short_id == bindparam("short_id")))
_PERSON_AHEAD = sql.Prepared(
    select(*_PERSON_COLUMNS, *_HOUSEHOLD_COLUMNS, _covers(Household.village_id, _SENDER_ID))
    .join_from(Person, Household, Person.household_id == Household.id)
    .where(Person.short_id == bindparam("short_id")))


def covered_village_ids(session: Session, contact: Contact) -> set[int]:
    """The villages a contact works in: their own villages, or every village under their areas."""
    frontier = {link.area_id for link in contact.area_links}
    villages: set[int] = set()
    while frontier:
        rows = session.execute(select(Area.id, Area.kind, Area.parent_id).where(
            (Area.id.in_(frontier)) | (Area.parent_id.in_(frontier))
        )).all()
        villages |= {r.id for r in rows if r.kind is AreaKind.village}
        frontier = {r.id for r in rows if r.parent_id in frontier and r.kind is not AreaKind.village}
    return villages


def may_report_on(session: Session, contact: Contact, village_id: int) -> bool:
    """Volunteers report on their own villages; staff and admins on any."""
    if contact.role is not Role.volunteer:
        return True
    known = _known_covers(session).get((contact.id, village_id))
    if known is not None:
        return bool(known)
    return bool(_COVERS.scalar(session, {"reporter_id": contact.id, "village_id": village_id}))


_COVERS = sql.Prepared(select(_covers(bindparam("village_id"))))


def home_village(session: Session, contact: Contact) -> Area | None:
    """The first village a contact is assigned to, where their new households go."""
    return sql.load(session, Area, _AREA_NAMES, _HOME_VILLAGE.first(session, {"contact_id": contact.id}))


_AREA_NAMES = ("id", "name", "kind", "parent_id")
_HOME_VILLAGE = sql.Prepared(
    select(*sql.columns_of(Area, *_AREA_NAMES))
    .join(ContactArea, Area.id == ContactArea.area_id)
    .where(ContactArea.contact_id == bindparam("contact_id"), Area.kind == AreaKind.village)
    .order_by(ContactArea.position)
    .limit(1))


def register_household(session: Session, village: Area, head_name: str, by: Contact) -> Household:
    return sql.add(session, Household, {
        "short_id": new_short_id(session, IdKind.household),
        "village_id": village.id,
        "head_name": head_name,
        "registered_by_id": by.id,
    }, later=True)


def register_person(
    session: Session, household: Household, name: str, sex: str, birth_date: date,
    estimated: bool, by: Contact,
) -> Person:
    return sql.add(session, Person, {
        "short_id": new_short_id(session, IdKind.person),
        "household_id": household.id,
        "name": name,
        "sex": sex,
        "birth_date": birth_date,
        "birth_date_estimated": estimated,
        "registered_by_id": by.id,
    }, later=True)


def mark_visited(session: Session, household: Household, day: date) -> None:
    """A visit on day: the household's last visit, unless a later one is known."""
    if household.last_visit_on is not None and household.last_visit_on >= day:
        return
    _VISITED.later(session, {"id": household.id, "day": day})
    set_committed_value(household, "last_visit_on", day)


_VISITED = sql.Prepared(update(Household).where(Household.id == bindparam("id"))
                        .values(last_visit_on=bindparam("day", type_=Household.last_visit_on.type)))
