"""End-to-end fixtures: Fieldline served on a loopback port from a thread, on a database whose
transactions really commit (emptied afterwards), driven by Debian's Chromium through Playwright.

Playwright's own browser download is not used: the tests need /usr/bin/chromium (Debian's
'chromium' package, which .ci/run installs) and are skipped, saying so, where it is missing."""
from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from gateway import create_app
from gateway.clock import FrozenClock
from gateway.db import Base
from tests import factories
from tests.admin.conftest import PASSWORD, password_hash
from tests.conftest import START, TZ, make_settings
from tests.helpers import accepted

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"
PHONE = {"width": 360, "height": 740}
DESKTOP = {"width": 1280, "height": 900}


@dataclass
class Field:
    """What the seeded programme holds: phone numbers to sign in with and IDs to report on."""

    url: str
    admin_phone: str
    staff_phone: str
    volunteer_phone: str
    leaver_phone: str
    woman_id: str
    alert_id: int
    flagged_report_id: int


def _seed(app) -> dict:
    runtime = app.extensions["fieldline"]
    with runtime.db.session_scope() as session:
        admin = factories.contact(session, role="admin", areas=(), name="Ada Admin", phone="+254700100001")
        staff = factories.contact(session, role="staff", areas=("Kisumu/Nyando",), name="Grace Achieng",
                                  phone="+254700100002")
        admin.password_hash = staff.password_hash = password_hash()
        volunteer = factories.contact(session, name="Akinyi Otieno", phone="+254700100003")
        leaver = factories.contact(session, name="Juma Left", phone="+254700100004", areas=(factories.OTHER_VILLAGE,))
        household = factories.household(session, volunteer)
        woman = factories.person(session, household, volunteer, name="Amina Juma")
        neighbour = factories.person(session, household, volunteer, name="Zawadi Juma")
        seeded = {"admin": admin.phone, "staff": staff.phone, "volunteer": volunteer.phone, "leaver": leaver.phone,
                  "woman": woman.short_id, "neighbour": neighbour.short_id, "household": household.short_id}
    with app.app_context():
        danger = accepted(runtime, seeded["volunteer"], f"DANGER {seeded['neighbour']} BF")
        visit = accepted(runtime, seeded["volunteer"], f"V {seeded['household']}")
    from sqlalchemy import select

    from gateway.models import Alert, Report, ReportStatus

    with runtime.db.session_scope() as session:
        report = session.scalar(select(Report).where(Report.message_id == visit.message_id))
        report.status, report.flag_reason = ReportStatus.flagged, "possible duplicate of a visit 2 days ago"
        seeded["report"] = report.id
        seeded["alert"] = session.scalar(select(Alert.id).where(Alert.id == int(danger.record["id"])))
    return seeded


@pytest.fixture(scope="module")
def field(database_url):
    """The app on http://127.0.0.1:<port>, seeded with an admin, a supervisor of Nyando township, a
    volunteer of Kanyagwal with a household, a danger alert and a flagged visit."""
    if not CHROMIUM.exists():
        pytest.skip(f"no Chromium at {CHROMIUM}: install Debian's 'chromium' package (.ci/run does) to run the browser tests")
    app = create_app(make_settings(database_url))
    runtime = app.extensions["fieldline"]
    runtime.clock = FrozenClock(TZ, START)
    seeded = _seed(app)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Field(f"http://127.0.0.1:{server.server_port}", seeded["admin"], seeded["staff"], seeded["volunteer"],
                    seeded["leaver"], seeded["woman"], seeded["alert"], seeded["report"])
    finally:
        server.shutdown()
        thread.join(timeout=5)
        with runtime.db.engine.begin() as conn:
            for table in reversed(Base.metadata.sorted_tables):
                conn.execute(table.delete())
        runtime.db.dispose()


@pytest.fixture(scope="module")
def browser(field):
    playwright_api = pytest.importorskip("playwright.sync_api", reason="the 'playwright' package is in the [test] extra")
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--no-sandbox", "--disable-background-networking", "--headless"],
        )
        yield browser
        browser.close()


def _page(browser, viewport):
    context = browser.new_context(viewport=viewport, locale="en-GB")
    page = context.new_page()
    page.set_default_timeout(10_000)
    return context, page


@pytest.fixture
def desktop(browser):
    context, page = _page(browser, DESKTOP)
    yield page
    context.close()


@pytest.fixture
def phone(browser):
    """A 360-px-wide phone screen."""
    context, page = _page(browser, PHONE)
    yield page
    context.close()


def sign_in(page, field: Field, phone_number: str) -> None:
    page.goto(f"{field.url}/admin/")
    page.get_by_label("Phone number").fill(phone_number)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/admin/dashboard")


def artefact(name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS / name
