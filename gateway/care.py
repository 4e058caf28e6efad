"""Care that falls due: due items are started, cleared, ended, muted and moved here, never in handlers."""
from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

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
        item = DueItem(
            schedule=schedule.name, item=spec.item, person_id=person_id, household_id=household_id,
            volunteer_id=volunteer_id, due_on=due_on, window_start=due_on - spec.before,
            window_end=window_end,
        )
        session.add(item)
        made.append(item)
    session.flush()
    return made


def _subject_filter(query, schedules, person_id: int | None, household_id: int | None, statuses):
    """Narrow a select or update of due items to these statuses, schedules and subject."""
    query = query.where(DueItem.status.in_(list(statuses)))
    if schedules is not None:
        query = query.where(DueItem.schedule.in_(list(schedules)))
    if person_id is not None:
        query = query.where(DueItem.person_id == person_id)
    if household_id is not None:
        query = query.where(DueItem.household_id == household_id)
    return query


def _open_items(schedules, person_id: int | None, household_id: int | None, statuses=(DueStatus.open,)):
    return _subject_filter(select(DueItem), schedules, person_id, household_id, statuses)


def clear_due(
    session: Session, schedules, report: Report, now: datetime, *, person_id: int | None = None,
    household_id: int | None = None,
) -> DueItem | None:
    """Mark done the earliest open item of these schedules whose window holds the report's day.

    A muted item is care still due too: given while the person's reminders are off, it is done."""
    item = session.scalar(
        _open_items(schedules, person_id, household_id, NOT_CLOSED)
        .where(DueItem.window_start <= report.reported_on, DueItem.window_end >= report.reported_on)
        .order_by(DueItem.due_on, DueItem.id)
        .limit(1)
    )
    if item is not None:
        item.status = DueStatus.done
        item.cleared_by_report_id = report.id
        item.closed_at = now
    return item


def next_due(session: Session, schedules, *, person_id: int | None = None,
             household_id: int | None = None) -> DueItem | None:
    return session.scalar(
        _open_items(schedules, person_id, household_id).order_by(DueItem.due_on, DueItem.id).limit(1)
    )


def end_open(
    session: Session, reason: str, now: datetime, *, schedules=None, person_id: int | None = None,
    household_id: int | None = None, statuses=(DueStatus.open,),
) -> int:
    """End open (and, if asked, muted) items: the care is no longer due, and why."""
    query = _subject_filter(update(DueItem), schedules, person_id, household_id, statuses)
    result = session.execute(
        query.values(status=DueStatus.ended, reason=reason[:200], closed_at=now),
        execution_options={"synchronize_session": "fetch"},
    )
    return result.rowcount


def mute(session: Session, person_id: int, now: datetime) -> int:
    """OFF: every open item about the person stops; ON may resume them."""
    result = session.execute(
        update(DueItem)
        .where(DueItem.person_id == person_id, DueItem.status == DueStatus.open)
        .values(status=DueStatus.muted, reason="reminders off at the person's request", closed_at=now),
        execution_options={"synchronize_session": "fetch"},
    )
    return result.rowcount


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
