"""The admin web view: roster, areas, alerts, review queue, dashboard and simulator.

Server-rendered pages under /admin for signed-in staff and admins; every form carries a CSRF token,
checked for every POST to the blueprint (the provider webhooks elsewhere in the app are not).
"""
from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, Flask, g, render_template, request
from flask.sessions import SecureCookieSessionInterface
from flask_login import LoginManager
from flask_wtf.csrf import CSRFProtect
from sqlalchemy.orm import Session

from gateway.config import Settings
from gateway.runtime import current_runtime

bp = Blueprint("admin", __name__, url_prefix="/admin", template_folder="templates", static_folder="static")
csrf = CSRFProtect()
login_manager = LoginManager()
IMPORT_MAX_BYTES = 5 * 1024 * 1024  # a roster CSV may be larger than a webhook's body


def init_app(app: Flask, settings: Settings) -> None:
    """Sessions, CSRF, sign-in and the admin blueprint on app."""
    app.config.update(
        SESSION_COOKIE_SECURE=settings.session_cookie_secure,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        PERMANENT_SESSION_LIFETIME=timedelta(hours=settings.SESSION_HOURS),
        WTF_CSRF_CHECK_DEFAULT=False,  # checked in the blueprint, so that webhooks need no token
        WTF_CSRF_TIME_LIMIT=settings.SESSION_HOURS * 3600,
        WTF_CSRF_SSL_STRICT=settings.session_cookie_secure,
    )
    app.session_interface = CookieSessions()
    csrf.init_app(app)
    login_manager.init_app(app)
    from . import views  # noqa: F401  (the routes)

    app.register_blueprint(bp)
    app.teardown_appcontext(_close_db)


class CookieSessions(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, but a request that brings no session cookie (every
    provider's webhook) gets its new, empty session without a signer being built for it."""

    def open_session(self, app, request):
        if not request.cookies.get(self.get_cookie_name(app)):
            return self.session_class()
        return super().open_session(app, request)


def db() -> Session:
    """The request's database session, opened on first use and closed at the end of the request."""
    if "admin_db" not in g:
        g.admin_db = current_runtime().db.session()
    return g.admin_db


def _close_db(_exc: BaseException | None) -> None:
    session = g.pop("admin_db", None)
    if session is not None:
        session.close()


@bp.before_request
def _protect():
    if request.endpoint == "admin.contacts_import":
        request.max_content_length = IMPORT_MAX_BYTES
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        csrf.protect()
    # PostgreSQL keeps no NUL in text, not even in a query's parameters: refused here, once for
    # every page, rather than failing in whichever query first meets it. No keyboard types one.
    if any("\x00" in value for value in (*request.args.values(), *request.form.values())):
        return render_template("admin/error.html", title="Not accepted",
                               message="The page was sent a NUL character, which Fieldline cannot keep. "
                                       "Remove it and try again."), 400
    return None


@bp.after_request
def _headers(response):
    # pages hold personal data: not cached, not framed, no scripts or styles from anywhere else
    if request.endpoint != "admin.static":
        response.headers.setdefault("Cache-Control", "no-store")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault(
        "Content-Security-Policy",
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'",
    )
    return response
