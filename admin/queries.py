"""The admin view's reads: each list pages in the database and loads what its rows show in a fixed
number of queries, never one a row. Lists of records take the signed-in person's Scope."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Iterator

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session, aliased, selectinload

from gateway.models import (
    Alert,
    AlertEvent,
    AlertStatus,
    Area,
    AreaKind,
    AuditEntry,
    Contact,
    ContactArea,
    Household,
    InboundMessage,
    OutgoingMessage,
    Person,
    Report,
    ReportStatus,
    Role,
)

from .scope import Scope

PER_PAGE = 50


@dataclass
class Page:
    """One page of a list: rows, and whether there are pages on either side."""

    rows: list[Any]
    page: int = 1
    has_next: bool = False
    total: int | None = None
    next_before: int | None = None  # keyset lists: the id the next (older) page starts below

    @property
    def has_previous(self) -> bool:
        return self.page > 1


def offset_page(session: Session, stmt: Select, page: int, *, total: bool = False, scalars: bool = False) -> Page:
    page = max(page, 1)
    result = session.execute(stmt.offset((page - 1) * PER_PAGE).limit(PER_PAGE + 1))
    rows = list(result.scalars() if scalars else result.all())
    count = None
    if total:
        count = session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))
    return Page(rows[:PER_PAGE], page, len(rows) > PER_PAGE, count)


def keyset_page(session: Session, stmt: Select, id_column, before: int | None) -> Page:
    """Newest first, PER_PAGE at a time, each page the rows with ids below the last one shown:
    as fast on the millionth message as on the first."""
    if before:
        stmt = stmt.where(id_column < before)
    rows = session.execute(stmt.order_by(id_column.desc()).limit(PER_PAGE + 1)).all()
    shown = rows[:PER_PAGE]
    has_next = len(rows) > PER_PAGE
    last_id = shown[-1][0].id if shown else None
    return Page(shown, 1, has_next, None, last_id if has_next else None)


# -- areas ---------------------------------------------------------------------------------------------

def area_paths(session: Session, area_ids) -> dict[int, str]:
    """Area id -> 'District/Township/Village', reading only those areas and their ancestors."""
    known: dict[int, tuple[str, int | None]] = {}
    todo = {i for i in area_ids if i is not None}
    while todo:
        rows = session.execute(select(Area.id, Area.name, Area.parent_id).where(Area.id.in_(todo))).all()
        known.update({r.id: (r.name, r.parent_id) for r in rows})
        todo = {r.parent_id for r in rows if r.parent_id is not None and r.parent_id not in known}

    def path(area_id: int) -> str:
        names = []
        while area_id is not None and area_id in known:
            name, area_id = known[area_id]
            names.append(name)
        return "/".join(reversed(names))

    return {i: path(i) for i in area_ids if i in known}


@dataclass
class TreeNode:
    area: Area
    children: list["TreeNode"]
    contacts: int = 0


def area_tree(session: Session) -> list[TreeNode]:
    """Districts with their townships and villages, by name, and how many active contacts work in each."""
    areas = list(session.scalars(select(Area).order_by(Area.name, Area.id)))
    counts = dict(session.execute(
        select(ContactArea.area_id, func.count()).join(Contact, Contact.id == ContactArea.contact_id)
        .where(Contact.active).group_by(ContactArea.area_id)).all())
    nodes = {a.id: TreeNode(a, [], counts.get(a.id, 0)) for a in areas}
    roots = []
    for area in areas:
        (nodes[area.parent_id].children if area.parent_id in nodes else roots).append(nodes[area.id])
    return roots


def area_choices(session: Session, kinds: tuple[AreaKind, ...] | None = None) -> list[tuple[int, str]]:
    """(id, path) of every area (or of those kinds), by path: for pick lists."""
    stmt = select(Area.id)
    if kinds:
        stmt = stmt.where(Area.kind.in_(kinds))
    paths = area_paths(session, list(session.scalars(stmt)))
    return sorted(paths.items(), key=lambda item: item[1].lower())


# -- the roster ----------------------------------------------------------------------------------------

def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def contacts_query(q: str = "", role: str = "", status: str = "active") -> Select:
    stmt = select(Contact).options(selectinload(Contact.area_links)).order_by(func.lower(Contact.name), Contact.id)
    q = " ".join(q.split())
    if q:
        conditions = [Contact.name.icontains(q, autoescape=True)]
        if len(_digits(q)) >= 3:
            digits = _digits(q).lstrip("0")
            conditions.append(Contact.phone.contains(digits, autoescape=True))
        stmt = stmt.where(or_(*conditions))
    if role in {r.value for r in Role}:
        stmt = stmt.where(Contact.role == Role(role))
    if status == "active":
        stmt = stmt.where(Contact.active)
    elif status == "inactive":
        stmt = stmt.where(Contact.active.is_(False))
    return stmt


def contacts_page(session: Session, q: str, role: str, status: str, page: int) -> tuple[Page, dict[int, str]]:
    """A page of the roster and the paths of the areas its contacts work in."""
    found = offset_page(session, contacts_query(q, role, status), page, total=True, scalars=True)
    paths = area_paths(session, {link.area_id for c in found.rows for link in c.area_links})
    return found, paths


def all_contacts(session: Session, q: str, role: str, status: str) -> Iterator[tuple[Contact, list[str]]]:
    """Every contact the filters match, with their area paths, a batch at a time (for CSV export)."""
    batch: list[Contact] = []
    for contact in session.scalars(contacts_query(q, role, status).execution_options(yield_per=500)):
        batch.append(contact)
        if len(batch) == 500:
            yield from _with_paths(session, batch)
            batch = []
    yield from _with_paths(session, batch)


def _with_paths(session: Session, contacts: list[Contact]) -> Iterator[tuple[Contact, list[str]]]:
    paths = area_paths(session, {link.area_id for c in contacts for link in c.area_links})
    for contact in contacts:
        yield contact, [paths.get(link.area_id, "") for link in contact.area_links]


def simulator_contacts(session: Session) -> list[Contact]:
    return list(session.scalars(select(Contact).where(Contact.active).order_by(Contact.role, Contact.name).limit(200)))


# -- alerts and reports --------------------------------------------------------------------------------

@dataclass
class Subject:
    """Who a record is about, as its list shows it."""

    name: str | None
    short_id: str | None
    village: str | None


def alert_counts(session: Session, scope: Scope) -> dict[str, int]:
    rows = session.execute(select(Alert.status, func.count()).where(scope.villages(Alert.village_id))
                           .group_by(Alert.status)).all()
    counts = {s.value: 0 for s in AlertStatus}
    counts.update({status.value: n for status, n in rows})
    return counts


def alerts_page(session: Session, scope: Scope, status: AlertStatus, page: int) -> Page:
    """Alerts of a status in scope, danger first, then newest first, with who they are about."""
    stmt = (
        select(Alert, func.coalesce(Person.name, Household.head_name), func.coalesce(Person.short_id, Household.short_id),
               Area.name)
        .outerjoin(Person, Person.id == Alert.person_id)
        .outerjoin(Household, Household.id == Alert.household_id)
        .join(Area, Area.id == Alert.village_id)
        .where(Alert.status == status, scope.villages(Alert.village_id))
        .order_by((Alert.kind == "danger").desc(), Alert.created_at.desc(), Alert.id.desc())
    )
    found = offset_page(session, stmt, page)
    found.rows = [(alert, Subject(name, short_id, village)) for alert, name, short_id, village in found.rows]
    return found


def alert_history(session: Session, alert_id: int) -> list[tuple[AlertEvent, str | None]]:
    return list(session.execute(
        select(AlertEvent, Contact.name).outerjoin(Contact, Contact.id == AlertEvent.by_id)
        .where(AlertEvent.alert_id == alert_id).order_by(AlertEvent.id)).all())


def subject_of(session: Session, person_id: int | None, household_id: int | None) -> Subject:
    if person_id is not None:
        row = session.execute(select(Person.name, Person.short_id, Area.name)
                              .join(Household, Household.id == Person.household_id)
                              .join(Area, Area.id == Household.village_id).where(Person.id == person_id)).first()
    elif household_id is not None:
        row = session.execute(select(Household.head_name, Household.short_id, Area.name)
                              .join(Area, Area.id == Household.village_id).where(Household.id == household_id)).first()
    else:
        row = None
    return Subject(*row) if row else Subject(None, None, None)


REVIEW_STATUSES = (ReportStatus.flagged, ReportStatus.verified, ReportStatus.wrong)


def review_counts(session: Session, scope: Scope) -> dict[str, int]:
    stmt = (select(Report.status, func.count()).outerjoin(Household, Household.id == Report.household_id)
            .where(Report.status.in_(REVIEW_STATUSES), scope.villages(Household.village_id)).group_by(Report.status))
    counts = {s.value: 0 for s in REVIEW_STATUSES}
    counts.update({status.value: n for status, n in session.execute(stmt).all()})
    return counts


@dataclass
class ReviewRow:
    report: Report
    subject: Subject
    sender: str
    reviewer: str | None


def reports_page(session: Session, scope: Scope, status: ReportStatus, page: int) -> Page:
    """Reports of a status in scope (flagged: oldest first, the queue; marked: latest mark first)."""
    sender, reviewer = aliased(Contact), aliased(Contact)
    order = (Report.created_at, Report.id) if status is ReportStatus.flagged else (
        Report.reviewed_at.desc(), Report.id.desc())
    stmt = (
        select(Report, func.coalesce(Person.name, Household.head_name),
               func.coalesce(Person.short_id, Household.short_id), Area.name, sender.name, reviewer.name)
        .outerjoin(Person, Person.id == Report.person_id)
        .outerjoin(Household, Household.id == Report.household_id)
        .outerjoin(Area, Area.id == Household.village_id)
        .join(sender, sender.id == Report.sender_id)
        .outerjoin(reviewer, reviewer.id == Report.reviewed_by_id)
        .where(Report.status == status, scope.villages(Household.village_id))
        .order_by(*order)
    )
    found = offset_page(session, stmt, page)
    found.rows = [ReviewRow(r, Subject(name, sid, village), s, rv) for r, name, sid, village, s, rv in found.rows]
    return found


def report_village(session: Session, report: Report) -> int | None:
    if report.household_id is None:
        return None
    return session.scalar(select(Household.village_id).where(Household.id == report.household_id))


# -- messages and the audit log -----------------------------------------------------------------------

def inbound_page(session: Session, scope: Scope, phone: str | None, before: int | None) -> Page:
    stmt = (select(InboundMessage, Contact.name).outerjoin(Contact, Contact.id == InboundMessage.contact_id)
            .where(scope.contacts(InboundMessage.contact_id)))
    if phone:
        stmt = stmt.where(InboundMessage.sender == phone)
    return keyset_page(session, stmt, InboundMessage.id, before)


def outgoing_page(session: Session, scope: Scope, phone: str | None, before: int | None) -> Page:
    stmt = (select(OutgoingMessage, Contact.name).outerjoin(Contact, Contact.id == OutgoingMessage.contact_id)
            .where(scope.contacts(OutgoingMessage.contact_id)))
    if phone:
        stmt = stmt.where(OutgoingMessage.to == phone)
    return keyset_page(session, stmt, OutgoingMessage.id, before)


def outgoing_in_scope(session: Session, scope: Scope, message_id: int) -> tuple[OutgoingMessage, str | None] | None:
    return session.execute(
        select(OutgoingMessage, Contact.name).outerjoin(Contact, Contact.id == OutgoingMessage.contact_id)
        .options(selectinload(OutgoingMessage.history))
        .where(OutgoingMessage.id == message_id, scope.contacts(OutgoingMessage.contact_id))).first()


def conversation(session: Session, phone: str, limit: int = 20) -> list[tuple[str, Any]]:
    """The latest messages from and to a number, oldest first: ('in', InboundMessage) or ('out', OutgoingMessage)."""
    inbound = session.scalars(select(InboundMessage).where(InboundMessage.sender == phone)
                              .order_by(InboundMessage.id.desc()).limit(limit)).all()
    outgoing = session.scalars(select(OutgoingMessage).where(OutgoingMessage.to == phone, OutgoingMessage.kind != "reply")
                               .order_by(OutgoingMessage.id.desc()).limit(limit)).all()
    merged = [("in", m.received_at, m.id, m) for m in inbound] + [("out", m.created_at, m.id, m) for m in outgoing]
    merged.sort(key=lambda item: (item[1], item[0] == "out", item[2]))
    return [(kind, m) for kind, _, _, m in merged[-limit:]]


AUDIT_ENTITIES = ("contact", "area", "report")


def audit_page(session: Session, entity: str, before: int | None) -> Page:
    stmt = select(AuditEntry, Contact.name).outerjoin(Contact, Contact.id == AuditEntry.actor_id)
    if entity in AUDIT_ENTITIES:
        stmt = stmt.where(AuditEntry.entity == entity)
    return keyset_page(session, stmt, AuditEntry.id, before)
