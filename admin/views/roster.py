"""Volunteers and staff (list, add, edit, deactivate, CSV import and export) and the area tree;
admins only. Every change goes through gateway.roster, which writes the audit log."""
from __future__ import annotations

import io

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from gateway.accounts import set_password
from gateway.models import Area, AreaKind, Contact, Role
from gateway.phones import InvalidPhone, normalize_phone
from gateway.roster import (
    COLUMNS,
    RosterError,
    add_area,
    change_phone,
    import_roster,
    move_area,
    rename_area,
    save_contact,
    set_active,
)
from gateway.runtime import current_runtime

from .. import bp, db
from ..auth import admin_required
from ..csvout import csv_response
from ..forms import AreaForm, ContactForm, ImportForm, options
from ..queries import all_contacts, area_choices, area_paths, area_tree, contacts_page


def _filters() -> dict[str, str]:
    return {"q": request.args.get("q", "").strip()[:80], "role": request.args.get("role", ""),
            "status": request.args.get("status", "active")}


def _page() -> int:
    return request.args.get("page", 1, type=int) or 1


@bp.get("/contacts")
@admin_required
def contacts():
    filters = _filters()
    found, paths = contacts_page(db(), filters["q"], filters["role"], filters["status"], _page())
    return render_template("admin/contacts.html", page=found, paths=paths, filters=filters)


@bp.get("/contacts.csv")
@admin_required
def contacts_csv():
    filters = _filters()
    rows = ([c.name, c.phone, c.role.value, ";".join(paths), c.language, "yes" if c.active else "no"]
            for c, paths in all_contacts(db(), filters["q"], filters["role"], filters["status"]))
    return csv_response("fieldline-roster.csv", [*COLUMNS, "active"], rows)


def _contact_form(contact: Contact | None = None) -> ContactForm:
    form = ContactForm(obj=None)
    form.areas.choices = options(area_choices(db()))
    if contact is not None and request.method == "GET":
        form.name.data, form.phone.data = contact.name, contact.phone
        form.role.data, form.language.data = contact.role.value, contact.language
        form.areas.data = [link.area_id for link in contact.area_links]
    return form


def _save(form: ContactForm, contact: Contact | None) -> Contact | None:
    """Write the form through the roster's functions; None (and the errors on the form) if refused."""
    session, runtime = db(), current_runtime()
    region, me = runtime.settings.DEFAULT_REGION, current_user.contact
    try:
        phone = normalize_phone(form.phone.data, region)
    except InvalidPhone as exc:
        form.phone.errors.append(str(exc))
        return None
    other = session.scalar(select(Contact).where(Contact.phone == phone))
    if other is not None and other is not contact:
        form.phone.errors.append(f"This number belongs to {other.name}.")
        return None
    if contact is me and form.role.data != Role.admin.value:
        form.role.errors.append("You cannot take away your own admin role.")
        return None
    if form.password.data and form.role.data == Role.volunteer.value:
        form.password.errors.append("Volunteers do not sign in; leave the password empty.")
        return None
    paths = area_paths(session, form.areas.data)
    try:
        if contact is not None:
            change_phone(session, contact, phone, region, actor_id=me.id)
        saved, _ = save_contact(session, name=form.name.data, phone=phone, role=form.role.data,
                                areas=[paths[i] for i in form.areas.data], language=form.language.data,
                                region=region, create_areas=False, actor_id=me.id, activate=contact is None)
        if form.password.data:
            set_password(session, saved, form.password.data, actor_id=me.id)
    except RosterError as exc:
        session.rollback()
        _field_for(form, str(exc)).append(str(exc))
        return None
    session.commit()
    return saved


def _field_for(form: ContactForm, message: str) -> list:
    """The error list a roster refusal belongs on: the field it names, else the form's."""
    for word, field in (("password", form.password), ("area", form.areas), ("name", form.name),
                        ("language", form.language), ("role", form.role), ("phone", form.phone)):
        if word in message:
            return field.errors
    return form.form_errors


@bp.route("/contacts/new", methods=["GET", "POST"])
@admin_required
def contact_new():
    form = _contact_form()
    if form.validate_on_submit():
        saved = _save(form, None)
        if saved is not None:
            flash(f"{saved.name} added.")
            return redirect(url_for("admin.contact_edit", contact_id=saved.id))
    return render_template("admin/contact_form.html", form=form, contact=None), 200 if request.method == "GET" else 400


@bp.route("/contacts/<int:contact_id>", methods=["GET", "POST"])
@admin_required
def contact_edit(contact_id: int):
    contact = db().get(Contact, contact_id) or abort(404)
    form = _contact_form(contact)
    if form.validate_on_submit():
        saved = _save(form, contact)
        if saved is not None:
            flash(f"{saved.name} saved.")
            return redirect(url_for("admin.contact_edit", contact_id=saved.id))
    status = 200 if request.method == "GET" else 400
    return render_template("admin/contact_form.html", form=form, contact=contact), status


@bp.post("/contacts/<int:contact_id>/active")
@admin_required
def contact_active(contact_id: int):
    session = db()
    contact = session.get(Contact, contact_id) or abort(404)
    active = request.form.get("active") == "1"
    if contact is current_user.contact and not active:
        flash("You cannot deactivate yourself.", "error")
    elif set_active(session, contact, active, actor_id=current_user.contact.id):
        session.commit()
        flash(f"{contact.name} {'reactivated' if active else 'deactivated'}.")
    return redirect(url_for("admin.contact_edit", contact_id=contact.id))


@bp.route("/contacts/import", methods=["GET", "POST"])
@admin_required
def contacts_import():
    form = ImportForm()
    report = None
    status = 200
    if form.validate_on_submit():
        session = db()
        try:
            text = form.file.data.read().decode("utf-8-sig")
            report = import_roster(session, io.StringIO(text), current_runtime().settings.DEFAULT_REGION,
                                   actor_id=current_user.contact.id)
            session.commit()
        except UnicodeDecodeError:
            form.file.errors.append("The file is not UTF-8 text. Save it as 'CSV UTF-8' and try again.")
        except RosterError as exc:
            form.file.errors.append(str(exc))
        if report is None or report.refused:
            status = 400 if report is None else 200
    elif request.method == "POST":
        status = 400
    return render_template("admin/contacts_import.html", form=form, report=report, columns=COLUMNS), status


# -- areas ---------------------------------------------------------------------------------------------

def _parents_for(kind: AreaKind | None) -> list[tuple[int, str]]:
    """The areas an area of kind may go under (0: none, for a district); any kind when None."""
    if kind is AreaKind.district:
        return [(0, "— none: a district")]
    above = {AreaKind.township: (AreaKind.district,), AreaKind.village: (AreaKind.township,)}
    kinds = above.get(kind, (AreaKind.district, AreaKind.township))
    choices = area_choices(db(), kinds)
    return choices if kind is not None else [(0, "— none: a new district")] + choices


@bp.route("/areas", methods=["GET", "POST"])
@admin_required
def areas():
    session = db()
    form = AreaForm()
    form.parent.choices = options(_parents_for(None))
    status = 200
    if form.validate_on_submit():
        parent = session.get(Area, form.parent.data) if form.parent.data else None
        try:
            area = add_area(session, form.name.data, parent, actor_id=current_user.contact.id)
            session.commit()
            flash(f"{area.kind.value.capitalize()} {area.name} added.")
            return redirect(url_for("admin.areas"))
        except RosterError as exc:
            session.rollback()
            form.name.errors.append(str(exc))
    if request.method == "POST":
        status = 400
    return render_template("admin/areas.html", tree=area_tree(session), form=form), status


@bp.route("/areas/<int:area_id>", methods=["GET", "POST"])
@admin_required
def area_edit(area_id: int):
    session = db()
    area = session.get(Area, area_id) or abort(404)
    form = AreaForm()
    form.parent.choices = options(_parents_for(area.kind))
    if request.method == "GET":
        form.name.data, form.parent.data = area.name, area.parent_id or 0
    status = 200
    if form.validate_on_submit():
        me = current_user.contact.id
        try:
            renamed = rename_area(session, area, form.name.data, actor_id=me)
            moved = bool(form.parent.data) and move_area(session, area, session.get(Area, form.parent.data), actor_id=me)
            session.commit()
            if renamed or moved:
                flash(f"{area.name} saved.")
            return redirect(url_for("admin.areas"))
        except RosterError as exc:
            session.rollback()
            (form.parent if "goes under" in str(exc) or "already has" in str(exc) else form.name).errors.append(str(exc))
    if request.method == "POST":
        status = 400
    return render_template("admin/area_form.html", form=form, area=area,
                           path=area_paths(session, [area.id])[area.id]), status
