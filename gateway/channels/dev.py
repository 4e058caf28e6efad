"""The dev channel: POST /sms/dev with 'from' and 'body', answered in JSON. Only when DEV_CHANNEL=1."""
from __future__ import annotations

import uuid

from flask import Blueprint, abort, jsonify, request

from . import MAX_PROVIDER_ID, Unavailable, take_message, unavailable_response

bp = Blueprint("dev", __name__)


@bp.post("/sms/dev")
def inbound():
    data = request.get_json(silent=True)
    if not isinstance(data, dict):  # a JSON list or string is no message: read the form
        data = request.form
    sender, body = data.get("from"), data.get("body") or ""
    provider_id = str(data.get("id") or uuid.uuid4())
    if not isinstance(sender, str) or not sender.strip() or not isinstance(body, str) \
            or len(provider_id) > MAX_PROVIDER_ID:
        abort(400, "'from' (text) is required, 'body' is text, and 'id' may not be longer than 64 characters")
    try:
        outcome = take_message(channel="dev", provider_id=provider_id,
                               sender=sender.strip(), receiver="dev", body=body)
    except Unavailable:
        return unavailable_response()
    return jsonify(outcome.as_json())
