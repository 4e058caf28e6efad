"""Twilio: POST /sms/twilio with a signed form, the reply inline as TwiML; POST /sms/twilio/status,
the signed reports on messages Fieldline sent."""
from __future__ import annotations

import hmac
import logging
from xml.sax.saxutils import escape

from flask import Blueprint, Response, abort, request
from sqlalchemy.exc import DBAPIError
from twilio.request_validator import RequestValidator, get_signature_algorithm

from ..delivery import record_provider_status
from ..runtime import current_runtime
from . import Unavailable, take_message, unavailable_response

log = logging.getLogger(__name__)
bp = Blueprint("twilio", __name__)


def signed_url() -> str:
    """The URL Twilio signed: PUBLIC_URL + path behind a proxy, else the URL as received."""
    public = current_runtime().settings.PUBLIC_URL
    if not public:
        return request.url
    query = request.query_string.decode("latin-1")
    return public.rstrip("/") + request.path + (f"?{query}" if query else "")


def verify_signature() -> None:
    """Twilio's signature over the URL and every form value (a repeated field with all its values).

    The URL as Twilio requested it is tried first, which is one HMAC for a good request; the
    validator then tries it with and without the port, as Twilio's own signing varies."""
    token = current_runtime().settings.TWILIO_AUTH_TOKEN
    signature = request.headers.get("X-Twilio-Signature", "")
    if token and signature:
        validator = RequestValidator(token)
        url, form = signed_url(), request.form
        algorithm = get_signature_algorithm(request.headers.get("X-Twilio-Webhooks-Signature-Settings"))
        try:
            if hmac.compare_digest(validator.compute_signature(url, form, algorithm), signature):
                return
        except ValueError:  # an algorithm this library does not know: validate() says so in the log
            pass
        if validator.validate(url, form, signature, algorithm):
            return
    log.warning("refused a %s request with a bad or missing Twilio signature", request.path)
    abort(403)


def twiml(text: str) -> Response:
    body = f"<Message>{escape(text)}</Message>" if text else ""
    return Response(f'<?xml version="1.0" encoding="UTF-8"?><Response>{body}</Response>',
                    mimetype="text/xml")


@bp.post("/sms/twilio")
def inbound():
    verify_signature()
    form = request.form
    sid = form.get("MessageSid") or form.get("SmsSid")
    if not sid or "From" not in form:
        abort(400, "MessageSid and From are required")
    try:
        outcome = take_message(channel="twilio", provider_id=sid, sender=form["From"],
                               receiver=form.get("To", ""), body=form.get("Body", ""),
                               opt_out_type=form.get("OptOutType"))
    except Unavailable:
        return unavailable_response()
    return twiml(outcome.reply)


@bp.post("/sms/twilio/status")
def status_callback():
    verify_signature()
    form = request.form
    sid = form.get("MessageSid") or form.get("SmsSid")
    status = form.get("MessageStatus") or form.get("SmsStatus")
    if not sid or not status:
        abort(400, "MessageSid and MessageStatus are required")
    runtime = current_runtime()
    session = runtime.db.session()
    try:
        message = record_provider_status(
            session, provider_id=sid, status=status, error_code=form.get("ErrorCode"),
            now=runtime.clock.now(), max_attempts=runtime.settings.SEND_MAX_ATTEMPTS)
        session.commit()
    except DBAPIError as exc:
        session.rollback()
        log.error("database unavailable for a status callback: %s", type(exc.orig).__name__)
        return unavailable_response()
    finally:
        session.close()
    if message is None:
        log.info("status callback for unknown message %s (%s) ignored", sid, status)
    return Response("", status=200, mimetype="text/plain")
