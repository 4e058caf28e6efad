"""The message log: what came in and went out with statuses and history, searchable by phone;
staff see their area's messages with the numbers partly masked; and the audit log (admins)."""
from __future__ import annotations

from sqlalchemy import select

from gateway.models import OutgoingKind, OutgoingMessage
from gateway.outbox import queue_sms
from gateway.phones import mask_phone
from tests.admin.conftest import post
from tests.admin.records import far_family, report


def test_admins_see_numbers_whole_and_staff_masked(app, client, as_admin, session, volunteer, household, staff):
    report(app, volunteer.phone, f"V {household.short_id}")
    page = as_admin.get("/admin/messages").get_data(as_text=True)
    assert volunteer.phone in page and f"<code>V {household.short_id}</code>" in page and "accepted" in page
    from tests.admin.conftest import sign_in

    staff_client = app.test_client()
    sign_in(staff_client, staff)
    page = staff_client.get("/admin/messages").get_data(as_text=True)
    assert volunteer.phone not in page and mask_phone(volunteer.phone) in page
    assert f"<code>V {household.short_id}</code>" in page


def test_staff_see_only_their_area_s_messages(app, as_staff, session, volunteer, household):
    far_volunteer, far_household, _ = far_family(session)
    report(app, volunteer.phone, f"V {household.short_id}")
    report(app, far_volunteer.phone, f"V {far_household.short_id}")
    page = as_staff.get("/admin/messages").get_data(as_text=True)
    assert f"V {household.short_id}" in page and f"V {far_household.short_id}" not in page


def test_search_by_phone_in_any_spelling(app, as_admin, session, volunteer, household, far_staff):
    far_volunteer, far_household, _ = far_family(session)
    report(app, volunteer.phone, f"V {household.short_id}")
    report(app, far_volunteer.phone, f"V {far_household.short_id}")
    local = "0" + volunteer.phone[4:]
    page = as_admin.get(f"/admin/messages?phone={local}").get_data(as_text=True)
    assert f"V {household.short_id}" in page and f"V {far_household.short_id}" not in page
    bad = as_admin.get("/admin/messages?phone=12").get_data(as_text=True)
    assert "is not a valid phone number" in bad


def test_an_outgoing_message_shows_its_history(app, as_staff, session, runtime, volunteer, far_staff):
    with app.app_context():
        mine = queue_sms(session, runtime, to=volunteer.phone, body="Due today: ANC Amina", now=runtime.clock.now(),
                         kind=OutgoingKind.reminder, contact_id=volunteer.id)
        far = queue_sms(session, runtime, to=far_staff.phone, body="ALERT 9", now=runtime.clock.now(),
                        kind=OutgoingKind.alert, contact_id=far_staff.id)
        session.commit()
    listing = as_staff.get("/admin/messages?dir=out").get_data(as_text=True)
    assert "Due today: ANC Amina" in listing and "ALERT 9" not in listing
    page = as_staff.get(f"/admin/messages/out/{mine.id}").get_data(as_text=True)
    session.expire_all()
    statuses = [c.status.value for c in session.get(OutgoingMessage, mine.id).history]
    assert statuses and all(f"<strong>{s}</strong>" in page for s in statuses)
    assert as_staff.get(f"/admin/messages/out/{far.id}").status_code == 404


def test_the_audit_log_lists_roster_and_area_changes_with_who(as_admin, session, admin, volunteer):
    post(as_admin, "/admin/areas", {"name": "Kobura", "parent": str(volunteer.areas[0].parent_id)})
    post(as_admin, f"/admin/contacts/{volunteer.id}/active", {"active": "0"})
    page = as_admin.get("/admin/audit").get_data(as_text=True)
    assert "area added: Kisumu/Nyando/Kobura" in page
    assert f"contact deactivated: {volunteer.name} ({volunteer.phone})" in page
    assert "active: yes → no" in page and "Ada Admin" in page
    assert "command line" in page  # the fixtures' contacts were added outside the web view
    areas_only = as_admin.get("/admin/audit?entity=area").get_data(as_text=True)
    assert "Kobura" in areas_only and "deactivated" not in areas_only
    assert session.scalar(select(OutgoingMessage.id)) is None
