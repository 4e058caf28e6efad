"""The alerts inbox (acknowledge, resolve with a note) and the review queue (mark a report verified
or wrong); staff see and answer only the villages under their areas."""
from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import select

from gateway.alerts import acknowledge, resolve
from gateway.models import Alert, AlertStatus, Contact, InboundMessage, Report, ReportStatus
from gateway.reviews import mark_report
from gateway.runtime import current_runtime

from .. import bp, db
from ..forms import NoteForm, ReviewForm
from ..queries import (
    REVIEW_STATUSES,
    alert_counts,
    alert_history,
    alerts_page,
    report_village,
    reports_page,
    review_counts,
    subject_of,
)
from ..scope import current_scope, found_in_scope


def _status(enum, default):
    try:
        return enum(request.args.get("status", default.value))
    except ValueError:
        return default


@bp.get("/alerts")
@login_required
def alerts():
    session = db()
    scope = current_scope(session)
    status = _status(AlertStatus, AlertStatus.open)
    found = alerts_page(session, scope, status, request.args.get("page", 1, type=int) or 1)
    return render_template("admin/alerts.html", page=found, status=status.value,
                           counts=alert_counts(session, scope))


def _alert(alert_id: int) -> Alert:
    session = db()
    alert = session.get(Alert, alert_id)
    return found_in_scope(alert, alert.village_id if alert else None, session)


@bp.get("/alerts/<int:alert_id>")
@login_required
def alert(alert_id: int):
    return _alert_page(_alert(alert_id), NoteForm())


def _alert_page(alert: Alert, form: NoteForm, status: int = 200):
    session = db()
    report = session.get(Report, alert.report_id) if alert.report_id else None
    return render_template("admin/alert.html", alert=alert, form=form, report=report,
                           subject=subject_of(session, alert.person_id, alert.household_id),
                           history=alert_history(session, alert.id)), status


@bp.post("/alerts/<int:alert_id>/<any(acknowledge, resolve):action>")
@login_required
def alert_answer(alert_id: int, action: str):
    session, runtime = db(), current_runtime()
    alert = _alert(alert_id)
    form = NoteForm()
    if not form.validate_on_submit():
        return _alert_page(alert, form, 400)
    answer = acknowledge if action == "acknowledge" else resolve
    if answer(alert, current_user.contact, runtime.clock.now(), form.note.data):
        session.commit()
        flash(f"Alert {alert.id} {'acknowledged' if action == 'acknowledge' else 'resolved'}.")
    else:
        flash(f"Alert {alert.id} was already {alert.status.value}.", "error")
    return redirect(url_for("admin.alert", alert_id=alert.id))


# -- the review queue ------------------------------------------------------------------------------------

@bp.get("/review")
@login_required
def review():
    session = db()
    scope = current_scope(session)
    status = _status(ReportStatus, ReportStatus.flagged)
    if status not in REVIEW_STATUSES:
        status = ReportStatus.flagged
    found = reports_page(session, scope, status, request.args.get("page", 1, type=int) or 1)
    return render_template("admin/review.html", page=found, status=status.value, counts=review_counts(session, scope))


def _report(report_id: int) -> Report:
    session = db()
    report = session.get(Report, report_id)
    return found_in_scope(report, report_village(session, report) if report else None, session)


def _report_page(report: Report, form: ReviewForm, status: int = 200):
    session = db()
    message = session.get(InboundMessage, report.message_id)
    alerts = session.scalars(select(Alert).where(Alert.report_id == report.id).order_by(Alert.id)).all()
    people = dict(session.execute(select(Contact.id, Contact.name).where(
        Contact.id.in_({report.sender_id, report.reviewed_by_id} - {None}))).all())
    return render_template("admin/report.html", report=report, form=form, message=message, alerts=alerts,
                           subject=subject_of(session, report.person_id, report.household_id),
                           sender=people.get(report.sender_id), reviewer=people.get(report.reviewed_by_id)), status


@bp.get("/reports/<int:report_id>")
@login_required
def report(report_id: int):
    return _report_page(_report(report_id), ReviewForm())


@bp.post("/reports/<int:report_id>/review")
@login_required
def report_review(report_id: int):
    session, runtime = db(), current_runtime()
    report = _report(report_id)
    form = ReviewForm()
    if not form.validate_on_submit():
        return _report_page(report, form, 400)
    mark_report(session, report, ReportStatus(form.decision.data), current_user.contact, runtime.clock.now(),
                form.note.data)
    session.commit()
    flash(f"Report {report.id} marked {form.decision.data}.")
    return redirect(url_for("admin.review"))
