"""Outgoing SMS: queued in the database first, sent by a worker job, every change of status kept."""
from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import insert, inspect
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import flag_modified

from .metrics import count_outgoing
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
    change = OutgoingStatusChange(status=status, at=at, detail=(detail or None) and detail[:200])
    state = inspect(message)
    if state.persistent and "history" in state.unloaded:
        change.message_id = message.id  # added beside it: appending would first read the whole history
        state.session.add(change)
    else:
        message.history.append(change)
    if message.id is not None:  # a new message is counted once it is made (queue_sms)
        count_outgoing(status.value)


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
    if dedupe_key is None:  # nothing to clash with: no savepoint
        session.add(message)
        session.flush()
    else:
        try:
            with session.begin_nested():
                session.add(message)
        except IntegrityError:
            return None  # the same key was queued already, here or by another process
    count_outgoing(OutgoingStatus.queued.value)
    enqueue_after_commit(session, runtime.queues, QUEUE_FOR_KIND[kind], SEND_JOB, message.id)
    return message


def queue_many(
    session: Session, runtime, messages: Iterable[tuple[str, str, int | None, str]], *, kind: OutgoingKind,
    now: datetime,
) -> list[int]:
    """queue_sms for many messages, each (to, body, contact_id, dedupe_key), in a few statements
    rather than a few each: the ids of those made, a send_sms job enqueued for each after commit.

    A key queued already, here or by another process, is skipped (ON CONFLICT DO NOTHING), as
    queue_sms skips it."""
    rows = [
        {"channel": runtime.settings.SMS_BACKEND, "to": to, "body": body, "kind": kind, "contact_id": contact_id,
         "alert_id": None, "dedupe_key": dedupe_key, "status": OutgoingStatus.queued, "attempts": 0,
         "created_at": now, "updated_at": now}
        for to, body, contact_id, dedupe_key in messages
    ]
    if not rows:
        return []
    dialect = {"postgresql": postgresql, "sqlite": sqlite}.get(session.get_bind().dialect.name)
    if dialect is None:  # no ON CONFLICT here: one at a time
        made = [queue_sms(session, runtime, to=r["to"], body=r["body"], kind=kind, now=now,
                          contact_id=r["contact_id"], dedupe_key=r["dedupe_key"]) for r in rows]
        return [m.id for m in made if m is not None]
    ids = list(session.scalars(
        dialect.insert(OutgoingMessage).on_conflict_do_nothing(index_elements=[OutgoingMessage.dedupe_key])
        .returning(OutgoingMessage.id),
        rows,
    ))
    if ids:
        count_outgoing(OutgoingStatus.queued.value, len(ids))
        session.execute(insert(OutgoingStatusChange),
                        [{"message_id": i, "status": OutgoingStatus.queued, "at": now, "detail": None} for i in ids])
    for message_id in sorted(ids):
        enqueue_after_commit(session, runtime.queues, QUEUE_FOR_KIND[kind], SEND_JOB, message_id)
    return ids
