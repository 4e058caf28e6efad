"""Alerts: things a person must answer. Raised here by handlers and jobs; every change is kept.

An alert climbs the area tree: level 0 is the smallest area holding the alert's village that has
active staff (the village itself, then its township, then its district); each escalation moves it
to the next such area up.
"""
from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from .formpack import FormPack
from .models import (
    Alert,
    AlertEvent,
    AlertKind,
    AlertStatus,
    Area,
    Contact,
    ContactArea,
    DueItem,
    Household,
    Person,
    Report,
    Role,
)
from .people import covered_village_ids
from .queue import enqueue_after_commit
from .replies import render

DISPATCH_JOB = "worker.alerts.dispatch_alert"


def raise_alert(
    session: Session, runtime, kind: AlertKind, person: Person | None, reason: str, now: datetime, *,
    report_id: int | None = None, codes: str | None = None, due_item_id: int | None = None,
    household: Household | None = None,
) -> Alert:
    """A new open alert for the staff of the person's village (or, with no person, the household's);
    its id is the number staff quote."""
    if person is None and household is None:
        raise ValueError("an alert is about a person or a household")
    if person is not None:
        household = person.household
    alert = Alert(
        kind=kind, village_id=household.village_id, person_id=person.id if person else None,
        household_id=household.id, report_id=report_id, due_item_id=due_item_id,
        reason=reason[:200], codes=codes, created_at=now, updated_at=now,
    )
    alert.history.append(AlertEvent(status=AlertStatus.open, at=now, note=reason[:200]))
    session.add(alert)
    session.flush()
    enqueue_after_commit(session, runtime.queues, "urgent", DISPATCH_JOB, alert.id)
    return alert


# -- who an alert goes to -----------------------------------------------------------------------------

def staff_levels(session: Session, village_id: int) -> list[tuple[Area, list[Contact]]]:
    """The levels an alert about a village climbs, smallest area first: each of the village, its
    township and its district that has active staff, with those staff."""
    chain: list[Area] = []
    area = session.get(Area, village_id)
    while area is not None:
        chain.append(area)
        area = area.parent
    if not chain:
        return []
    staff: dict[int, list[Contact]] = defaultdict(list)
    rows = session.execute(
        select(ContactArea.area_id, Contact)
        .join(Contact, Contact.id == ContactArea.contact_id)
        .where(ContactArea.area_id.in_([a.id for a in chain]), Contact.role == Role.staff, Contact.active)
        .order_by(Contact.id)
    ).all()
    for area_id, contact in rows:
        staff[area_id].append(contact)
    return [(a, staff[a.id]) for a in chain if staff[a.id]]


def alert_recipients(session: Session, alert: Alert) -> tuple[Area | None, list[Contact]]:
    """The area an alert has reached at its level and the staff it goes to there; (None, []) if none."""
    levels = staff_levels(session, alert.village_id)
    return levels[alert.level] if alert.level < len(levels) else (None, [])


def may_answer(session: Session, contact: Contact, alert: Alert) -> bool:
    """Admins answer any alert; staff those about the villages under their areas."""
    if contact.role is Role.admin:
        return True
    return contact.role is Role.staff and alert.village_id in covered_village_ids(session, contact)


# -- answering -------------------------------------------------------------------------------------------

def acknowledge(alert: Alert, by: Contact | None, now: datetime, note: str | None = None) -> bool:
    """Open -> acknowledged: escalation stops. False (and no change) when it was not open."""
    if alert.status is not AlertStatus.open:
        return False
    _move(alert, AlertStatus.acknowledged, by, now, note)
    return True


def resolve(alert: Alert, by: Contact | None, now: datetime, note: str | None = None) -> bool:
    """Open or acknowledged -> resolved, with the note. False (and no change) when already resolved."""
    if alert.status is AlertStatus.resolved:
        return False
    _move(alert, AlertStatus.resolved, by, now, note)
    return True


def _move(alert: Alert, status: AlertStatus, by: Contact | None, now: datetime, note: str | None) -> None:
    alert.status = status
    alert.updated_at = now
    alert.history.append(AlertEvent(status=status, at=now, by_id=by.id if by else None,
                                    note=(note or None) and note[:200]))


def last_change(alert: Alert, status: AlertStatus) -> AlertEvent | None:
    """The event that moved the alert to status (the latest one)."""
    return next((e for e in reversed(alert.history) if e.status is status), None)


# -- what an alert says ----------------------------------------------------------------------------------

def alert_text(session: Session, pack: FormPack, alert: Alert, lang: str) -> str:
    """The SMS staff receive, in their language: 'ALERT 57: danger signs BF for Amina Juma (51025),
    Kanyagwal. Reply ACK 57'."""
    values: dict = {"alert": alert.id, "codes": alert.codes or "", "name": "-", "id": "-", "care": "",
                    "date": "", "form": ""}
    values["village"] = session.scalar(select(Area.name).where(Area.id == alert.village_id)) or ""
    if alert.person_id is not None:
        person = session.get(Person, alert.person_id)
        values.update(name=person.name, id=person.short_id)
    elif alert.household_id is not None:
        household = session.get(Household, alert.household_id)
        values.update(name=household.head_name, id=household.short_id)
    if alert.due_item_id is not None:
        item = session.get(DueItem, alert.due_item_id)
        values.update(care=care_label(pack, item.schedule, item.item, lang), date=item.due_on.isoformat())
    if alert.report_id is not None:
        values["form"] = session.scalar(select(Report.form).where(Report.id == alert.report_id)) or ""
    return render(pack, None, f"alert_{alert.kind.value}", lang, values)


def care_label(pack: FormPack, schedule: str, item: str, lang: str) -> str:
    """'ANC 26w', 'PNC day 3', 'Visit': an item as the schedule names it in lang."""
    found = pack.schedules.get(schedule)
    return found.label(item, lang) if found else item
