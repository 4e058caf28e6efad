"""Signing in and out, roles, CSRF, the throttle on failed sign-ins and the session cookie."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from gateway.models import SignInFailure
from tests.admin.conftest import PASSWORD, csrf_token, post
from tests.conftest import make_settings

ADMIN_ONLY = ["/admin/contacts", "/admin/contacts/new", "/admin/contacts/import", "/admin/contacts.csv",
              "/admin/areas", "/admin/audit", "/admin/simulator"]
STAFF_PAGES = ["/admin/dashboard", "/admin/dashboard.csv", "/admin/alerts", "/admin/review", "/admin/messages",
               "/admin/card?lang=zh"]


# A stranger asking for any admin route, and a form without its CSRF token on any POST route: see
# test_hostile_admin.py, which takes every route from the app's URL map.


@pytest.mark.parametrize("path", STAFF_PAGES)
def test_staff_see_their_pages(as_staff, path):
    assert as_staff.get(path).status_code == 200


@pytest.mark.parametrize("path", ADMIN_ONLY)
def test_staff_are_refused_the_admin_pages(as_staff, path):
    assert as_staff.get(path).status_code == 403


@pytest.mark.parametrize("path", ADMIN_ONLY + STAFF_PAGES)
def test_admins_see_every_page(as_admin, path):
    assert as_admin.get(path).status_code == 200


def test_signing_in_goes_to_the_page_asked_for(client, admin):
    response = post(client, "/admin/sign-in?next=/admin/alerts", {"phone": admin.phone, "password": PASSWORD})
    assert response.headers["Location"] == "/admin/alerts"


@pytest.mark.parametrize("target", ["https://evil.example/admin", "//evil.example/admin", "/elsewhere"])
def test_signing_in_never_sends_the_browser_elsewhere(client, admin, target):
    response = post(client, f"/admin/sign-in?next={target}", {"phone": admin.phone, "password": PASSWORD})
    assert response.headers["Location"] == "/admin/dashboard"


def test_a_local_spelling_of_the_phone_number_signs_in(client, session, admin):
    local = "0" + admin.phone[4:]  # +2547... -> 07...
    assert post(client, "/admin/sign-in", {"phone": local, "password": PASSWORD}).status_code == 302


def test_a_wrong_password_is_refused_with_a_message(client, admin):
    response = post(client, "/admin/sign-in", {"phone": admin.phone, "password": "not the password"})
    assert response.status_code == 401
    assert "do not match" in response.get_data(as_text=True)
    assert client.get("/admin/dashboard").status_code == 302


def test_volunteers_and_inactive_staff_cannot_sign_in(client, session, volunteer, staff):
    from tests.admin.conftest import password_hash

    volunteer.password_hash = password_hash()
    staff.active = False
    session.commit()
    for who in (volunteer, staff):
        assert post(client, "/admin/sign-in", {"phone": who.phone, "password": PASSWORD}).status_code == 401


def test_an_empty_form_shows_what_is_missing(client):
    response = post(client, "/admin/sign-in", {"phone": "", "password": ""})
    assert response.status_code == 400
    assert "This field is required." in response.get_data(as_text=True)


def test_a_form_without_its_csrf_token_is_refused(client, admin):
    response = client.post("/admin/sign-in", data={"phone": admin.phone, "password": PASSWORD})
    assert response.status_code == 400
    assert client.get("/admin/dashboard").status_code == 302


def test_webhooks_need_no_csrf_token(client, volunteer):
    assert client.post("/sms/dev", json={"from": volunteer.phone, "body": "HELP"}).status_code == 200


def test_signing_out_ends_the_session(as_admin):
    assert post(as_admin, "/admin/sign-out").status_code == 302
    assert as_admin.get("/admin/dashboard").status_code == 302


def test_a_new_password_ends_sessions_signed_in_with_the_old_one(as_admin, session, admin):
    from gateway.accounts import set_password

    set_password(session, admin, "a brand new password")
    session.commit()
    assert as_admin.get("/admin/dashboard").status_code == 302


def test_failed_sign_ins_are_throttled_per_account(client, session, admin, runtime):
    limit = runtime.settings.SIGN_IN_MAX_FAILURES
    for _ in range(limit):
        assert post(client, "/admin/sign-in", {"phone": admin.phone, "password": "guess"}).status_code == 401
    # now even the right password waits
    response = post(client, "/admin/sign-in", {"phone": admin.phone, "password": PASSWORD})
    assert response.status_code == 429
    assert "Too many failed sign-ins" in response.get_data(as_text=True)
    runtime.clock.advance(minutes=runtime.settings.SIGN_IN_WINDOW_MINUTES + 1)
    assert post(client, "/admin/sign-in", {"phone": admin.phone, "password": PASSWORD}).status_code == 302
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(SignInFailure).where(
        SignInFailure.key == f"account:{admin.phone}")) == 0


@pytest.mark.parametrize("settings_overrides", [{"SIGN_IN_MAX_FAILURES_PER_ADDRESS": "3"}])
def test_failed_sign_ins_are_throttled_per_address(client, admin, staff):
    for phone in ("+254700000001", "+254700000002", "+254700000003"):
        assert post(client, "/admin/sign-in", {"phone": phone, "password": "guess"}).status_code == 401
    assert post(client, "/admin/sign-in", {"phone": admin.phone, "password": PASSWORD}).status_code == 429
    other = client.application.test_client()
    other.environ_base["REMOTE_ADDR"] = "10.0.0.9"
    assert post(other, "/admin/sign-in", {"phone": staff.phone, "password": PASSWORD}).status_code == 302


@pytest.mark.parametrize("settings_overrides", [{"SIGN_IN_MAX_FAILURES_PER_ADDRESS": "2"}])
def test_behind_the_local_proxy_the_forwarded_address_counts(client, admin):
    def attempt(remote: str, forwarded: str, password: str = "guess") -> int:
        return post(client, "/admin/sign-in", {"phone": admin.phone[:-1] + "0", "password": password},
                    environ_base={"REMOTE_ADDR": remote}, headers={"X-Forwarded-For": forwarded}).status_code

    assert attempt("127.0.0.1", "spoofed, 41.1.1.1") == attempt("127.0.0.1", "41.1.1.1") == 401
    assert attempt("127.0.0.1", "41.1.1.1") == 429  # the proxy's last entry is the browser
    assert attempt("127.0.0.1", "41.2.2.2") == 401  # another browser behind the same proxy
    # from elsewhere, the header is the client's own word: the peer counts
    assert attempt("41.3.3.3", "10.0.0.1") == attempt("41.3.3.3", "10.0.0.2") == 401
    assert attempt("41.3.3.3", "10.0.0.3") == 429


def test_the_session_cookie_is_http_only_and_lax(client, admin):
    response = post(client, "/admin/sign-in", {"phone": admin.phone, "password": PASSWORD})
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie


@pytest.mark.parametrize("settings_overrides", [{"PUBLIC_URL": "https://sms.example.org"}])
def test_the_session_cookie_is_secure_behind_https(client, admin):
    client.environ_base["wsgi.url_scheme"] = "https"
    token = csrf_token(client)
    response = client.post("/admin/sign-in", data={"phone": admin.phone, "password": PASSWORD, "csrf_token": token},
                           headers={"Referer": "https://localhost/admin/sign-in"})
    assert response.status_code == 302
    assert "Secure" in response.headers["Set-Cookie"]


def test_pages_are_not_cached_or_framed(as_staff):
    response = as_staff.get("/admin/dashboard")
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]


def test_settings_without_https_keep_cookies_usable_on_plain_http(database_url):
    assert make_settings(database_url).session_cookie_secure is False
    assert make_settings(database_url, PUBLIC_URL="https://x.org").session_cookie_secure is True
