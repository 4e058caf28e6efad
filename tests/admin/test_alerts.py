"""The alerts inbox and the review queue: staff see and answer only their own areas' alerts and
records (another area's gets 404), with who, when and the note kept."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from gateway.models import Alert, AlertStatus, AuditEntry, Report, ReportStatus
from tests.admin.conftest import post
from tests.admin.records import danger_alert, far_family, flagged, report


@pytest.fixture
def alert(app, session, volunteer, woman, staff):
    return danger_alert(app, session, volunteer, woman)


@pytest.fixture
def far_alert(app, session):
    volunteer, _, woman = far_family(session)
    return danger_alert(app, session, volunteer, woman, codes="C")


def test_staff_see_the_open_alerts_of_their_township_only(as_staff, alert, far_alert, woman):
    page = as_staff.get("/admin/alerts").get_data(as_text=True)
    assert f"/admin/alerts/{alert.id}" in page and woman.name in page and "Kanyagwal" in page
    assert f"/admin/alerts/{far_alert.id}" not in page and "Far Woman" not in page
    assert 'Open <span class="count">1</span>' in page


def test_admins_see_every_area_s_alerts(as_admin, alert, far_alert):
    page = as_admin.get("/admin/alerts").get_data(as_text=True)
    assert f"/admin/alerts/{alert.id}" in page and f"/admin/alerts/{far_alert.id}" in page


def test_another_area_s_alert_is_not_found_for_staff(as_staff, far_alert):
    assert as_staff.get(f"/admin/alerts/{far_alert.id}").status_code == 404
    assert post(as_staff, f"/admin/alerts/{far_alert.id}/acknowledge").status_code == 404
    assert as_staff.get("/admin/alerts/999999").status_code == 404


def test_acknowledge_then_resolve_with_a_note_keeps_who_and_when(as_staff, session, alert, staff, clock):
    page = as_staff.get(f"/admin/alerts/{alert.id}").get_data(as_text=True)
    assert "Acknowledge" in page and "danger" in page
    response = post(as_staff, f"/admin/alerts/{alert.id}/acknowledge", {"note": "calling her now"})
    assert response.status_code == 302
    clock.advance(hours=2)
    post(as_staff, f"/admin/alerts/{alert.id}/resolve", {"note": "taken to the health centre"})
    session.expire_all()
    alert = session.get(Alert, alert.id)
    assert alert.status is AlertStatus.resolved
    events = [(e.status, e.by_id, e.note) for e in alert.history[-2:]]
    assert events == [(AlertStatus.acknowledged, staff.id, "calling her now"),
                      (AlertStatus.resolved, staff.id, "taken to the health centre")]
    assert alert.history[-1].at == clock.now()
    page = as_staff.get(f"/admin/alerts/{alert.id}").get_data(as_text=True)
    assert "by Grace Achieng: taken to the health centre" in page and "Acknowledge" not in page
    assert f"/admin/alerts/{alert.id}" in as_staff.get("/admin/alerts?status=resolved").get_data(as_text=True)


def test_acknowledging_twice_says_it_was_done(as_staff, alert):
    post(as_staff, f"/admin/alerts/{alert.id}/acknowledge")
    response = post(as_staff, f"/admin/alerts/{alert.id}/acknowledge", follow_redirects=True)
    assert f"Alert {alert.id} was already acknowledged." in response.get_data(as_text=True)


def test_a_note_too_long_is_shown_and_nothing_changes(as_staff, session, alert):
    response = post(as_staff, f"/admin/alerts/{alert.id}/resolve", {"note": "x" * 201})
    assert response.status_code == 400
    assert "Field cannot be longer than 200 characters." in response.get_data(as_text=True)
    session.expire_all()
    assert session.get(Alert, alert.id).status is AlertStatus.open


# -- the review queue ------------------------------------------------------------------------------------

@pytest.fixture
def flagged_report(app, session, volunteer, household, staff):
    return flagged(app, session, volunteer, household, reason="possible duplicate of report 7 (same V within 7 days)")


def test_the_queue_shows_flagged_reports_with_their_reasons(as_staff, app, session, flagged_report):
    volunteer, household, _ = far_family(session)
    far = flagged(app, session, volunteer, household, reason="outside the sender's villages")
    page = as_staff.get("/admin/review").get_data(as_text=True)
    assert f"/admin/reports/{flagged_report.id}" in page
    assert "possible duplicate of report 7 (same V within 7 days)" in page
    assert f"/admin/reports/{far.id}" not in page and "outside the sender" not in page
    assert as_staff.get(f"/admin/reports/{far.id}").status_code == 404
    assert post(as_staff, f"/admin/reports/{far.id}/review", {"decision": "wrong"}).status_code == 404


def test_marking_verified_keeps_who_and_when_and_leaves_the_queue(as_staff, session, flagged_report, staff, clock,
                                                                household):
    page = as_staff.get(f"/admin/reports/{flagged_report.id}").get_data(as_text=True)
    assert f"<code>V {household.short_id}</code>" in page and "Juma Ali" in page
    response = post(as_staff, f"/admin/reports/{flagged_report.id}/review", {"decision": "verified", "note": "saw her"})
    assert response.status_code == 302
    session.expire_all()
    marked = session.get(Report, flagged_report.id)
    assert (marked.status, marked.reviewed_by_id, marked.reviewed_at, marked.review_note) == (
        ReportStatus.verified, staff.id, clock.now(), "saw her")
    assert f"/admin/reports/{marked.id}" not in as_staff.get("/admin/review").get_data(as_text=True)
    verified = as_staff.get("/admin/review?status=verified").get_data(as_text=True)
    assert "verified by Grace Achieng" in verified
    entry = session.scalar(select(AuditEntry).where(AuditEntry.entity == "report", AuditEntry.entity_id == marked.id))
    assert entry.changes["status"] == ["flagged", "verified"] and entry.actor_id == staff.id


def test_a_mark_must_be_chosen(as_staff, session, flagged_report):
    response = post(as_staff, f"/admin/reports/{flagged_report.id}/review", {"decision": ""})
    assert response.status_code == 400
    assert "Choose verified or wrong." in response.get_data(as_text=True)
    session.expire_all()
    assert session.get(Report, flagged_report.id).status is ReportStatus.flagged


def test_marking_a_sampled_report_resolves_its_verify_alert(app, as_staff, session, volunteer, woman, staff):
    from gateway.alerts import raise_alert
    from gateway.models import AlertKind

    found = report(app, volunteer.phone, f"PREG {woman.short_id} 12W")
    with app.app_context():
        verify = raise_alert(session, app.extensions["fieldline"], AlertKind.verify, session.get(type(woman), woman.id),
                             "verify in person", app.extensions["fieldline"].clock.now(), report_id=found.id)
        session.commit()
    post(as_staff, f"/admin/reports/{found.id}/review", {"decision": "wrong", "note": "no pregnancy"})
    session.expire_all()
    verify = session.get(Alert, verify.id)
    assert verify.status is AlertStatus.resolved
    assert verify.history[-1].note == "report marked wrong: no pregnancy" and verify.history[-1].by_id == staff.id
