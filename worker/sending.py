"""Sending: send_sms hands one outgoing message to the SMS backend, once; sweep_outgoing (every
minute, from tick) picks up what was left behind: lost jobs, retries that are due, and sends
whose worker died before it could write down the provider's answer.

Never twice: the intent (status 'sending', attempts + 1) is committed before the provider is
asked, and only a message that is queued, or retrying and due, can be claimed, under a row lock.
A message found 'sending' long after its intent is not simply sent again: the provider is asked
first whether it has it (see sweep_outgoing)."""
from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Interval, String, and_, bindparam, cast, func, insert, literal, or_, select, update
from sqlalchemy.orm import Session

from gateway.delivery import fail, mark_opted_out, mark_sent, retry_or_fail
from gateway.metrics import count_outgoing
from gateway.models import OptOut, OutgoingMessage, OutgoingStatus, OutgoingStatusChange
from gateway.outbox import QUEUE_FOR_KIND, SEND_JOB, set_status
from gateway.phones import mask_phone
from gateway.queue import enqueue_after_commit
from gateway.runtime import current_runtime

from .backends import OptedOut, PermanentFailure, SendFailure, Sms, TemporaryFailure, Uncertain, make_backend
from .ratelimit import make_limiter

log = logging.getLogger(__name__)
S = OutgoingStatus
LOST_AFTER = timedelta(minutes=1)  # queued this long with nothing done: its job was lost
STUCK_AFTER = timedelta(minutes=2)  # 'sending' this long: its worker died mid-send
RECOVER_AT_ONCE = 50  # each asks the provider; the rest wait for the next sweep
LOOP_WINDOW = timedelta(minutes=30)
LOOP_LIMIT = 5  # identical messages to one number in LOOP_WINDOW; the next is held as duplicate
LOOP_COUNTED = (S.queued, S.retrying, S.sending, S.sent, S.delivered)


@dataclass(frozen=True)
class Claim:
    sms: Sms
    attempt: int


def send_sms(outgoing_id: int) -> None:
    """Send one outgoing message; does nothing unless it is queued, or retrying and due.

    The channel's rate slot is taken before the intent is recorded, so that 'sending' is written
    just before the provider is asked, however long the wait for a slot was. With no rate limit
    (SMS_RATE_PER_SECOND=0) there is no slot to wait for, and no screening before the claim,
    which checks the same under the row lock."""
    runtime = current_runtime()
    limiter = make_limiter(runtime)
    slot = contextlib.nullcontext()
    if limiter.rate > 0:
        channel = _screen(runtime, outgoing_id)  # no slot taken for what will not go
        if channel is None:
            return
        slot = limiter.slot(channel)
    backend = make_backend(runtime.settings)
    with slot:
        claim = _claim(runtime, outgoing_id)
        if claim is None:
            return
        try:
            outcome: str | SendFailure = backend.send(claim.sms)
        except SendFailure as exc:
            outcome = exc
    _record(runtime, claim, outcome)


def sweep_outgoing() -> int:
    """Re-enqueue lost and due messages and recover stuck sends; how many it enqueued."""
    runtime = current_runtime()
    now = runtime.clock.now()
    with runtime.db.session_scope() as session:
        waiting = session.scalars(select(OutgoingMessage).where(or_(
            and_(OutgoingMessage.status == S.queued, OutgoingMessage.updated_at <= now - LOST_AFTER),
            and_(OutgoingMessage.status == S.retrying, OutgoingMessage.next_attempt_at <= now),
        )).order_by(OutgoingMessage.id)).all()
        for message in waiting:
            if message.status is S.queued:
                message.updated_at = now  # not enqueued again for another LOST_AFTER
            _enqueue(session, runtime, message)
        stuck = [(m.id, m.updated_at) for m in session.scalars(select(OutgoingMessage).where(
            OutgoingMessage.status == S.sending, OutgoingMessage.updated_at <= now - STUCK_AFTER,
        ).order_by(OutgoingMessage.id).limit(RECOVER_AT_ONCE))]
    resent = sum(_recover(runtime, outgoing_id, intent_at) for outgoing_id, intent_at in stuck)
    if waiting or stuck:
        log.info("sweep: %d queued or due enqueued, %d stuck sends recovered (%d sent again)",
                 len(waiting), len(stuck), resent)
    return len(waiting) + resent


def _screen(runtime, outgoing_id: int) -> str | None:
    """Hold back what must not go (opted out, the loop guard); the channel if it may be sent."""
    with runtime.db.session_scope() as session:
        message = _locked(session, outgoing_id)
        if message is None or not _sendable(session, runtime, message):
            return None
        return message.channel


def _claim(runtime, outgoing_id: int) -> Claim | None:
    """Record the intent and commit it before the provider is asked.

    The usual case, a message that may go, is one conditional UPDATE (due, not opted out, not a
    loop too many) and its history row; when that UPDATE takes nothing, the message is locked and
    looked at to say why (and opted-out or duplicate messages are marked so)."""
    with runtime.db.session_scope() as session:
        claimed = _claimed(session.connection(), outgoing_id, runtime.clock.now())
        if claimed is not None:
            to, body, attempts = claimed
            count_outgoing(S.sending.value)
            return Claim(Sms(outgoing_id, to, body), attempts)
    with runtime.db.session_scope() as session:
        message = _locked(session, outgoing_id)
        if message is None or not _sendable(session, runtime, message):
            return None
        message.attempts += 1
        message.next_attempt_at = None
        set_status(message, S.sending, runtime.clock.now(), f"attempt {message.attempts}")
        return Claim(Sms(message.id, message.to, message.body), message.attempts)


def _claimed(connection, outgoing_id: int, now: datetime) -> tuple[str, str, int] | None:
    """(to, body, attempts) if the conditional UPDATE took the message for sending, else None."""
    if connection.dialect.name == "postgresql":
        return connection.execute(_PG_CLAIM, {"b_id": outgoing_id, "b_now": now}).one_or_none()
    message = connection.execute(_MESSAGE, {"b_id": outgoing_id}).one_or_none()
    if message is None:
        return None
    attempts = connection.execute(_CLAIM, {
        "b_id": outgoing_id, "b_now": now, "b_to": message.to, "b_body": message.body,
        "b_since": message.created_at - LOOP_WINDOW,
    }).scalar_one_or_none()
    if attempts is None:
        return None
    connection.execute(_HISTORY, {"b_message_id": outgoing_id, "b_status": S.sending, "b_at": now,
                                  "b_detail": f"attempt {attempts}"})
    return message.to, message.body, attempts


def _marked_sent(connection, outgoing_id: int, provider_id: str, now: datetime) -> bool:
    """True if the conditional UPDATE marked the message sent with the provider's id.

    On PostgreSQL this commit does not wait for its flush to disk (synchronous_commit off for
    the transaction; the intent's commit does wait). Should the database stop in the moment
    before the flush, the message is found 'sending' and the sweep asks the provider, as after a
    worker that died before writing the answer: it is marked sent, not sent again."""
    params = {"b_id": outgoing_id, "b_provider_id": provider_id, "b_now": now, "b_detail": provider_id[:200]}
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql("SET LOCAL synchronous_commit TO OFF")
        return bool(connection.execute(_PG_SENT, params).scalar())
    if not connection.execute(_SENT, params).rowcount:
        return False
    connection.execute(_HISTORY, {"b_message_id": outgoing_id, "b_status": S.sent, "b_at": now,
                                  "b_detail": provider_id[:200]})
    return True


def _sendable(session: Session, runtime, message: OutgoingMessage) -> bool:
    """Queued, or retrying and due; and not to a number that opted out, nor one loop too many."""
    now = runtime.clock.now()
    due = message.status is S.queued or (message.status is S.retrying and (
        message.next_attempt_at is None or message.next_attempt_at <= now))
    if not due:
        return False
    opted_out, repeats = _checks(session, message)
    if opted_out:
        message.next_attempt_at = None
        set_status(message, S.opted_out, now, "the number answered STOP")
        log.info("outgoing %s to %s: opted out, not sent", message.id, mask_phone(message.to))
        return False
    if repeats >= LOOP_LIMIT:
        message.next_attempt_at = None
        set_status(message, S.duplicate, now, f"more than {LOOP_LIMIT} identical messages in 30 minutes")
        log.warning("outgoing %s to %s: held as duplicate (loop guard)", message.id, mask_phone(message.to))
        return False
    return True


# The statements of a send, built once. The checks: whether the number opted out, and how many
# identical messages to it were made before this one in the loop window, sent or going.
_OPTED_OUT = select(OptOut.phone).where(OptOut.phone == bindparam("b_to")).exists()
_EARLIER = OutgoingMessage.__table__.alias("earlier")  # not the row an UPDATE below is about
_REPEATS = select(func.count()).select_from(_EARLIER).where(
    _EARLIER.c.to == bindparam("b_to"),
    _EARLIER.c.id < bindparam("b_id"),
    _EARLIER.c.created_at > bindparam("b_since"),
    # the statuses written into the SQL: as a parameter, a prepared (generic) plan takes them for a
    # rare few and scans the status index for them, which holds nearly every message
    _EARLIER.c.status.in_(bindparam("b_counted", [s.value for s in LOOP_COUNTED], expanding=True,
                                    literal_execute=True)),
    _EARLIER.c.body == bindparam("b_body"),
).scalar_subquery()
_CHECKS = select(_OPTED_OUT, _REPEATS)
_MESSAGE = select(OutgoingMessage.to, OutgoingMessage.body, OutgoingMessage.created_at).where(
    OutgoingMessage.id == bindparam("b_id"))
_TABLE = OutgoingMessage.__table__
_HISTORY_TABLE = OutgoingStatusChange.__table__
_DUE = or_(_TABLE.c.status == S.queued,
           and_(_TABLE.c.status == S.retrying,
                or_(_TABLE.c.next_attempt_at.is_(None), _TABLE.c.next_attempt_at <= bindparam("b_now"))))
_INTENT = {"attempts": _TABLE.c.attempts + 1, "next_attempt_at": None, "status": S.sending,
           "updated_at": bindparam("b_now")}
# the provider's id, as mark_sent writes it
_SENT_VALUES = {"provider_id": bindparam("b_provider_id"), "sent_at": bindparam("b_now"), "error": None,
                "next_attempt_at": None, "status": S.sent, "updated_at": bindparam("b_now")}
_SENDING = _TABLE.c.status.in_((S.sending, S.queued, S.retrying))
# the intent, when the message is queued, or retrying and due, and passes the checks
_CLAIM = (
    update(_TABLE)
    .where(_TABLE.c.id == bindparam("b_id"), _DUE, ~_OPTED_OUT, _REPEATS < LOOP_LIMIT)
    .values(_INTENT)
    .returning(_TABLE.c.attempts)
)
_SENT = update(_TABLE).where(_TABLE.c.id == bindparam("b_id"), _SENDING).values(_SENT_VALUES)
_HISTORY = insert(_HISTORY_TABLE).values(
    message_id=bindparam("b_message_id"), status=bindparam("b_status"), at=bindparam("b_at"),
    detail=bindparam("b_detail"))

# On PostgreSQL the claim and the sent mark are one statement each: the checks are made against
# the row being updated, and its history row is written by the same statement (a data-modifying
# WITH), so a send takes fewer round trips to the database.
_ROW_REPEATS = select(func.count()).select_from(_EARLIER).where(
    _EARLIER.c.to == _TABLE.c.to,
    _EARLIER.c.id < _TABLE.c.id,
    _EARLIER.c.created_at > _TABLE.c.created_at - bindparam("b_window", LOOP_WINDOW, type_=Interval()),
    _EARLIER.c.status.in_(bindparam("b_counted", [s.value for s in LOOP_COUNTED], expanding=True,
                                    literal_execute=True)),
    _EARLIER.c.body == _TABLE.c.body,
).scalar_subquery()
_CLAIMED = (
    update(_TABLE)
    .where(_TABLE.c.id == bindparam("b_id"), _DUE,
           ~select(OptOut.phone).where(OptOut.phone == _TABLE.c.to).exists(), _ROW_REPEATS < LOOP_LIMIT)
    .values(_INTENT)
    .returning(_TABLE.c.id, _TABLE.c.to, _TABLE.c.body, _TABLE.c.attempts)
    .cte("claimed")
)
_PG_CLAIM = select(_CLAIMED.c.to, _CLAIMED.c.body, _CLAIMED.c.attempts).add_cte(
    insert(_HISTORY_TABLE).from_select(
        ["message_id", "status", "at", "detail"],
        select(_CLAIMED.c.id, literal(S.sending.value), bindparam("b_now"),
               literal("attempt ") + cast(_CLAIMED.c.attempts, String)),
    ).cte("claimed_history"))
_MARKED = update(_TABLE).where(_TABLE.c.id == bindparam("b_id"), _SENDING).values(_SENT_VALUES) \
    .returning(_TABLE.c.id).cte("marked")
_PG_SENT = select(func.count()).select_from(_MARKED).add_cte(
    insert(_HISTORY_TABLE).from_select(
        ["message_id", "status", "at", "detail"],
        select(_MARKED.c.id, literal(S.sent.value), bindparam("b_now"), bindparam("b_detail")),
    ).cte("marked_history"))


def _checks(session: Session, message: OutgoingMessage) -> tuple[bool, int]:
    """(opted out, identical messages before it in the loop window) for message."""
    opted_out, repeats = session.execute(_CHECKS, {
        "b_to": message.to, "b_id": message.id, "b_since": message.created_at - LOOP_WINDOW, "b_body": message.body,
    }).one()
    return bool(opted_out), repeats


def _record(runtime, claim: Claim, outcome: str | SendFailure) -> None:
    """Write down the provider's answer, in a transaction of its own.

    A message taken by the provider and still 'sending' (or queued or retrying) is marked sent by
    one conditional UPDATE and its history row; anything else is locked and looked at."""
    settings = runtime.settings
    if isinstance(outcome, str):
        now = runtime.clock.now()
        with runtime.db.session_scope() as session:
            if _marked_sent(session.connection(), claim.sms.id, outcome, now):
                count_outgoing(S.sent.value)
                log.info("outgoing %s to %s: sent", claim.sms.id, mask_phone(claim.sms.to))
                return
    with runtime.db.session_scope() as session:
        message = _locked(session, claim.sms.id)
        now = runtime.clock.now()
        if isinstance(outcome, str):
            if message.status in (S.sending, S.queued, S.retrying):
                mark_sent(message, outcome, now)
                log.info("outgoing %s to %s: sent", message.id, mask_phone(message.to))
            elif message.provider_id != outcome:
                log.error("outgoing %s: the provider took it as %s but it is %s already as %s",
                          message.id, outcome, message.status.value, message.provider_id)
            return
        if message.status is not S.sending or message.attempts != claim.attempt:
            log.warning("outgoing %s: attempt %d failed (%s) but the message has moved on to %s",
                        message.id, claim.attempt, outcome.reason, message.status.value)
            return
        if isinstance(outcome, Uncertain):
            # Left 'sending': the sweep asks the provider before anything is sent again.
            log.warning("outgoing %s: %s; the sweep will check with the provider", message.id, outcome.reason)
        elif isinstance(outcome, OptedOut):
            mark_opted_out(session, message, now, outcome.reason)
        elif isinstance(outcome, PermanentFailure):
            fail(message, now, outcome.reason)
        else:
            retry_or_fail(message, settings.SEND_MAX_ATTEMPTS, now, outcome.reason)
        log.info("outgoing %s to %s: attempt %d: %s (%s)", message.id, mask_phone(message.to),
                 claim.attempt, message.status.value, outcome.reason)


def _recover(runtime, outgoing_id: int, intent_at: datetime) -> int:
    """A send whose worker died after recording its intent: adopt the provider's message if it
    has one, else send again. 1 if it was enqueued to be sent again."""
    with runtime.db.session_scope() as session:
        message = session.get(OutgoingMessage, outgoing_id)
        sms = Sms(message.id, message.to, message.body)
        known = frozenset(session.scalars(select(OutgoingMessage.provider_id).where(
            OutgoingMessage.to == message.to, OutgoingMessage.provider_id.is_not(None),
            OutgoingMessage.created_at >= intent_at - timedelta(days=1),
        )))
    try:
        provider_id = make_backend(runtime.settings).find_sent(sms, intent_at, known)
    except TemporaryFailure as exc:
        log.warning("outgoing %s: cannot ask the provider now (%s); next sweep", outgoing_id, exc.reason)
        return 0
    with runtime.db.session_scope() as session:
        message = _locked(session, outgoing_id)
        now = runtime.clock.now()
        if message.status is not S.sending or message.updated_at != intent_at:
            return 0  # its worker was slow, not dead, and has written its answer
        if provider_id is not None:
            mark_sent(message, provider_id, now, f"{provider_id}, found at the provider after a cut-off send")
            log.info("outgoing %s to %s: found at the provider, sent", message.id, mask_phone(message.to))
            return 0
        reason = "the send was cut off and the provider has no such message"
        if retry_or_fail(message, runtime.settings.SEND_MAX_ATTEMPTS, now, reason) is S.retrying:
            message.next_attempt_at = now
            _enqueue(session, runtime, message)
            return 1
        return 0


def _locked(session: Session, outgoing_id: int) -> OutgoingMessage | None:
    return session.get(OutgoingMessage, outgoing_id, with_for_update=True)


def _enqueue(session: Session, runtime, message: OutgoingMessage) -> None:
    enqueue_after_commit(session, runtime.queues, QUEUE_FOR_KIND[message.kind], SEND_JOB, message.id)
