"""The message log (what came in and what went out, with statuses and each change of an outgoing
message) and the audit log of roster, area and review changes."""
from __future__ import annotations

from flask import abort, render_template, request

from flask_login import login_required

from gateway.phones import InvalidPhone, normalize_phone
from gateway.runtime import current_runtime

from .. import bp, db
from ..auth import admin_required
from ..queries import AUDIT_ENTITIES, audit_page, inbound_page, outgoing_in_scope, outgoing_page
from ..scope import current_scope


@bp.get("/messages")
@login_required
def messages():
    session = db()
    direction = "out" if request.args.get("dir") == "out" else "in"
    raw_phone = request.args.get("phone", "").strip()[:40]
    phone, error = None, None
    if raw_phone:
        try:
            phone = normalize_phone(raw_phone, current_runtime().settings.DEFAULT_REGION)
        except InvalidPhone as exc:
            error = str(exc)
    before = request.args.get("before", type=int)
    page = None
    if error is None:
        reader = outgoing_page if direction == "out" else inbound_page
        page = reader(session, current_scope(session), phone, before)
    return render_template("admin/messages.html", page=page, direction=direction, phone=raw_phone, error=error,
                           before=before)


@bp.get("/messages/out/<int:message_id>")
@login_required
def outgoing(message_id: int):
    session = db()
    found = outgoing_in_scope(session, current_scope(session), message_id) or abort(404)
    message, name = found
    return render_template("admin/outgoing.html", message=message, name=name)


@bp.get("/audit")
@admin_required
def audit():
    entity = request.args.get("entity", "")
    before = request.args.get("before", type=int)
    return render_template("admin/audit.html", page=audit_page(db(), entity, before), entity=entity,
                           entities=AUDIT_ENTITIES, before=before)
