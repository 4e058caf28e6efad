"""Every list pages in the database and reads the same number of queries for 2 rows as for 12."""
from __future__ import annotations

from sqlalchemy import select

from gateway.models import OutgoingKind, OutgoingMessage, Report, ReportStatus
from gateway.outbox import queue_sms
from tests import factories
from tests.admin.records import count_queries, report


def grow(app, session, runtime, staff, n: int) -> None:
    """n more volunteers, each in a village of their own with a household, a woman, a danger
    alert, a flagged visit, a message in and one out."""
    for _ in range(n):
        village = f"Kisumu/Nyando/V{factories.next_phone()[-6:]}"
        volunteer = factories.contact(session, areas=(village,))
        household = factories.household(session, volunteer, village=village)
        woman = factories.person(session, household, volunteer)
        session.commit()
        report(app, volunteer.phone, f"DANGER {woman.short_id} B")
        visit = report(app, volunteer.phone, f"V {household.short_id}")
        flagged = session.get(Report, visit.id)
        flagged.status, flagged.flag_reason = ReportStatus.flagged, "possible duplicate"
        with app.app_context():
            queue_sms(session, runtime, to=volunteer.phone, body="Due today: ANC", kind=OutgoingKind.reminder,
                      now=runtime.clock.now(), contact_id=volunteer.id)
            session.commit()


PATHS = ["/admin/contacts", "/admin/alerts", "/admin/review", "/admin/messages", "/admin/messages?dir=out",
         "/admin/audit", "/admin/areas", "/admin/dashboard"]
ADMIN_ONLY = {"/admin/contacts", "/admin/audit", "/admin/areas"}


def test_no_list_reads_a_query_per_row(app, session, runtime, admin, staff):
    from tests.admin.conftest import sign_in

    clients = {"admin": app.test_client(), "staff": app.test_client()}
    sign_in(clients["admin"], admin)
    sign_in(clients["staff"], staff)

    def counts() -> dict:
        found = {}
        for who, client in clients.items():
            for path in PATHS:
                if who == "staff" and path in ADMIN_ONLY:
                    continue
                response = []
                found[who, path] = count_queries(runtime, lambda: response.append(client.get(path)))
                assert response[0].status_code == 200, (who, path)
        return found

    grow(app, session, runtime, staff, 2)
    few = counts()
    grow(app, session, runtime, staff, 10)
    assert counts() == few
    assert all(n > 0 for n in few.values())


def test_lists_are_paged(as_admin, app, session, runtime, staff):
    grow(app, session, runtime, staff, 1)
    with app.app_context():
        for _ in range(60):
            queue_sms(session, runtime, to=staff.phone, body="ALERT", kind=OutgoingKind.alert, now=runtime.clock.now(),
                      contact_id=staff.id)
        session.commit()
    total = len(session.scalars(select(OutgoingMessage.id)).all())
    first = as_admin.get("/admin/messages?dir=out").get_data(as_text=True)
    assert first.count('data-label="Created"') == 50 and "Older ›" in first
    newest = max(session.scalars(select(OutgoingMessage.id)))
    assert f"before={newest - 49}" in first
    second = as_admin.get(f"/admin/messages?dir=out&before={newest - 49}").get_data(as_text=True)
    assert second.count('data-label="Created"') == total - 50 and "Older ›" not in second and "« Newest" in second
