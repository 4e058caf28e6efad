"""Due care, every minute from tick: stale care becomes an overdue alert for staff, and each
volunteer gets one digest a day of what is due, inside the sending window."""
from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway import digests
from gateway.alerts import care_label, raise_alert
from gateway.models import AlertKind, DueItem, DueStatus, Household, OutgoingKind, Person, PersonStatus
from gateway.outbox import queue_many

log = logging.getLogger(__name__)
STALE_BATCH = 500  # items turned into alerts in one tick; the rest wait a minute


def mark_stale(session: Session, runtime, now: datetime) -> int:
    """Open care more than STALE_AFTER_DAYS past due is not sent late: it becomes overdue, with the
    reason, and an overdue-care alert goes to staff. Inside the sending window only, so staff are
    not woken for it; how many items were marked."""
    settings = runtime.settings
    local = now.astimezone(settings.tz)
    if not digests.in_window(local, settings.SEND_WINDOW):
        return 0
    days = settings.STALE_AFTER_DAYS
    cutoff = local.date() - timedelta(days=days)
    items = session.scalars(
        select(DueItem)
        .where(DueItem.status == DueStatus.open, DueItem.due_on < cutoff)
        .order_by(DueItem.due_on, DueItem.id)
        .limit(STALE_BATCH)
        .with_for_update(skip_locked=True)  # a second tick takes other items, never the same
    ).all()
    marked = 0
    for item in items:
        person = session.get(Person, item.person_id) if item.person_id else None
        household = session.get(Household, item.household_id) if item.household_id else None
        item.closed_at = now
        if person is not None and person.status is not PersonStatus.active:
            item.status, item.reason = DueStatus.ended, f"the person is {person.status.value.replace('_', ' ')}"
            continue
        if person is not None and person.reminders_off:
            item.status, item.reason = DueStatus.muted, "reminders off at the person's request"
            continue
        if person is None and household is None:
            item.status, item.reason = DueStatus.ended, "no person or household"
            continue
        item.status = DueStatus.overdue
        item.reason = f"not done within {days} days of {item.due_on.isoformat()}"
        label = care_label(runtime.pack, item.schedule, item.item, "en")
        alert = raise_alert(session, runtime, AlertKind.overdue, person, f"overdue care: {label}, {item.reason}",
                            now, due_item_id=item.id, household=household)
        log.info("due item %s (%s %s) overdue: alert %s", item.id, item.schedule, item.item, alert.id)
        marked += 1
    return marked


def send_digests(session: Session, runtime, now: datetime) -> int:
    """One SMS a day to each volunteer with care due, inside the sending window in TIMEZONE;
    how many were queued. A second run the same day, here or in another process, queues none:
    the digest's dedupe key is the volunteer and the day."""
    settings = runtime.settings
    local = now.astimezone(settings.tz)
    if not digests.in_window(local, settings.SEND_WINDOW):
        return 0
    today = local.date()
    oldest = today - timedelta(days=settings.STALE_AFTER_DAYS)  # older care is overdue, not reminded
    volunteers = digests.volunteers_due(session, oldest, today)
    sent = digests.existing_keys(session, (digests.digest_key(v, today) for v in volunteers))
    todo = [v for v in volunteers if digests.digest_key(v, today) not in sent]
    queued = 0
    for found in digests.composed(session, runtime.pack, todo, oldest, today):
        made = queue_many(session, runtime, [
            (digest.phone, text, digest.volunteer_id, digests.digest_key(digest.volunteer_id, today))
            for digest, text in found
        ], kind=OutgoingKind.reminder, now=now)
        queued += len(made)
        session.commit()  # a batch at a time: its send jobs go out while the next is composed
    if queued:
        log.info("digests: %s queued for %s", queued, today.isoformat())
    return queued
