"""The phone simulator (only with DEV_CHANNEL on): text or dial as anyone on the roster and read
the replies; and the printable volunteer card per language."""
from __future__ import annotations

import uuid

from flask import abort, redirect, render_template, request, url_for
from flask_login import login_required

from gateway.config import LANGUAGES
from gateway.intake import receive
from gateway.phones import InvalidPhone, normalize_phone
from gateway.runtime import current_runtime

from .. import bp, db
from ..auth import admin_required
from ..card import volunteer_card
from ..forms import SimulatorForm, UssdForm
from ..queries import conversation, simulator_contacts
from .. import ussd_panel


def _dev_only() -> None:
    if not current_runtime().settings.DEV_CHANNEL:
        abort(404)


@bp.route("/simulator", methods=["GET", "POST"])
@admin_required
def simulator():
    _dev_only()
    session, runtime = db(), current_runtime()
    form = SimulatorForm()
    if request.method == "GET":
        form.phone.data = request.args.get("phone", "")
        form.text.data = request.args.get("text", "")
    status = 200
    if form.validate_on_submit():
        try:
            phone = normalize_phone(form.phone.data, runtime.settings.DEFAULT_REGION)
        except InvalidPhone as exc:
            form.phone.errors.append(str(exc))
        else:
            receive(session, runtime, channel="dev", provider_id=f"sim-{uuid.uuid4()}", sender=phone,
                    receiver="simulator", body=form.text.data or "")
            session.commit()
            return redirect(url_for("admin.simulator", phone=phone))
    if request.method == "POST":
        status = 400
    phone = _phone(form.phone.data)
    return render_template(
        "admin/simulator.html", form=form, contacts=simulator_contacts(session),
        messages=conversation(session, phone) if phone else [], phone=phone,
        examples=[f.example(runtime.settings.DEFAULT_LANGUAGE) for f in runtime.pack.forms.values()
                  if "volunteer" in f.roles],
        ussd=ussd_panel.state(phone), ussd_form=UssdForm(phone=phone or ""),
        ussd_available=ussd_panel.available(), ussd_code=ussd_panel.SERVICE_CODE,
    ), status


@bp.post("/simulator/ussd")
@admin_required
def simulator_ussd():
    _dev_only()
    form = UssdForm()
    if form.validate_on_submit():
        phone = _phone(form.phone.data)
        if phone:
            # the USSD channel works in transactions of its own: end this request's first, which
            # on SQLite would otherwise hold the write lock the channel waits for
            db().rollback()
            ussd_panel.step(phone, request.form.get("do", "answer"), form.answer.data or "")
        return redirect(url_for("admin.simulator", phone=phone or form.phone.data))
    return redirect(url_for("admin.simulator"))


def _phone(raw: str | None) -> str | None:
    try:
        return normalize_phone(raw or "", current_runtime().settings.DEFAULT_REGION)
    except InvalidPhone:
        return None


@bp.get("/card")
@login_required
def card():
    lang = request.args.get("lang", current_runtime().settings.DEFAULT_LANGUAGE)
    if lang not in LANGUAGES:
        abort(404)
    return render_template("admin/card.html", card=volunteer_card(current_runtime().pack, lang),
                           languages=LANGUAGES)
