"""Volunteers and staff: list, search, add, edit, deactivate, CSV import with the per-row report,
CSV export; each change in the audit log."""
from __future__ import annotations

import csv
import io

from sqlalchemy import select

from gateway.models import AuditEntry, Contact, Role
from gateway.roster import area_by_path
from tests import factories
from tests.admin.conftest import PASSWORD, post, sign_in

KANYAGWAL = "Kisumu/Nyando/Kanyagwal"
OMBEYI = "Kisumu/Nyando/Ombeyi"


def villages(session, *paths):
    return [area_by_path(session, p, create=True).id for p in paths]


def upload(client, text: str, name: str = "roster.csv"):
    return post(client, "/admin/contacts/import",
                {"file": (io.BytesIO(text.encode("utf-8")), name)}, content_type="multipart/form-data")


def test_the_list_pages_and_searches_by_name_or_phone(as_admin, session):
    for i in range(55):
        factories.contact(session, name=f"Volunteer {i:02d}")
    factories.contact(session, name="Zawadi Atieno", phone="+254711999888")
    session.commit()
    first = as_admin.get("/admin/contacts").get_data(as_text=True)
    assert "Volunteer 00" in first and "Volunteer 49" not in first and "Next ›" in first
    assert "57 found" in first  # and the admin
    second = as_admin.get("/admin/contacts?page=2").get_data(as_text=True)
    assert "Volunteer 54" in second
    assert "Zawadi" in as_admin.get("/admin/contacts?q=zawadi").get_data(as_text=True)
    by_phone = as_admin.get("/admin/contacts?q=0711 999 888").get_data(as_text=True)
    assert "Zawadi" in by_phone and "1 found" in by_phone
    assert "0 found" in as_admin.get("/admin/contacts?q=%25").get_data(as_text=True)


def test_an_admin_adds_a_volunteer_with_two_villages(as_admin, session, admin):
    ids = villages(session, KANYAGWAL, OMBEYI)
    session.commit()
    response = post(as_admin, "/admin/contacts/new", {
        "name": "Mary Awino", "phone": "0712 300 400", "role": "volunteer", "language": "sw", "areas": ids})
    assert response.status_code == 302, response.get_data(as_text=True)
    mary = session.scalar(select(Contact).where(Contact.phone == "+254712300400"))
    assert (mary.name, mary.role, mary.language, mary.active) == ("Mary Awino", Role.volunteer, "sw", True)
    assert [a.name for a in mary.areas] == ["Kanyagwal", "Ombeyi"]
    entry = session.scalar(select(AuditEntry).where(AuditEntry.entity_id == mary.id, AuditEntry.entity == "contact"))
    assert (entry.action, entry.actor_id) == ("added", admin.id)
    assert entry.changes["areas"] == [None, [KANYAGWAL, OMBEYI]]


def test_mistakes_in_the_form_are_shown_beside_their_fields(as_admin, session):
    township = villages(session, "Kisumu/Nyando")
    taken = factories.contact(session, name="Akinyi", phone="+254712345678")
    session.commit()
    cases = [
        ({"name": "", "phone": "0712 300 400"}, "This field is required."),
        ({"phone": "12"}, "is not a valid phone number"),
        ({"phone": "0712 345 678"}, f"This number belongs to {taken.name}."),
        ({"areas": township}, "a volunteer&#39;s area must be a village"),
        ({"areas": []}, "a volunteer needs an area"),
        ({"password": "long enough password"}, "Volunteers do not sign in"),
        ({"role": "chief"}, "Not a valid choice"),
    ]
    for change, message in cases:
        data = {"name": "Mary", "phone": "0712 300 400", "role": "volunteer", "language": "en",
                "areas": villages(session, KANYAGWAL), **change}
        response = post(as_admin, "/admin/contacts/new", data)
        assert response.status_code == 400, change
        assert message in response.get_data(as_text=True), change
    assert session.scalar(select(Contact).where(Contact.phone == "+254712300400")) is None


def test_staff_get_a_password_that_signs_them_in(as_admin, session, app):
    township = villages(session, "Kisumu/Nyando")
    session.commit()
    short = post(as_admin, "/admin/contacts/new", {"name": "Grace", "phone": "0722 100 200", "role": "staff",
                                                   "language": "en", "areas": township, "password": "short"})
    assert "at least 10 characters" in short.get_data(as_text=True)
    ok = post(as_admin, "/admin/contacts/new", {"name": "Grace", "phone": "0722 100 200", "role": "staff",
                                                "language": "en", "areas": township, "password": PASSWORD})
    assert ok.status_code == 302
    grace = session.scalar(select(Contact).where(Contact.phone == "+254722100200"))
    assert grace.password_hash.startswith("scrypt:") and PASSWORD not in grace.password_hash
    sign_in(app.test_client(), grace)


def test_editing_changes_the_phone_villages_and_language(as_admin, session, volunteer):
    old_phone = volunteer.phone
    ids = villages(session, OMBEYI, KANYAGWAL)
    session.commit()
    page = as_admin.get(f"/admin/contacts/{volunteer.id}").get_data(as_text=True)
    assert volunteer.name in page and "Deactivate" in page
    response = post(as_admin, f"/admin/contacts/{volunteer.id}", {
        "name": "Akinyi O.", "phone": "0799 111 222", "role": "volunteer", "language": "zh", "areas": ids})
    assert response.status_code == 302
    session.expire_all()
    assert (volunteer.name, volunteer.phone, volunteer.language) == ("Akinyi O.", "+254799111222", "zh")
    assert [a.name for a in volunteer.areas] == ["Ombeyi", "Kanyagwal"]
    changes = [e.changes for e in session.scalars(select(AuditEntry).where(
        AuditEntry.entity == "contact", AuditEntry.entity_id == volunteer.id).order_by(AuditEntry.id))]
    assert changes[-2:] == [
        {"phone": [old_phone, "+254799111222"]},
        {"name": ["Akinyi Otieno", "Akinyi O."], "language": ["en", "zh"],
         "areas": [[KANYAGWAL], [OMBEYI, KANYAGWAL]]},
    ]


def test_a_volunteer_who_left_is_deactivated_and_her_messages_ignored(as_admin, session, volunteer, client):
    response = post(as_admin, f"/admin/contacts/{volunteer.id}/active", {"active": "0"})
    assert response.status_code == 302
    session.expire_all()
    assert volunteer.active is False
    assert "inactive" in as_admin.get("/admin/contacts?status=inactive").get_data(as_text=True)
    assert volunteer.name not in as_admin.get("/admin/contacts").get_data(as_text=True)
    reply = client.post("/sms/dev", json={"from": volunteer.phone, "body": "HH Juma"}).get_json()
    assert reply["error"] == "not_allowed"
    entry = session.scalar(select(AuditEntry).where(AuditEntry.action == "deactivated"))
    assert entry.entity_id == volunteer.id and entry.changes == {"active": [True, False]}
    # editing her keeps her inactive; reactivating brings her back
    post(as_admin, f"/admin/contacts/{volunteer.id}", {"name": volunteer.name, "phone": volunteer.phone,
                                                      "role": "volunteer", "language": "en",
                                                      "areas": [volunteer.area_links[0].area_id]})
    session.expire_all()
    assert volunteer.active is False
    post(as_admin, f"/admin/contacts/{volunteer.id}/active", {"active": "1"})
    session.expire_all()
    assert volunteer.active is True


def test_an_admin_cannot_lock_themself_out(as_admin, session, admin):
    post(as_admin, f"/admin/contacts/{admin.id}/active", {"active": "0"})
    response = post(as_admin, f"/admin/contacts/{admin.id}", {"name": admin.name, "phone": admin.phone,
                                                             "role": "staff", "language": "en"})
    assert "You cannot take away your own admin role." in response.get_data(as_text=True)
    session.expire_all()
    assert admin.active and admin.role is Role.admin


def test_an_unknown_contact_is_not_found(as_admin):
    assert as_admin.get("/admin/contacts/999999").status_code == 404


ROSTER = """name,phone,role,area,language
Akinyi Otieno,0712 345 678,volunteer,Kisumu/Nyando/Kanyagwal,en
Li Na,0733 567 890,volunteer,Kisumu/Nyando/Ombeyi,zh
Bad Phone,12345,volunteer,Kisumu/Nyando/Ombeyi,en
Grace Achieng,0711 222 333,staff,Kisumu/Nyando,en
"""


def test_the_import_reports_each_refused_row_and_a_fixed_file_goes_in(as_admin, session, admin):
    response = upload(as_admin, ROSTER)
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "3 added, 0 updated, 0 unchanged, 1 refused" in page
    assert "Refused rows" in page and "&#39;12345&#39; is not a valid phone number" in page
    assert ">4<" in page  # the line of the bad row
    fixed = upload(as_admin, ROSTER.replace("12345", "0744 555 666")).get_data(as_text=True)
    assert "1 added, 0 updated, 3 unchanged, 0 refused" in fixed
    assert "Refused rows" not in fixed
    added = session.scalars(select(AuditEntry).where(AuditEntry.action == "added", AuditEntry.entity == "contact",
                                                     AuditEntry.entity_id != admin.id)).all()
    assert len(added) == 4 and {e.actor_id for e in added} == {admin.id}


def test_an_import_without_the_columns_or_in_another_encoding_says_so(as_admin):
    response = upload(as_admin, "nom,telephone\nA,1\n")
    assert response.status_code == 400
    assert "the CSV has no column(s) name, phone, role, area" in response.get_data(as_text=True)
    latin = post(as_admin, "/admin/contacts/import", {"file": (io.BytesIO("name\nJos\xe9".encode("latin-1")), "r.csv")},
                 content_type="multipart/form-data")
    assert "not UTF-8" in latin.get_data(as_text=True)
    empty = post(as_admin, "/admin/contacts/import", {}, content_type="multipart/form-data")
    assert "Choose a CSV file" in empty.get_data(as_text=True)


def test_a_roster_larger_than_a_webhook_body_can_be_imported(as_admin, session):
    rows = "".join(f"Volunteer {i},+2547{10_000_000 + i:08d},volunteer,{KANYAGWAL},en\n" for i in range(1500))
    text = "name,phone,role,area,language\n" + rows
    assert len(text) > 64 * 1024
    assert "1500 added" in upload(as_admin, text).get_data(as_text=True)


def test_the_export_is_the_import_format_and_imports_unchanged(as_admin, session):
    upload(as_admin, ROSTER.replace("12345", "0744 555 666"))
    exported = as_admin.get("/admin/contacts.csv")
    assert exported.mimetype == "text/csv"
    text = exported.get_data(as_text=True).lstrip("\ufeff")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert {r["name"] for r in rows} >= {"Akinyi Otieno", "Li Na", "Bad Phone", "Grace Achieng"}
    assert next(r for r in rows if r["name"] == "Li Na")["area"] == "Kisumu/Nyando/Ombeyi"
    again = upload(as_admin, text).get_data(as_text=True)
    assert "0 added, 0 updated" in again and "0 refused" in again


def test_a_name_that_looks_like_html_or_a_formula_stays_text(as_admin, session):
    factories.contact(session, name="<script>alert(1)</script>")
    factories.contact(session, name="=HYPERLINK(\"x\")")
    session.commit()
    page = as_admin.get("/admin/contacts").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    exported = as_admin.get("/admin/contacts.csv").get_data(as_text=True)
    assert "'=HYPERLINK" in exported
