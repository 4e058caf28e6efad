"""Signing in to the admin view: passwords of staff and admins, and the throttle on failed
sign-ins (per account and per network address, counted in the database so that it holds across
web hosts and needs no Redis).

Staff and admins sign in with their phone number, the one key every contact already has."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from . import audit
from .config import Settings
from .models import Contact, Role, SignInFailure
from .phones import InvalidPhone, normalize_phone
from .roster import RosterError, area_path, save_contact

MIN_PASSWORD_LENGTH = 10
SIGNS_IN = (Role.staff, Role.admin)


def check_new_password(password: str) -> str:
    """The password if it can be used; RosterError saying why not."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise RosterError(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > 200:
        raise RosterError("a password may have at most 200 characters")
    return password


def set_password(session: Session, contact: Contact, password: str, *, actor_id: int | None = None) -> None:
    """Hash and keep a new password (scrypt); only staff and admins sign in."""
    if contact.role not in SIGNS_IN:
        raise RosterError(f"a {contact.role.value} does not sign in to the admin view")
    contact.password_hash = generate_password_hash(check_new_password(password))
    audit.record(session, actor_id=actor_id, entity="contact", entity_id=contact.id, action="password set",
                 summary=f"{contact.name} ({contact.phone})")
    session.flush()


def create_admin(session: Session, *, name: str, phone: str, password: str, region: str) -> tuple[Contact, str]:
    """An admin with this phone and password: added, or the contact with the phone made admin."""
    check_new_password(password)
    existing = _by_phone(session, phone, region)
    areas = [link.area for link in existing.area_links] if existing else []
    contact, action = save_contact(
        session, name=name or (existing.name if existing else ""), phone=phone, role=Role.admin.value,
        areas=[area_path(session, a) for a in areas], language=existing.language if existing else "en",
        region=region, create_areas=False,
    )
    set_password(session, contact, password)
    return contact, action


def _by_phone(session: Session, phone: str, region: str) -> Contact | None:
    try:
        phone = normalize_phone(phone, region)
    except InvalidPhone:
        return None
    return session.scalar(select(Contact).where(Contact.phone == phone))


# -- signing in ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class SignIn:
    contact: Contact | None
    throttled: bool = False


@lru_cache(maxsize=1)
def _decoy_hash() -> str:
    return generate_password_hash("not anybody's password")


def sign_in(session: Session, settings: Settings, *, login: str, password: str, address: str,
            now: datetime) -> SignIn:
    """The active member of staff or admin whose phone and password these are, or no one; no one
    and throttled when the account or the address failed too often in the window. The caller
    commits: a failure is recorded for both keys, a success clears the account's failures."""
    account_key = "account:" + _account(login, settings.DEFAULT_REGION)
    address_key = "address:" + (address or "unknown")[:60]
    since = now - timedelta(minutes=settings.SIGN_IN_WINDOW_MINUTES)
    if (_failures(session, account_key, since) >= settings.SIGN_IN_MAX_FAILURES
            or _failures(session, address_key, since) >= settings.SIGN_IN_MAX_FAILURES_PER_ADDRESS):
        return SignIn(None, throttled=True)
    contact = _by_phone(session, login, settings.DEFAULT_REGION)
    allowed = bool(contact is not None and contact.active and contact.role in SIGNS_IN and contact.password_hash)
    # a check against a decoy when there is no account, so that the answer takes as long
    ok = check_password_hash(contact.password_hash if allowed else _decoy_hash(), password) and allowed
    if ok:
        session.execute(delete(SignInFailure).where(SignInFailure.key == account_key))
        return SignIn(contact)
    session.execute(delete(SignInFailure).where(SignInFailure.at < since))
    session.add_all([SignInFailure(key=account_key, at=now), SignInFailure(key=address_key, at=now)])
    return SignIn(None)


def session_token(contact: Contact) -> str:
    """What the sign-in cookie holds: the contact's id and a fingerprint of their password hash, so
    that a new password (or none) ends every session signed in with the old one."""
    fingerprint = hashlib.sha256((contact.password_hash or "").encode()).hexdigest()[:16]
    return f"{contact.id}.{fingerprint}"


def contact_for_token(session: Session, token: str) -> Contact | None:
    """The contact a session token belongs to, if they may still sign in."""
    contact_id, _, _ = token.partition(".")
    if not contact_id.isdigit():
        return None
    contact = session.get(Contact, int(contact_id))
    if contact is None or not contact.active or contact.role not in SIGNS_IN or not contact.password_hash:
        return None
    return contact if session_token(contact) == token else None


def _account(login: str, region: str) -> str:
    try:
        return normalize_phone(login, region)
    except InvalidPhone:
        return " ".join(login.split()).lower()[:60] or "-"


def _failures(session: Session, key: str, since: datetime) -> int:
    return session.scalar(select(func.count()).select_from(SignInFailure).where(
        SignInFailure.key == key, SignInFailure.at >= since))
