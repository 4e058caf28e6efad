"""Channels: one module per provider; how its requests are verified and read, how replies are written."""
from __future__ import annotations

import logging

from flask import Response
from sqlalchemy.exc import DBAPIError

from .. import sql
from ..intake import Outcome, StillWriting, receive
from ..models import InboundMessage, OutgoingKind
from ..outbox import queue_sms
from ..phones import InvalidPhone, normalize_phone
from ..runtime import current_runtime

log = logging.getLogger(__name__)
MAX_PROVIDER_ID = 64  # the longest provider message id the message tables keep


class Unavailable(Exception):
    """The database could not take the message; the provider should try again."""


def take_message(*, channel: str, provider_id: str, sender: str, receiver: str, body: str,
                 opt_out_type: str | None = None, reply_by_sms: bool = False) -> Outcome:
    """Run one message through intake in its own transaction, committed before the reply goes out.

    reply_by_sms: the provider takes no reply in its answer (Africa's Talking), so the reply is
    queued as an outgoing SMS in the same transaction; a provider's retry queues nothing more."""
    runtime = current_runtime()
    args = dict(channel=channel, provider_id=provider_id, sender=sender, receiver=receiver, body=body,
                opt_out_type=opt_out_type)
    try:
        return take(runtime, reply_by_sms=reply_by_sms, **args)
    except DBAPIError as exc:
        log.error("database unavailable for a %s message: %s", channel, type(exc.orig).__name__)
        raise Unavailable() from None
    except StillWriting:
        log.warning("a %s message arrived again while its first delivery was still being stored", channel)
        raise Unavailable() from None


def take(runtime, *, reply_by_sms: bool = False, **args) -> Outcome:
    """take_message without a request: one message through intake, committed, taken once more
    on a new connection if the database had dropped the first, or a statement at a time if a
    failure while its writes were held back asks for it."""
    try:
        return _take_once(runtime, reply_by_sms, **args)
    except sql.RunAgainAlone as exc:
        log.warning("a %s message goes again a statement at a time: %s", args["channel"], exc)
        return _take_once(runtime, reply_by_sms, pipelined=False, **args)
    except DBAPIError as exc:
        if exc.connection_invalidated:
            # a pooled connection the server had dropped (it restarted since): the pool opens new
            # ones now, and the message goes again. Nothing of it was kept; or, if what failed was
            # the commit after it reached the server, the message is found and answered as a retry.
            log.warning("database connection lost for a %s message; trying once more", args["channel"])
            return _take_once(runtime, reply_by_sms, **args)
        if runtime.db.is_sqlite:
            raise
        # a write held back failed when it was sent (a broken constraint, say), after the handler
        # had returned: nothing of the message was kept. It goes once more a statement at a time,
        # where the handler meets the error itself and the message is kept as failed.
        log.warning("a %s message's writes held back failed (%s); trying once more a statement at a time",
                    args["channel"], type(exc.orig).__name__)
        return _take_once(runtime, reply_by_sms, pipelined=False, **args)


def _take_once(runtime, reply_by_sms: bool, pipelined: bool = True, **message) -> Outcome:
    session = runtime.db.session()
    try:
        with sql.pipelined(session, enabled=pipelined, commit=True):  # the last writes go with COMMIT
            outcome = receive(session, runtime, **message)
            if reply_by_sms and outcome.reply and not outcome.duplicate:
                _queue_reply(session, runtime, outcome)
        session.commit()
        return outcome
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def _queue_reply(session, runtime, outcome: Outcome) -> None:
    message = session.get(InboundMessage, outcome.message_id)
    try:  # intake kept the sender as sent when it is no phone number ("+2\ufffd4..." say): no SMS goes there
        to = normalize_phone(message.sender, runtime.settings.DEFAULT_REGION)
    except InvalidPhone:
        log.info("message %s: no reply sent, the sender is not a phone number", message.id)
        return
    queue_sms(session, runtime, to=to, body=outcome.reply, kind=OutgoingKind.reply,
              now=runtime.clock.now(), contact_id=message.contact_id)


def unavailable_response() -> Response:
    return Response("Service unavailable, try again\n", status=503, mimetype="text/plain",
                    headers={"Retry-After": "5"})
