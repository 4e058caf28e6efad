"""Fixtures for the admin view: an admin, staff of Nyando township and of a far township, each with
a password, and a client helper that signs in and sends forms with their CSRF token."""
from __future__ import annotations

import re
from functools import lru_cache

import pytest
from werkzeug.security import generate_password_hash

from tests import factories

PASSWORD = "correct horse battery"
TOWNSHIP = "Kisumu/Nyando"
FAR_TOWNSHIP = "Siaya/Alego"


@lru_cache(maxsize=1)
def password_hash() -> str:
    return generate_password_hash(PASSWORD)  # once a test run: scrypt is slow on purpose


def person_who_signs_in(session, *, role: str, areas=(), name: str, phone: str | None = None):
    contact = factories.contact(session, role=role, areas=areas, name=name, phone=phone)
    contact.password_hash = password_hash()
    session.commit()
    return contact


@pytest.fixture
def admin(session):
    return person_who_signs_in(session, role="admin", name="Ada Admin")


@pytest.fixture
def staff(session):
    return person_who_signs_in(session, role="staff", areas=(TOWNSHIP,), name="Grace Achieng")


@pytest.fixture
def far_staff(session):
    return person_who_signs_in(session, role="staff", areas=(FAR_TOWNSHIP,), name="Otieno Far")


def csrf_token(client, path: str = "/admin/sign-in") -> str:
    page = client.get(path).get_data(as_text=True)
    match = re.search(r'name="csrf-token" content="([^"]+)"', page) or re.search(
        r'name="csrf_token" type="hidden" value="([^"]+)"', page)
    assert match, f"no CSRF token on {path}"
    return match.group(1)


def post(client, path: str, data: dict | None = None, **kwargs):
    """POST a form the way a browser does: with the CSRF token of the signed-in session."""
    data = dict(data or {})
    data.setdefault("csrf_token", csrf_token(client))
    return client.post(path, data=data, **kwargs)


def sign_in(client, contact, password: str = PASSWORD):
    response = post(client, "/admin/sign-in", {"phone": contact.phone, "password": password})
    assert response.status_code == 302, response.get_data(as_text=True)
    return response


@pytest.fixture
def as_admin(client, admin):
    sign_in(client, admin)
    return client


@pytest.fixture
def as_staff(client, staff):
    sign_in(client, staff)
    return client
