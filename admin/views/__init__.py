"""The admin view's pages, one module a subject; importing this package registers them on bp."""
from __future__ import annotations

from datetime import datetime

from flask import render_template
from flask_login import current_user
from flask_wtf.csrf import CSRFError

from gateway.phones import mask_phone
from gateway.runtime import current_runtime

from .. import auth, bp  # noqa: F401  (auth registers sign-in and sign-out)


@bp.app_template_filter("local")
def local_time(value: datetime | None) -> str:
    """A UTC time as the programme's local time, to the minute."""
    if value is None:
        return ""
    return value.astimezone(current_runtime().settings.tz).strftime("%Y-%m-%d %H:%M")


@bp.app_template_global()
def show_phone(phone: str | None) -> str:
    """Admins see numbers whole; staff see them partly masked."""
    if current_user.is_authenticated and current_user.is_admin:
        return phone or "-"
    return mask_phone(phone)


@bp.context_processor
def _nav() -> dict:
    return {"dev_channel": current_runtime().settings.DEV_CHANNEL}


@bp.errorhandler(403)
def _forbidden(_exc):
    return render_template("admin/error.html", title="Not allowed",
                           message="This page is for admins."), 403


@bp.errorhandler(404)
def _not_found(_exc):
    return render_template("admin/error.html", title="Not found",
                           message="There is nothing here, or it is not in your area."), 404


@bp.app_errorhandler(CSRFError)
def _csrf_failed(exc):
    return render_template("admin/error.html", title="Form expired",
                           message="The form was too old or came from elsewhere. Go back, reload the page and try again."), 400


from . import alerts, dashboard, messages, roster, tools  # noqa: E402,F401


@bp.app_template_filter("plain")
def plain(value) -> str:
    """A value from the audit log as a person reads it."""
    if value is None or value == []:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return "; ".join(str(v) for v in value)
    return str(value)
