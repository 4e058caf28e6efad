"""Africa's Talking: USSD sessions (POST /ussd/africastalking), SMS in (POST /sms/africastalking)
and delivery reports on the SMS Fieldline sent (POST /sms/africastalking/status).

Africa's Talking signs nothing, so every request must carry the secret AT_CALLBACK_SECRET as the
last part of its path (/ussd/africastalking/<secret>), or come from an address in AT_ALLOWED_IPS,
or both when both are set; anything else gets 403 and nothing is stored. With neither set the
endpoints refuse every request. SMS replies cannot go back in the answer: they are queued and sent
through SMS_BACKEND like any other message."""
from __future__ import annotations

import hmac
import ipaddress
import logging

from flask import Blueprint, Response, abort, request
from sqlalchemy.exc import DBAPIError

from ..db import storable
from ..delivery import AT_OPTED_OUT_REASONS, AT_STATUS, record_provider_status
from ..runtime import current_runtime
from . import MAX_PROVIDER_ID, Unavailable, take_message, unavailable_response
from .ussd import respond

log = logging.getLogger(__name__)
bp = Blueprint("africastalking", __name__)
CHANNEL = "africastalking"


def verify(secret: str | None, endpoint: str) -> None:
    """403 unless the path's secret and the caller's address are what the settings ask for."""
    settings = current_runtime().settings
    expected = settings.AT_CALLBACK_SECRET
    networks = settings.at_allowed_networks
    refused = not expected and not networks
    if expected:
        refused = refused or not hmac.compare_digest((secret or "").encode(), expected.encode())
    elif secret is not None:
        refused = True
    if networks and not refused:
        refused = not _allowed_address(request.remote_addr, networks)
    if refused:
        # the path holds the secret: never log it
        log.warning("refused an Africa's Talking %s request from %s%s", endpoint, request.remote_addr,
                    "" if expected or networks else " (set AT_CALLBACK_SECRET or AT_ALLOWED_IPS)")
        abort(403)


def _allowed_address(address: str | None, networks) -> bool:
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return False
    return any(ip in network for network in networks)


@bp.post("/ussd/africastalking", defaults={"secret": None})
@bp.post("/ussd/africastalking/<secret>")
def ussd(secret: str | None):
    verify(secret, "USSD")
    form = request.form
    session_id, phone = form.get("sessionId", ""), form.get("phoneNumber", "")
    if not session_id or not phone or len(session_id) > MAX_PROVIDER_ID:
        abort(400, "sessionId and phoneNumber are required")
    text = respond(session_id=session_id, phone=phone, service_code=form.get("serviceCode", ""),
                   text=form.get("text", ""))
    return Response(text, mimetype="text/plain")


@bp.post("/sms/africastalking", defaults={"secret": None})
@bp.post("/sms/africastalking/<secret>")
def inbound(secret: str | None):
    verify(secret, "SMS")
    form = request.form
    message_id, sender = form.get("id", ""), form.get("from", "")
    if not message_id or not sender or len(message_id) > MAX_PROVIDER_ID:
        abort(400, "id and from are required")
    try:
        take_message(channel=CHANNEL, provider_id=message_id, sender=sender, receiver=form.get("to", ""),
                     body=form.get("text", ""), reply_by_sms=True)
    except Unavailable:
        return unavailable_response()
    return Response("", status=200, mimetype="text/plain")


@bp.post("/sms/africastalking/status", defaults={"secret": None})
@bp.post("/sms/africastalking/status/<secret>")
def delivery_report(secret: str | None):
    verify(secret, "delivery report")
    form = request.form
    message_id, status = form.get("id", ""), form.get("status", "")
    if not message_id or not status:
        abort(400, "id and status are required")
    runtime = current_runtime()
    session = runtime.db.session()
    message_id, status = storable(message_id), storable(status)  # NUL is no text to PostgreSQL
    try:
        message = record_provider_status(
            session, provider_id=message_id, status=status, error_code=storable(form.get("failureReason") or ""),
            now=runtime.clock.now(), max_attempts=runtime.settings.SEND_MAX_ATTEMPTS,
            statuses=AT_STATUS, opted_out_codes=AT_OPTED_OUT_REASONS, retry_codes=frozenset())
        session.commit()
    except DBAPIError as exc:
        session.rollback()
        log.error("database unavailable for a delivery report: %s", type(exc.orig).__name__)
        return unavailable_response()
    finally:
        session.close()
    if message is None:
        log.info("delivery report for unknown message %s (%s) ignored", message_id, status)
    return Response("", status=200, mimetype="text/plain")
