"""Outgoing SMS: queued in the database first, sent by a worker job, every change of status kept."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import flag_modified

from .models import OutgoingKind, OutgoingMessage, OutgoingStatus, OutgoingStatusChange
from .queue import enqueue_after_commit

SEND_JOB = "worker.sending.send_sms"
# alerts and replies go ahead of reminders and summaries
QUEUE_FOR_KIND = {
    OutgoingKind.alert: "urgent",
    OutgoingKind.reply: "urgent",
    OutgoingKind.reminder: "bulk",
    OutgoingKind.summary: "bulk",
}


def set_status(message: OutgoingMessage, status: OutgoingStatus, at: datetime, detail: str | None = None) -> None:
    """Move a message to status and keep the change in its history."""
    message.status = status
    message.updated_at = at
    # written even when unchanged: else the column's onupdate would stamp the wall-clock time
    flag_modified(message, "updated_at")
    message.history.append(OutgoingStatusChange(status=status, at=at, detail=(detail or None) and detail[:200]))


def queue_sms(
    session: Session, runtime, *, to: str, body: str, kind: OutgoingKind, now: datetime,
    contact_id: int | None = None, alert_id: int | None = None, dedupe_key: str | None = None,
) -> OutgoingMessage | None:
    """Record an SMS to send and enqueue send_sms for it after commit.

    With a dedupe_key, a second message with the same key is not made (None is returned): a
    day's digest or an alert to one person at one level goes out once, however often asked."""
    message = OutgoingMessage(
        channel=runtime.settings.SMS_BACKEND, to=to, body=body, kind=kind, contact_id=contact_id,
        alert_id=alert_id, dedupe_key=dedupe_key, created_at=now, updated_at=now,
    )
    set_status(message, OutgoingStatus.queued, now)
    try:
        with session.begin_nested():
            session.add(message)
    except IntegrityError:
        return None  # the same key was queued already, here or by another process
    enqueue_after_commit(session, runtime.queues, QUEUE_FOR_KIND[kind], SEND_JOB, message.id)
    return message
