"""Alerts: things a person must answer. Raised here by handlers and jobs; every change is kept."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from .queue import enqueue_after_commit
from .models import Alert, AlertEvent, AlertKind, AlertStatus, Person


DISPATCH_JOB = "worker.alerts.dispatch_alert"


def raise_alert(
    session: Session, runtime, kind: AlertKind, person: Person, reason: str, now: datetime, *,
    report_id: int | None = None, codes: str | None = None, due_item_id: int | None = None,
) -> Alert:
    """A new open alert for the staff of the person's village; its id is the number staff quote."""
    alert = Alert(
        kind=kind, village_id=person.household.village_id, person_id=person.id,
        household_id=person.household_id, report_id=report_id, due_item_id=due_item_id,
        reason=reason[:200], codes=codes, created_at=now, updated_at=now,
    )
    alert.history.append(AlertEvent(status=AlertStatus.open, at=now, note=reason[:200]))
    session.add(alert)
    session.flush()
    enqueue_after_commit(session, runtime.queues, "urgent", DISPATCH_JOB, alert.id)
    return alert
