"""The dev channel: POST /sms/dev with 'from' and 'body', answered in JSON. Only when DEV_CHANNEL=1."""
from __future__ import annotations

import uuid

from flask import Blueprint, abort, jsonify, request

from . import MAX_PROVIDER_ID, Unavailable, take_message, unavailable_response

bp = Blueprint("dev", __name__)


@bp.post("/sms/dev")
def inbound():
    data = request.get_json(silent=True) or request.form
    sender = (data.get("from") or "").strip()
    provider_id = str(data.get("id") or uuid.uuid4())
    if not sender or len(provider_id) > MAX_PROVIDER_ID:
        abort(400, "'from' is required, and 'id' may not be longer than 64 characters")
    try:
        outcome = take_message(channel="dev", provider_id=provider_id,
                               sender=sender, receiver="dev", body=str(data.get("body") or ""))
    except Unavailable:
        return unavailable_response()
    return jsonify(outcome.as_json())
