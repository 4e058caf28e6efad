"""Sending a message through intake the way a channel does, inside the test's transaction."""
from __future__ import annotations

import itertools

from gateway.intake import Outcome, receive

_ids = itertools.count(1)


def send(runtime, phone: str, text: str, channel: str = "test") -> Outcome:
    session = runtime.db.session()
    try:
        outcome = receive(session, runtime, channel=channel, provider_id=f"T{next(_ids)}",
                          sender=phone, receiver="test", body=text)
        session.commit()
        return outcome
    finally:
        session.close()
