"""The area tree: add, rename and move, each checked and written to the audit log."""
from __future__ import annotations

from sqlalchemy import select

from gateway.models import Area, AreaKind, AuditEntry
from gateway.roster import area_by_path
from tests.admin.conftest import post


def test_the_tree_shows_districts_townships_and_villages(as_admin, session, volunteer):
    page = as_admin.get("/admin/areas").get_data(as_text=True)
    assert page.index(">Kisumu<") < page.index(">Nyando<") < page.index(">Kanyagwal<")
    assert "1 on the roster" in page


def test_adding_an_area_takes_its_kind_from_where_it_goes(as_admin, session):
    assert post(as_admin, "/admin/areas", {"name": "Siaya", "parent": "0"}).status_code == 302
    siaya = area_by_path(session, "Siaya")
    post(as_admin, "/admin/areas", {"name": "Alego", "parent": str(siaya.id)})
    alego = area_by_path(session, "Siaya/Alego")
    post(as_admin, "/admin/areas", {"name": "Nyalgunga", "parent": str(alego.id)})
    assert [siaya.kind, alego.kind, area_by_path(session, "Siaya/Alego/Nyalgunga").kind] == [
        AreaKind.district, AreaKind.township, AreaKind.village]


def test_a_name_taken_or_malformed_is_refused_beside_the_field(as_admin, session, volunteer):
    nyando = volunteer.areas[0].parent
    for name, message in (("Kanyagwal", "&#39;Kanyagwal&#39; is already there"),
                          ("A/B", "may not hold"), ("", "This field is required.")):
        response = post(as_admin, "/admin/areas", {"name": name, "parent": str(nyando.id)})
        assert response.status_code == 400 and message in response.get_data(as_text=True), name


def test_rename_and_move_a_village_with_everything_in_it(as_admin, session, volunteer, household, staff):
    kanyagwal = volunteer.areas[0]
    alego = area_by_path(session, "Siaya/Alego", create=True)
    session.commit()
    page = as_admin.get(f"/admin/areas/{kanyagwal.id}").get_data(as_text=True)
    assert "Kisumu/Nyando/Kanyagwal" in page and "Siaya/Alego" in page and ">Kisumu<" not in page
    response = post(as_admin, f"/admin/areas/{kanyagwal.id}", {"name": "Kanyagwal East", "parent": str(alego.id)})
    assert response.status_code == 302
    session.expire_all()
    assert session.get(Area, kanyagwal.id).parent_id == alego.id
    assert area_by_path(session, "Siaya/Alego/Kanyagwal East").id == kanyagwal.id
    changes = [(e.action, e.changes) for e in session.scalars(
        select(AuditEntry).where(AuditEntry.entity == "area", AuditEntry.entity_id == kanyagwal.id).order_by(AuditEntry.id))]
    assert changes[-2:] == [
        ("renamed", {"path": ["Kisumu/Nyando/Kanyagwal", "Kisumu/Nyando/Kanyagwal East"]}),
        ("moved", {"path": ["Kisumu/Nyando/Kanyagwal East", "Siaya/Alego/Kanyagwal East"]}),
    ]


def test_a_village_cannot_go_under_a_district(as_admin, session, volunteer):
    kanyagwal = volunteer.areas[0]
    kisumu = kanyagwal.parent.parent
    response = post(as_admin, f"/admin/areas/{kanyagwal.id}", {"name": "Kanyagwal", "parent": str(kisumu.id)})
    assert response.status_code == 400 and "Not a valid choice" in response.get_data(as_text=True)


def test_an_unknown_area_is_not_found(as_admin):
    assert as_admin.get("/admin/areas/999999").status_code == 404
