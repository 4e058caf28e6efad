"""The area tree's changes (add, rename, move) and the audit log every roster change writes,
from the command line too."""
from __future__ import annotations

import io

import pytest
from sqlalchemy import select

from gateway.models import AreaKind, AuditEntry, ReportStatus
from gateway.roster import RosterError, add_area, area_by_path, import_roster, move_area, rename_area


def test_kinds_follow_the_tree(session):
    kisumu = add_area(session, "Kisumu", None)
    nyando = add_area(session, " Nyando ", kisumu)
    village = add_area(session, "Kanyagwal", nyando)
    assert (kisumu.kind, nyando.kind, village.kind) == (AreaKind.district, AreaKind.township, AreaKind.village)
    assert nyando.name == "Nyando"
    with pytest.raises(RosterError, match="a village has no areas under it"):
        add_area(session, "Below", village)


@pytest.mark.parametrize("name, message", [
    ("", "the name is empty"), ("A/B", "may not hold"), ("x" * 81, "longer than 80"), ("Nyando", "already there"),
])
def test_bad_names_are_refused(session, name, message):
    kisumu = area_by_path(session, "Kisumu/Nyando", create=True).parent
    with pytest.raises(RosterError, match=message):
        add_area(session, name, kisumu)


def test_moves_keep_the_levels(session):
    village = area_by_path(session, "Kisumu/Nyando/Kanyagwal", create=True)
    alego = area_by_path(session, "Siaya/Alego", create=True)
    siaya = alego.parent
    with pytest.raises(RosterError, match="a village goes under a township, not a district"):
        move_area(session, village, siaya)
    with pytest.raises(RosterError, match="a district is at the top"):
        move_area(session, siaya, alego)
    assert move_area(session, village, alego) is True
    assert move_area(session, village, alego) is False
    assert area_by_path(session, "Siaya/Alego/Kanyagwal") is village
    area_by_path(session, "Kisumu/Nyando/Kanyagwal", create=True)
    with pytest.raises(RosterError, match="already has a village named 'Kanyagwal'"):
        move_area(session, village, area_by_path(session, "Kisumu/Nyando"))


def test_rename_to_the_same_name_changes_nothing(session):
    village = area_by_path(session, "Kisumu/Nyando/Kanyagwal", create=True)
    before = session.scalar(select(AuditEntry.id).order_by(AuditEntry.id.desc()))
    assert rename_area(session, village, "Kanyagwal") is False
    assert session.scalar(select(AuditEntry.id).order_by(AuditEntry.id.desc())) == before


def test_the_command_line_import_is_audited_with_no_actor(session):
    report = import_roster(session, io.StringIO(
        "name,phone,role,area,language\nAkinyi,0712345678,volunteer,Kisumu/Nyando/Kanyagwal,en\n"), "KE")
    assert report.summary() == "1 added, 0 updated, 0 unchanged, 0 refused"
    entries = session.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
    assert [(e.entity, e.action, e.summary, e.actor_id) for e in entries] == [
        ("area", "added", "Kisumu", None), ("area", "added", "Kisumu/Nyando", None),
        ("area", "added", "Kisumu/Nyando/Kanyagwal", None),
        ("contact", "added", "Akinyi (+254712345678)", None),
    ]
    # the same file again changes nothing and writes nothing
    import_roster(session, io.StringIO(
        "name,phone,role,area,language\nAkinyi,0712345678,volunteer,Kisumu/Nyando/Kanyagwal,en\n"), "KE")
    assert len(session.scalars(select(AuditEntry)).all()) == 4


def test_a_mark_replaces_the_last_one_and_each_is_audited(session, runtime, clock, volunteer, household):
    from gateway.models import Report
    from gateway.reviews import mark_report
    from tests.helpers import accepted

    outcome = accepted(runtime, volunteer.phone, f"V {household.short_id}")
    report = session.scalar(select(Report).where(Report.message_id == outcome.message_id))
    staff = volunteer
    mark_report(session, report, ReportStatus.verified, staff, clock.now())
    clock.advance(hours=1)
    mark_report(session, report, ReportStatus.wrong, staff, clock.now(), "  not there  ")
    assert (report.status, report.reviewed_at, report.review_note) == (ReportStatus.wrong, clock.now(), "not there")
    actions = session.scalars(select(AuditEntry.action).where(AuditEntry.entity == "report")).all()
    assert actions == ["verified", "wrong"]
    with pytest.raises(ValueError):
        mark_report(session, report, ReportStatus.flagged, staff, clock.now())
