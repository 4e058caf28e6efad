"""Channels: one module per provider; how its requests are verified and read, how replies are written."""
from __future__ import annotations

import logging

from flask import Response
from sqlalchemy.exc import DBAPIError

from ..intake import Outcome, receive
from ..runtime import current_runtime

log = logging.getLogger(__name__)


class Unavailable(Exception):
    """The database could not take the message; the provider should try again."""


def take_message(*, channel: str, provider_id: str, sender: str, receiver: str, body: str,
                 opt_out_type: str | None = None) -> Outcome:
    """Run one message through intake in its own transaction, committed before the reply goes out."""
    runtime = current_runtime()
    session = runtime.db.session()
    try:
        outcome = receive(session, runtime, channel=channel, provider_id=provider_id,
                          sender=sender, receiver=receiver, body=body, opt_out_type=opt_out_type)
        session.commit()
        return outcome
    except DBAPIError as exc:
        session.rollback()
        log.error("database unavailable for a %s message: %s", channel, type(exc.orig).__name__)
        raise Unavailable() from None
    finally:
        session.close()


def unavailable_response() -> Response:
    return Response("Service unavailable, try again\n", status=503, mimetype="text/plain",
                    headers={"Retry-After": "5"})
