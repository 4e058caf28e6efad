"""Passwords and signing in: scrypt hashes, staff and admins only, the throttle per account and
per address counted in the database, and sessions that end with a new password."""
from __future__ import annotations

from datetime import timedelta

import pytest

from gateway.accounts import contact_for_token, create_admin, session_token, set_password, sign_in
from gateway.models import Role
from gateway.roster import RosterError
from tests import factories

PASSWORD = "a long enough password"


def test_a_password_is_kept_as_a_scrypt_hash(session):
    staff = factories.contact(session, role="staff", areas=("Kisumu/Nyando",))
    set_password(session, staff, PASSWORD)
    assert staff.password_hash.startswith("scrypt:") and PASSWORD not in staff.password_hash


@pytest.mark.parametrize("password, message", [("short", "at least 10 characters"), ("x" * 201, "at most 200")])
def test_a_weak_or_absurd_password_is_refused(session, password, message):
    staff = factories.contact(session, role="staff", areas=("Kisumu/Nyando",))
    with pytest.raises(RosterError, match=message):
        set_password(session, staff, password)


def test_volunteers_have_no_password(session, volunteer):
    with pytest.raises(RosterError, match="a volunteer does not sign in"):
        set_password(session, volunteer, PASSWORD)


def test_sign_in_by_phone_number_in_any_spelling(session, runtime, clock):
    admin, _ = create_admin(session, name="Ada", phone="0712 000 111", password=PASSWORD, region="KE")
    for login in ("0712000111", "+254 712 000 111", "254712000111"):
        assert sign_in(session, runtime.settings, login=login, password=PASSWORD, address="10.0.0.1",
                       now=clock.now()).contact is admin


def test_create_admin_makes_an_existing_contact_admin_and_keeps_their_areas(session, volunteer):
    admin, action = create_admin(session, name="", phone=volunteer.phone, password=PASSWORD, region="KE")
    assert admin is volunteer and action == "updated"
    assert admin.role is Role.admin and [a.name for a in admin.areas] == ["Kanyagwal"]


def test_the_throttle_counts_only_the_window(session, runtime, clock):
    admin, _ = create_admin(session, name="Ada", phone="0712000111", password=PASSWORD, region="KE")
    settings = runtime.settings
    attempt = lambda password, address="10.0.0.1": sign_in(  # noqa: E731
        session, settings, login=admin.phone, password=password, address=address, now=clock.now())
    for _ in range(settings.SIGN_IN_MAX_FAILURES - 1):
        assert attempt("wrong").contact is None
    clock.advance(minutes=settings.SIGN_IN_WINDOW_MINUTES + 1)  # those fall out of the window
    for _ in range(settings.SIGN_IN_MAX_FAILURES):
        assert not attempt("wrong").throttled
    locked = attempt(PASSWORD, address="10.9.9.9")  # the account waits, from any address
    assert locked.throttled and locked.contact is None
    clock.advance(minutes=settings.SIGN_IN_WINDOW_MINUTES, seconds=1)
    assert attempt(PASSWORD).contact is admin


def test_a_session_token_names_the_contact_and_their_password(session):
    admin, _ = create_admin(session, name="Ada", phone="0712000111", password=PASSWORD, region="KE")
    token = session_token(admin)
    assert contact_for_token(session, token) is admin
    set_password(session, admin, "another long password")
    assert contact_for_token(session, token) is None
    assert contact_for_token(session, session_token(admin)) is admin
    admin.active = False
    assert contact_for_token(session, session_token(admin)) is None
    assert contact_for_token(session, "x.y") is None and contact_for_token(session, "") is None


def test_failures_older_than_the_window_are_swept(session, runtime, clock):
    from sqlalchemy import func, select

    from gateway.models import SignInFailure

    for _ in range(3):
        sign_in(session, runtime.settings, login="0712999999", password="x", address="10.0.0.1", now=clock.now())
    clock.advance(minutes=runtime.settings.SIGN_IN_WINDOW_MINUTES + 1)
    sign_in(session, runtime.settings, login="0712999999", password="x", address="10.0.0.1", now=clock.now())
    assert session.scalar(select(func.count()).select_from(SignInFailure)) == 2
    assert clock.now() - session.scalar(select(func.min(SignInFailure.at))) < timedelta(minutes=1)
