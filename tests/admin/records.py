"""Records for the admin view's tests, made the way the field makes them: through intake."""
from __future__ import annotations

from sqlalchemy import event, select

from gateway.models import Alert, Report, ReportStatus
from tests import factories
from tests.helpers import accepted

FAR_VILLAGE = "Siaya/Alego/Nyalgunga"


def report(app, phone: str, text: str) -> Report:
    runtime = app.extensions["fieldline"]
    with app.app_context():  # the in-process queue runs the checks and dispatch at once
        outcome = accepted(runtime, phone, text)
    session = runtime.db.session()
    try:
        return session.scalar(select(Report).where(Report.message_id == outcome.message_id))
    finally:
        session.close()


def danger_alert(app, session, volunteer, woman, codes: str = "BF") -> Alert:
    found = report(app, volunteer.phone, f"DANGER {woman.short_id} {codes}")
    session.expire_all()
    return session.scalar(select(Alert).where(Alert.report_id == found.id))


def flagged(app, session, volunteer, household, reason: str = "possible duplicate of report 1") -> Report:
    found = report(app, volunteer.phone, f"V {household.short_id}")
    found = session.get(Report, found.id)
    found.status, found.flag_reason = ReportStatus.flagged, reason
    session.commit()
    return found


def far_family(session):
    """A volunteer of a village in another township, a household and a woman there."""
    volunteer = factories.contact(session, areas=(FAR_VILLAGE,), name="Far Volunteer")
    household = factories.household(session, volunteer, village=FAR_VILLAGE, head="Far Head")
    woman = factories.person(session, household, volunteer, name="Far Woman", sex="F")
    session.commit()
    return volunteer, household, woman


def count_queries(runtime, fetch) -> int:
    """How many SQL statements fetch() runs."""
    statements = []
    listener = lambda *args: statements.append(args[2])  # noqa: E731
    event.listen(runtime.db.engine, "before_cursor_execute", listener)
    try:
        fetch()
    finally:
        event.remove(runtime.db.engine, "before_cursor_execute", listener)
    return len(statements)
