"""Care that falls due: due items are created, cleared and ended here, never in handlers."""
from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from .models import DueItem, DueStatus, Household, Report

VISIT_SCHEDULE = "household_visit"
VISIT_WINDOW_DAYS = 14  # a visit this many days either side of the due day counts


def clear_open_items(
    session: Session, *, schedule: str, report: Report, now: datetime,
    household_id: int | None = None, person_id: int | None = None,
) -> list[DueItem]:
    """Mark done the subject's open items of a schedule whose window has opened by the report day."""
    query = select(DueItem).where(
        DueItem.schedule == schedule,
        DueItem.status == DueStatus.open,
        DueItem.window_start <= report.reported_on,
    )
    if household_id is not None:
        query = query.where(DueItem.household_id == household_id)
    if person_id is not None:
        query = query.where(DueItem.person_id == person_id)
    items = list(session.scalars(query))
    for item in items:
        item.status = DueStatus.done
        item.cleared_by_report_id = report.id
        item.closed_at = now
    return items


def schedule_next_visit(
    session: Session, household: Household, visited_on: date, every_days: int, volunteer_id: int | None,
    report: Report, now: datetime,
) -> DueItem:
    """A visit clears the household's due visit and makes the next one due every_days later."""
    clear_open_items(session, schedule=VISIT_SCHEDULE, report=report, now=now, household_id=household.id)
    # an earlier visit's item whose window has not opened yet is replaced, not kept twice
    for item in session.scalars(select(DueItem).where(
        DueItem.schedule == VISIT_SCHEDULE,
        DueItem.household_id == household.id,
        DueItem.status == DueStatus.open,
    )):
        item.status = DueStatus.ended
        item.reason = f"replaced after the visit of {visited_on.isoformat()}"
        item.closed_at = now
    due_on = visited_on + timedelta(days=every_days)
    window = min(VISIT_WINDOW_DAYS, every_days // 2)
    item = DueItem(
        schedule=VISIT_SCHEDULE,
        item="visit",
        household_id=household.id,
        volunteer_id=volunteer_id,
        due_on=due_on,
        window_start=due_on - timedelta(days=window),
        window_end=due_on + timedelta(days=window),
    )
    session.add(item)
    household.last_visit_on = max(household.last_visit_on or visited_on, visited_on)
    return item
