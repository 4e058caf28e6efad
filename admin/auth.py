"""Signing in and out, who is signed in, and the two roles: admins may do everything, staff see
the areas under theirs (alerts, records, review queue, dashboard, messages)."""
from __future__ import annotations

import ipaddress
import logging
from functools import wraps
from urllib.parse import urlsplit

from flask import abort, redirect, render_template, request, session, url_for
from flask_login import UserMixin, current_user, login_required, login_user, logout_user

from gateway.accounts import contact_for_token, session_token, sign_in
from gateway.models import Contact, Role
from gateway.phones import mask_phone
from gateway.runtime import current_runtime

from . import bp, db, login_manager
from .forms import SignInForm

log = logging.getLogger(__name__)
login_manager.login_view = "admin.sign_in"
login_manager.login_message = "Sign in to see this page."
login_manager.session_protection = "basic"


class User(UserMixin):
    """A signed-in member of staff or admin: the contact, loaded afresh on every request."""

    def __init__(self, contact: Contact):
        self.contact = contact

    def get_id(self) -> str:
        return session_token(self.contact)

    @property
    def is_admin(self) -> bool:
        return self.contact.role is Role.admin


@login_manager.user_loader
def _load(token: str) -> User | None:
    contact = contact_for_token(db(), token)
    return User(contact) if contact else None


def admin_required(view):
    """Signed in as an admin; staff get 403."""

    @wraps(view)
    @login_required
    def wrapped(*args, **kwargs):
        if not current_user.is_admin:
            abort(403)
        return view(*args, **kwargs)

    return wrapped


def client_address() -> str:
    """The signing-in browser's address. Behind the TLS proxy on this host (docs/deploy.md) every
    request comes from loopback, so the address the proxy appended to X-Forwarded-For is used;
    from anywhere else the header is the client's own word and is ignored."""
    peer = request.remote_addr or ""
    forwarded = request.headers.get("X-Forwarded-For", "")
    try:
        proxied = not peer or ipaddress.ip_address(peer).is_loopback  # no peer: a unix socket
    except ValueError:
        proxied = False
    if forwarded and proxied:
        try:  # only an address counts: anything else in the header is not the proxy's
            return str(ipaddress.ip_address(forwarded.split(",")[-1].strip()))
        except ValueError:
            return peer
    return peer


def _safe_next(target: str | None) -> str:
    parts = urlsplit(target or "")
    if target and not parts.scheme and not parts.netloc and parts.path.startswith("/admin"):
        return target
    return url_for("admin.dashboard")


@bp.route("/sign-in", methods=["GET", "POST"], endpoint="sign_in")
def sign_in_page():
    form = SignInForm()
    status = 200
    if form.validate_on_submit():
        runtime = current_runtime()
        s = db()
        result = sign_in(s, runtime.settings, login=form.phone.data, password=form.password.data,
                         address=client_address(), now=runtime.clock.now())
        s.commit()
        if result.contact is not None:
            session.clear()  # nothing from before signing in is carried over
            session.permanent = True
            login_user(User(result.contact))
            log.info("contact %s signed in to the admin view", result.contact.id)
            return redirect(_safe_next(request.args.get("next")))
        if result.throttled:
            log.warning("sign-in throttled for %s from %s", mask_phone(form.phone.data), client_address())
            minutes = runtime.settings.SIGN_IN_WINDOW_MINUTES
            form.form_errors.append(f"Too many failed sign-ins. Wait {minutes} minutes and try again.")
            status = 429
        else:
            form.form_errors.append("That phone number and password do not match an account.")
            status = 401
    elif request.method == "POST":
        status = 400
    return render_template("admin/sign_in.html", form=form), status


@bp.post("/sign-out")
def sign_out():
    logout_user()
    session.clear()
    return redirect(url_for("admin.sign_in"))
