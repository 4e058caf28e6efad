"""What becomes of an outgoing message once the provider has answered: sent, retried, failed,
opted out; and the provider's later reports (status callbacks), which only ever move it forward."""
from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Mapping

from sqlalchemy import select
from sqlalchemy.orm import Session

from .models import OutgoingMessage, OutgoingStatus
from .optouts import opt_out
from .outbox import set_status
from .phones import mask_phone

log = logging.getLogger(__name__)
S = OutgoingStatus
RETRY_FIRST = timedelta(minutes=1)
OPTED_OUT_CODES = frozenset({21610})  # Twilio: the recipient answered STOP
# Codes in a status callback that mean the message never left Twilio, so sending it again is safe:
# 30001 queue overflow (it waited too long in Twilio's queue).
RETRY_AFTER_CALLBACK_CODES = frozenset({30001})

# How far along each status is; a report never moves a message back to a lower rank.
RANK = {
    S.queued: 0, S.retrying: 0, S.sending: 1, S.sent: 2,
    S.delivered: 3, S.failed: 3, S.opted_out: 3, S.stale: 3, S.muted: 3, S.duplicate: 3,
}
# Twilio's MessageStatus values and what they mean here.
TWILIO_STATUS = {
    "accepted": S.sent, "scheduled": S.sent, "queued": S.sent, "sending": S.sent, "sent": S.sent,
    "delivered": S.delivered, "read": S.delivered,
    "undelivered": S.failed, "failed": S.failed, "canceled": S.failed,
}
# Africa's Talking's delivery report statuses (lower-cased) and failure reasons.
AT_STATUS = {
    "sent": S.sent, "submitted": S.sent, "buffered": S.sent, "success": S.delivered,
    "rejected": S.failed, "failed": S.failed, "absentsubscriber": S.failed, "expired": S.failed,
}
AT_OPTED_OUT_REASONS = frozenset({"userinblacklist"})  # the number is blacklisted for this sender


def retry_delay(attempts: int) -> timedelta:
    """The wait after a temporary failure: 1, 2, 4, 8, 16 minutes after attempts 1, 2, 3, 4, 5."""
    return RETRY_FIRST * 2 ** max(attempts - 1, 0)


def mark_sent(message: OutgoingMessage, provider_id: str, now: datetime, detail: str | None = None) -> None:
    message.provider_id = provider_id
    message.sent_at = now
    message.error = None
    message.next_attempt_at = None
    set_status(message, S.sent, now, detail or provider_id)


def mark_opted_out(session: Session, message: OutgoingMessage, now: datetime, detail: str) -> None:
    """The provider refuses the number as opted out: nothing more goes to it until START."""
    opt_out(session, message.to, source="provider", at=now)
    message.error = detail[:200]
    message.next_attempt_at = None
    set_status(message, S.opted_out, now, detail)


def retry_or_fail(message: OutgoingMessage, max_attempts: int, now: datetime, reason: str) -> OutgoingStatus:
    """After a temporary failure: try again later while attempts remain, else fail with the reason."""
    message.error = reason[:200]
    if message.attempts < max_attempts:
        message.next_attempt_at = now + retry_delay(message.attempts)
        set_status(message, S.retrying, now, reason)
    else:
        message.next_attempt_at = None
        set_status(message, S.failed, now, f"gave up after {message.attempts} attempts: {reason}")
    return message.status


def fail(message: OutgoingMessage, now: datetime, reason: str) -> None:
    message.error = reason[:200]
    message.next_attempt_at = None
    set_status(message, S.failed, now, reason)


def record_provider_status(
    session: Session, *, provider_id: str, status: str, error_code: str | None, now: datetime,
    max_attempts: int, statuses: Mapping[str, OutgoingStatus] = TWILIO_STATUS,
    opted_out_codes: frozenset = OPTED_OUT_CODES, retry_codes: frozenset = RETRY_AFTER_CALLBACK_CODES,
) -> OutgoingMessage | None:
    """Apply one status callback; None when no message has that provider id.

    Callbacks may come late or out of order, so a message only moves forward: a 'sent' after
    'delivered' changes nothing. Every change is kept with the provider's status and error code.
    statuses and the code sets are the provider's (Twilio's unless given): a numeric code is
    compared as a number, a word (Africa's Talking's failureReason) lower-cased."""
    message = session.scalar(
        select(OutgoingMessage).where(OutgoingMessage.provider_id == provider_id).with_for_update()
    )
    if message is None:
        return None
    new = statuses.get(status.strip().lower())
    raw_code = (error_code or "").strip()[:40]
    code = int(raw_code) if raw_code.isdigit() else raw_code or None
    key = code.lower() if isinstance(code, str) else code
    detail = f"{status}" + (f" error {code}" if code else "")
    if new is None or RANK[new] <= RANK[message.status]:
        return message
    if new is S.failed and key in opted_out_codes:
        mark_opted_out(session, message, now, detail)
    elif new is S.failed and key in retry_codes and message.attempts < max_attempts:
        message.provider_id = None  # the next attempt gets an id of its own
        retry_or_fail(message, max_attempts, now, f"{detail} on {provider_id}")
    elif new is S.failed:
        fail(message, now, detail)
    else:
        set_status(message, new, now, detail)
    log.info("outgoing %s to %s: %s (%s)", message.id, mask_phone(message.to), message.status.value, detail)
    return message
