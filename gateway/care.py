"""Care that falls due: due items are started, cleared, ended, muted and moved here, never in handlers."""
from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import bindparam, case, false, or_, select, update
from sqlalchemy.orm import Session

from . import sql
from .models import DueItem, DueStatus, Report
from .schedules import Schedule

NOT_CLOSED = (DueStatus.open, DueStatus.muted)  # care that may still be given


def start(
    session: Session, schedule: Schedule, anchor: date, *, today: date, person_id: int | None = None,
    household_id: int | None = None, volunteer_id: int | None = None, units: int = 1,
    at_days: int | None = None,
) -> list[DueItem]:
    """Make a schedule's items due from anchor; items whose window closed before today are skipped."""
    made = []
    for spec in schedule.items:
        at = spec.at * units if spec.per_unit else spec.at
        if at_days is not None:  # a setting such as VISIT_EVERY_DAYS replaces the schedule's
            at = timedelta(days=at_days)
        due_on = anchor + at
        window_end = due_on + spec.after
        if window_end < today:
            continue
        made.append(sql.add(session, DueItem, {
            "schedule": schedule.name, "item": spec.item, "person_id": person_id, "household_id": household_id,
            "volunteer_id": volunteer_id, "due_on": due_on, "window_start": due_on - spec.before,
            "window_end": window_end,
        }, later=True))
    return made


def _subject_filter(query, schedules, person_id: int | None, household_id: int | None, statuses):
    """Narrow a select or update of due items to these statuses, schedules and subject; the
    subject's ids are the parameters person_id and household_id."""
    query = query.where(or_(*(DueItem.status == status for status in statuses)))
    if schedules is not None:
        query = query.where(or_(false(), *(DueItem.schedule == name for name in schedules)))
    if person_id is not None:
        query = query.where(DueItem.person_id == bindparam("person_id"))
    if household_id is not None:
        query = query.where(DueItem.household_id == bindparam("household_id"))
    return query


_STATEMENTS: dict[tuple, sql.Prepared] = {}


def _statement(kind: str | tuple, build, schedules, person_id, household_id, statuses) -> sql.Prepared:
    """The statement of this kind for this shape of subject, schedules and statuses, built once."""
    shape = (kind, None if schedules is None else tuple(schedules), person_id is not None,
             household_id is not None, tuple(statuses))
    statement = _STATEMENTS.get(shape)
    if statement is None:
        statement = _STATEMENTS[shape] = sql.Prepared(
            build(lambda query: _subject_filter(query, schedules, person_id, household_id, statuses)))
    return statement


def _subject(person_id: int | None, household_id: int | None, **more) -> dict:
    params = {name: value for name, value in (("person_id", person_id), ("household_id", household_id))
              if value is not None}
    return {**params, **more}


def _earliest_due(narrow):
    """The id of the earliest item, narrowed as asked, whose window holds the parameter day."""
    return (narrow(select(DueItem.id))
            .where(DueItem.window_start <= bindparam("day"), DueItem.window_end >= bindparam("day"))
            .order_by(DueItem.due_on, DueItem.id).limit(1).scalar_subquery())


def clear_due(
    session: Session, schedules, report: Report, now: datetime, *, person_id: int | None = None,
    household_id: int | None = None,
) -> None:
    """Mark done the earliest open item of these schedules whose window holds the report's day,
    if one is due.

    A muted item is care still due too: given while the person's reminders are off, it is done."""
    def build(narrow):
        return (narrow(update(DueItem)).where(DueItem.id == _earliest_due(narrow))
                .values(status=DueStatus.done, cleared_by_report_id=bindparam("report_id"),
                        closed_at=bindparam("now", type_=DueItem.closed_at.type)))

    statement = _statement("clear", build, schedules, person_id, household_id, NOT_CLOSED)
    statement.later(session, _subject(person_id, household_id, day=report.reported_on, report_id=report.id, now=now),
                    expires=DueItem)


def replace_due(
    session: Session, schedules, report: Report, now: datetime, reason: str, *, person_id: int | None = None,
    household_id: int | None = None, ending=(DueStatus.open,),
) -> None:
    """clear_due, then end_open of the same schedules and subject with these statuses, in one
    statement: care given again (a visit, a resupply) is done if it was due, and what was still
    to come of it ends, as a new round is started."""
    def build(narrow):
        fulfilled = DueItem.id == _earliest_due(narrow)
        return (narrow(update(DueItem))
                .where(or_(fulfilled, *(DueItem.status == status for status in ending)))
                .values(status=case((fulfilled, DueStatus.done.value), else_=DueStatus.ended.value),
                        cleared_by_report_id=case((fulfilled, bindparam("report_id")), else_=None),
                        reason=case((fulfilled, None), else_=bindparam("reason")),
                        closed_at=bindparam("now", type_=DueItem.closed_at.type)))

    statement = _statement(("replace", tuple(ending)), build, schedules, person_id, household_id, NOT_CLOSED)
    statement.later(session, _subject(person_id, household_id, day=report.reported_on, report_id=report.id,
                                      now=now, reason=reason[:200]), expires=DueItem)


def next_due(session: Session, schedules, *, person_id: int | None = None,
             household_id: int | None = None) -> DueItem | None:
    statement = _statement(
        "next", lambda narrow: narrow(select(DueItem.id, DueItem.due_on)).order_by(DueItem.due_on, DueItem.id).limit(1),
        schedules, person_id, household_id, (DueStatus.open,))
    return sql.load(session, DueItem, ("id", "due_on"), statement.first(session, _subject(person_id, household_id)))


def end_open(
    session: Session, reason: str, now: datetime, *, schedules=None, person_id: int | None = None,
    household_id: int | None = None, statuses=(DueStatus.open,),
) -> None:
    """End open (and, if asked, muted) items: the care is no longer due, and why."""
    statement = _statement(
        "end", lambda narrow: narrow(update(DueItem)).values(
            status=DueStatus.ended, reason=bindparam("reason"), closed_at=bindparam("now", type_=DueItem.closed_at.type)),
        schedules, person_id, household_id, statuses)
    statement.later(session, _subject(person_id, household_id, reason=reason[:200], now=now), expires=DueItem)


_MUTE = sql.Prepared(
    update(DueItem)
    .where(DueItem.person_id == bindparam("person_id"), DueItem.status == DueStatus.open)
    .values(status=DueStatus.muted, reason="reminders off at the person's request",
            closed_at=bindparam("now", type_=DueItem.closed_at.type)))


def mute(session: Session, person_id: int, now: datetime) -> None:
    """OFF: every open item about the person stops; ON may resume them."""
    _MUTE.later(session, {"person_id": person_id, "now": now}, expires=DueItem)


def resume(session: Session, person_id: int, today: date) -> int:
    """ON: muted items due from today on are open again; those already past stay muted."""
    result = session.execute(
        update(DueItem)
        .where(DueItem.person_id == person_id, DueItem.status == DueStatus.muted, DueItem.due_on >= today)
        .values(status=DueStatus.open, reason=None, closed_at=None),
        execution_options={"synchronize_session": "fetch"},
    )
    return result.rowcount


def move_to_volunteer(session: Session, person_id: int, volunteer_id: int | None) -> int:
    """IN: the person's open and muted care follows them to their new volunteer."""
    result = session.execute(
        update(DueItem)
        .where(DueItem.person_id == person_id, DueItem.status.in_([DueStatus.open, DueStatus.muted]))
        .values(volunteer_id=volunteer_id),
        execution_options={"synchronize_session": "fetch"},
    )
    return result.rowcount
