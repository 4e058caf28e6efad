"""The simulator's USSD phone: dials and answers through the USSD channel's own respond() (what
the Africa's Talking view calls), keeping the simulated session in the browser's session cookie.
The USSD channel is a separate part of Fieldline; without it the panel says so."""
from __future__ import annotations

import uuid
from typing import Callable

from flask import session

SERVICE_CODE = "*384*1#"  # shown on the dial button; the menu does not depend on it


def _respond() -> Callable[..., str] | None:
    try:
        from gateway.channels.ussd import respond
    except ImportError:
        return None
    return respond


def available() -> bool:
    return _respond() is not None


def state(phone: str | None) -> dict | None:
    """The simulated USSD session of phone (screen text, open or ended); None if there is none."""
    found = session.get("ussd_sim")
    if not found or found.get("phone") != phone:
        return None
    return found


def step(phone: str, do: str, answer: str) -> None:
    """dial: start a session; answer: send the next answer; hangup: end it."""
    respond = _respond()
    current = session.get("ussd_sim")
    if do == "hangup" or respond is None:
        session.pop("ussd_sim", None)
        return
    if do == "dial" or not current or current.get("phone") != phone or not current.get("open"):
        current = {"phone": phone, "session_id": f"sim-{uuid.uuid4()}", "answers": []}
    else:
        current["answers"] = current["answers"] + [answer.strip()]
    reply = respond(session_id=current["session_id"], phone=phone, service_code=SERVICE_CODE,
                    text="*".join(current["answers"]), channel="dev")
    current.update(screen=reply[4:] if reply[:4] in ("CON ", "END ") else reply, open=reply.startswith("CON "))
    session["ussd_sim"] = current
