"""Twilio: POST /sms/twilio with a signed form, the reply inline as TwiML; POST /sms/twilio/status,
the signed reports on messages Fieldline sent."""
from __future__ import annotations

import hmac
import logging
import re
from xml.sax.saxutils import escape

from flask import Blueprint, Response, abort, request
from sqlalchemy.exc import DBAPIError
from twilio.request_validator import RequestValidator, get_signature_algorithm

from ..db import storable
from ..delivery import record_provider_status
from ..runtime import current_runtime
from . import MAX_PROVIDER_ID, Unavailable, take_message, unavailable_response

log = logging.getLogger(__name__)
bp = Blueprint("twilio", __name__)
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def signed_url() -> str:
    """The URL Twilio signed: PUBLIC_URL + path behind a proxy, else the URL as received."""
    public = current_runtime().settings.PUBLIC_URL
    if not public:
        return request.url
    query = request.query_string.decode("latin-1")
    return public.rstrip("/") + request.path + (f"?{query}" if query else "")


def verify_signature() -> None:
    """403 unless X-Twilio-Signature signs the URL and every form value, a repeated field's too
    (a second value added to a signed request must not slip through unsigned). Twilio posts only
    URL-encoded forms; any other body is refused before it is read.

    The URL as Twilio requested it is tried first, which is one HMAC for a good request; the
    validator then tries it with and without the port, as Twilio's own signing varies."""
    token = current_runtime().settings.TWILIO_AUTH_TOKEN
    signature = request.headers.get("X-Twilio-Signature", "")
    if token and signature and request.mimetype == "application/x-www-form-urlencoded":
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
    """The reply as TwiML. Characters XML 1.0 cannot hold even escaped (U+FFFE, U+FFFF, controls),
    which a reply quoting the volunteer's text may carry, go as U+FFFD: Twilio drops a reply it
    cannot parse."""
    body = f"<Message>{escape(_NOT_XML.sub(chr(0xFFFD), text))}</Message>" if text else ""
    return Response(f'<?xml version="1.0" encoding="UTF-8"?><Response>{body}</Response>',
                    mimetype="text/xml")


@bp.post("/sms/twilio")
def inbound():
    verify_signature()
    form = request.form
    sid = form.get("MessageSid") or form.get("SmsSid")
    if not sid or "From" not in form or len(sid) > MAX_PROVIDER_ID:  # Twilio's are 34 characters
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
    if not sid or not status or len(sid) > MAX_PROVIDER_ID:
        abort(400, "MessageSid and MessageStatus are required")
    runtime = current_runtime()
    session = runtime.db.session()
    sid, status, error_code = storable(sid), storable(status), storable(form.get("ErrorCode") or "")
    try:
        message = record_provider_status(
            session, provider_id=sid, status=status, error_code=error_code or None,
            now=runtime.clock.now(), max_attempts=runtime.settings.SEND_MAX_ATTEMPTS)
        session.commit()
    except DBAPIError as exc:
        session.rollback()
        log.error("database unavailable for a status callback: %s", type(exc.orig).__name__)
        return unavailable_response()
    finally:
        session.close()
    if message is None:
        log.info("status callback for unknown message %s (%s) ignored", sid[:40], status[:20])
    return Response("", status=200, mimetype="text/plain")
