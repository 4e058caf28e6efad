"""Hostile input in the admin view (issue #8), over every route in app.url_map, not a hand list: a
stranger is sent to sign in, a form without its CSRF token changes nothing, names that are markup
show as text on every page and in the CSV exports, and staff reach no other area's records.

A route added later is covered without editing this file, unless it takes an argument or a form
this file does not know yet: then the tests fail and say what to add."""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from html.parser import HTMLParser

import pytest
from markupsafe import escape
from sqlalchemy import select

from gateway import create_app
from gateway.alerts import acknowledge
from gateway.db import Base
from gateway.models import Area, Contact, Household, OutgoingMessage, Person, Report, ReportStatus
from tests import factories
from tests.admin.conftest import PASSWORD, TOWNSHIP, csrf_token, person_who_signs_in, sign_in
from tests.admin.records import FAR_VILLAGE, danger_alert, far_family, report
from tests.conftest import make_settings
from tests.helpers import send

SCRIPT = "<script>alert(1)</script>"
ATTRIBUTE = '"><img src=x onerror=alert(1)>'  # breaks out of a quoted attribute
QUOTE = '" autofocus onfocus="alert(1)'  # the same within the tag: no '>' or '/', so an area may be named so
PAYLOADS = (SCRIPT, ATTRIBUTE, QUOTE)
FORMULA = '=HYPERLINK("http://evil.example","x")'  # what a spreadsheet would run from a CSV cell
EVIL_VILLAGE = f"{TOWNSHIP}/{QUOTE}"  # '/' and '>' separate the levels of an area's path
FAR_NAMES = ["Far Woman", "Far Head", "Far Volunteer", "Nyalgunga"]

# The URL map of an app that never connects: the routes under test are read from it at collection.
_MAP = create_app(make_settings("sqlite://")).url_map
RULES = sorted((r for r in _MAP.iter_rules() if r.rule.startswith("/admin") and r.endpoint != "admin.static"),
               key=lambda r: r.rule)
GET_RULES = [r for r in RULES if "GET" in r.methods]
POST_RULES = [r for r in RULES if "POST" in r.methods]
WITH_ID = [r for r in RULES if r.arguments]
# Query parameters some page reads and may show again; every page is also fetched with all of them.
REFLECTED = {"q": ATTRIBUTE, "phone": QUOTE, "text": SCRIPT, "status": ATTRIBUTE, "role": QUOTE,
             "entity": SCRIPT, "month": ATTRIBUTE, "dir": SCRIPT, "page": QUOTE, "before": SCRIPT,
             "next": ATTRIBUTE, "lang": QUOTE}
QUERY = {"admin.simulator": {"phone": "+254711000001"}, "admin.card": {"lang": "zh"},
         "admin.alerts": {"status": "acknowledged"}}


def rule_id(rule) -> str:
    return f"{'+'.join(sorted(rule.methods - {'HEAD', 'OPTIONS'}))} {rule.rule}"


def url_for_rule(rule, ids: dict, **query) -> str:
    """The rule's URL with the given ids; a route argument the tests do not know fails loudly."""
    values = {}
    for argument in rule.arguments:
        assert argument in ids, f"{rule.rule}: the tests know no value for '{argument}'; add one to the records"
        values[argument] = ids[argument]
    return _MAP.bind("localhost").build(rule.endpoint, {**values, **query})


def form_for(endpoint: str, admin_phone: str, contact_phone: str, volunteer_phone: str) -> dict:
    """A form that would be accepted at endpoint but for what the test leaves out."""
    forms = {
        "admin.sign_in": {"phone": admin_phone, "password": PASSWORD},
        "admin.sign_out": {},
        "admin.alert_answer": {"note": "on my way"},
        "admin.report_review": {"decision": "wrong", "note": "checked"},
        "admin.contact_new": {"name": "New Person", "phone": "0712000001", "role": "admin", "language": "en"},
        "admin.contact_edit": {"name": "Renamed", "phone": contact_phone, "role": "admin", "language": "en"},
        "admin.contact_active": {"active": "0"},
        "admin.contacts_import": {"file": (io.BytesIO(b"name,phone,role,area,language\nX,0712000002,admin,,en\n"),
                                           "roster.csv")},
        "admin.areas": {"name": "Nowhere", "parent": "0"},
        "admin.area_edit": {"name": "Renamed", "parent": "0"},
        "admin.simulator": {"phone": volunteer_phone, "text": "HH Someone"},
        "admin.simulator_ussd": {"phone": volunteer_phone, "do": "dial"},
    }
    assert endpoint in forms, f"{endpoint}: the tests know no form for this POST route; add one"
    return dict(forms[endpoint])


def records_form(endpoint: str, records) -> dict:
    return form_for(endpoint, records.admin.phone, records.other.phone, records.volunteer.phone)


def snapshot(session) -> dict[str, list[str]]:
    """Every row of every table, to show that a refused request changed nothing."""
    session.expire_all()
    return {table.name: sorted(map(repr, session.execute(table.select()).all()))
            for table in Base.metadata.sorted_tables}


# -- the records the pages show, with markup wherever a person can type ------------------------------------

@dataclass
class Records:
    admin: Contact
    staff: Contact  # of the volunteers' township, named with markup
    volunteer: Contact  # named with a script
    other: Contact  # named to break out of an attribute
    near: dict  # route argument -> the id of a record staff may see
    far: dict  # route argument -> the id of a record of another township


@pytest.fixture
def records(app, session, admin, far_staff) -> Records:
    """A volunteer named with a script and one whose name breaks attributes, in a village named so;
    a household, a person, an alert with a note, a flagged report, messages in and out, all typed
    with markup; and in a far township a family with an alert, a report and an alert SMS."""
    runtime = app.extensions["fieldline"]
    volunteer = factories.contact(session, name=SCRIPT, areas=(EVIL_VILLAGE,), phone="+254711000001")
    other = factories.contact(session, name=ATTRIBUTE, phone="+254711000002")
    factories.contact(session, name=FORMULA, phone="+254711000003")
    staff = person_who_signs_in(session, role="staff", areas=(TOWNSHIP,), name=ATTRIBUTE, phone="+254711000004")
    report(app, volunteer.phone, f"HH {SCRIPT}")
    household = session.scalar(select(Household).where(Household.head_name == SCRIPT))
    report(app, volunteer.phone, f"REG {household.short_id} F 24 {ATTRIBUTE}")
    person = session.scalar(select(Person).where(Person.name == ATTRIBUTE))
    alert = danger_alert(app, session, volunteer, person)
    acknowledge(alert, staff, runtime.clock.now(), note=SCRIPT)
    visit = session.get(Report, report(app, volunteer.phone, f"V {household.short_id} {ATTRIBUTE}").id)
    visit.status, visit.flag_reason = ReportStatus.flagged, SCRIPT
    session.commit()
    send(runtime, volunteer.phone, SCRIPT)  # no report: kept, and shown in the message log
    alert_sms = session.scalar(select(OutgoingMessage).where(OutgoingMessage.alert_id == alert.id))
    assert ATTRIBUTE in alert_sms.body

    far_volunteer, far_household, far_woman = far_family(session)
    far_alert = danger_alert(app, session, far_volunteer, far_woman, codes="C")
    far_visit = report(app, far_volunteer.phone, f"V {far_household.short_id}")
    far_sms = session.scalar(select(OutgoingMessage).where(OutgoingMessage.alert_id == far_alert.id))
    assert far_sms.contact_id == far_staff.id
    village = session.scalar(select(Area).where(Area.name == QUOTE))
    far_village = session.scalar(select(Area).where(Area.name == FAR_VILLAGE.rsplit("/", 1)[1]))
    session.commit()
    return Records(
        admin=admin, staff=staff, volunteer=volunteer, other=other,
        near={"alert_id": alert.id, "report_id": visit.id, "message_id": alert_sms.id, "contact_id": other.id,
              "area_id": village.id, "action": "acknowledge"},
        far={"alert_id": far_alert.id, "report_id": far_visit.id, "message_id": far_sms.id,
             "contact_id": far_volunteer.id, "area_id": far_village.id, "action": "acknowledge"},
    )


def signed_in(app, contact):
    client = app.test_client()
    sign_in(client, contact)
    return client


# -- what a page may hold ------------------------------------------------------------------------------------

class _Elements(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[str, list]] = []

    def handle_starttag(self, tag, attrs):
        self.found.append((tag, attrs))


def assert_inert(html: str, where: str) -> None:
    """No payload got through as markup. The templates have no script, image or on* handler of
    their own, so any on the page came from a record or a parameter."""
    for payload in PAYLOADS:
        assert payload not in html, f"{where}: {payload!r} is on the page unescaped"
    parser = _Elements()
    parser.feed(html)
    for tag, attrs in parser.found:
        assert tag not in ("script", "img", "iframe", "object", "embed"), f"{where}: a <{tag}> element"
        handlers = [name for name, _ in attrs if name.startswith("on")]
        assert not handlers, f"{where}: <{tag}> with {handlers}"


def csv_cells(response) -> set[str]:
    assert response.status_code == 200
    assert response.mimetype == "text/csv" and response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Content-Disposition"].startswith("attachment;")
    text = response.get_data(as_text=True).lstrip("\ufeff")
    return {cell for row in csv.reader(io.StringIO(text)) for cell in row}


# Pages that show a record typed with markup, and the payloads each must show, escaped, as text.
SHOWS = {
    "admin.contacts": PAYLOADS,  # the volunteers' names
    "admin.contact_edit": (ATTRIBUTE,),  # the name in an input's value attribute
    "admin.alerts": (ATTRIBUTE,),  # the person's name (the alert is acknowledged: see QUERY)
    "admin.alert": PAYLOADS,  # the person, the note staff left, who left it
    "admin.review": (SCRIPT,),  # the household's head, the sender
    "admin.report": PAYLOADS,  # the flag reason, the head, the sender
    "admin.messages": PAYLOADS,  # the sender's name, the body
    "admin.outgoing": (ATTRIBUTE,),  # the alert SMS names the person
    "admin.audit": PAYLOADS,  # roster changes name the contacts
    "admin.areas": (QUOTE,),  # the village
    "admin.area_edit": (QUOTE,),
    "admin.dashboard": (QUOTE,),  # a row per village
    "admin.simulator": PAYLOADS,  # the roster to pick from, the conversation
}


def check_page(client, rule, ids: dict) -> str | None:
    """GET the rule's page, plainly and with hostile parameters; the HTML, None for a CSV or redirect."""
    url = url_for_rule(rule, ids, **QUERY.get(rule.endpoint, {}))
    response = client.get(url)
    if rule.endpoint.endswith("_csv"):
        csv_cells(response)  # a download, never a page: see test_csv_exports_keep_markup_as_data...
        return None
    hostile = client.get(url_for_rule(rule, ids, **{**REFLECTED, **QUERY.get(rule.endpoint, {})}))
    assert hostile.status_code < 500, rule.rule
    assert_inert(hostile.get_data(as_text=True), f"{rule.rule} with hostile parameters")
    if response.status_code == 302:  # /admin/ sends the browser on to the dashboard
        return None
    assert response.status_code == 200 and response.mimetype == "text/html", rule.rule
    html = response.get_data(as_text=True)
    assert_inert(html, rule.rule)
    return html


@pytest.mark.parametrize("rule", [r for r in GET_RULES if r.endpoint != "admin.sign_in"], ids=rule_id)
def test_every_admin_page_shows_markup_in_records_as_text(app, records, rule):
    html = check_page(signed_in(app, records.admin), rule, records.near)
    for payload in SHOWS.get(rule.endpoint, ()) if html else ():
        assert str(escape(payload)) in html, f"{rule.rule}: {payload!r} is not shown"
    # the same page as staff, whose own name, in the page header, is markup too
    staff = signed_in(app, records.staff)
    if staff.get(url_for_rule(rule, records.near, **QUERY.get(rule.endpoint, {}))).status_code == 403:
        return  # an admin's page
    html = check_page(staff, rule, records.near)
    if html and "Sign out" in html:  # pages with the header (not the printable card)
        assert str(escape(ATTRIBUTE)) in html, f"{rule.rule}: the signed-in name is not shown"


def test_csv_exports_keep_markup_as_data_and_formulas_as_text(app, records):
    client = signed_in(app, records.admin)
    cells = csv_cells(client.get("/admin/contacts.csv?status=all"))
    assert {SCRIPT, ATTRIBUTE} <= cells
    assert "'" + FORMULA in cells and FORMULA not in cells
    assert QUOTE in csv_cells(client.get("/admin/dashboard.csv"))  # the village


def test_the_sign_in_page_shows_no_parameter_as_markup(client):
    for name, payload in REFLECTED.items():
        response = client.get("/admin/sign-in", query_string={name: payload})
        assert response.status_code == 200
        assert_inert(response.get_data(as_text=True), f"/admin/sign-in?{name}=")
    response = client.post("/admin/sign-in", data={"phone": SCRIPT, "password": ATTRIBUTE,
                                                   "csrf_token": csrf_token(client)})
    assert response.status_code == 401
    assert_inert(response.get_data(as_text=True), "a refused sign-in")


def test_markup_sent_from_the_simulator_shows_as_text(app, records):
    client = signed_in(app, records.admin)
    token = csrf_token(client, "/admin/simulator")
    response = client.post("/admin/simulator", data={"phone": records.volunteer.phone, "text": f"HH {ATTRIBUTE}",
                                                     "csrf_token": token}, follow_redirects=True)
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert_inert(html, "the simulator after sending")
    assert f"Household of {escape(ATTRIBUTE)} registered" in html


def test_the_simulator_s_ussd_screen_shows_a_name_with_markup_as_text(app, records, session):
    client = signed_in(app, records.admin)
    person = session.scalar(select(Person).where(Person.name == ATTRIBUTE))
    html = ""
    for do, answer in [("dial", ""), ("answer", "3"), ("answer", person.short_id), ("answer", "00")]:  # ANC, no signs
        response = client.post("/admin/simulator/ussd", data={"phone": records.volunteer.phone, "do": do, "answer": answer,
                                                              "csrf_token": csrf_token(client, "/admin/dashboard")},
                               follow_redirects=True)
        html = response.get_data(as_text=True)
        assert_inert(html, f"the USSD screen after {do} {answer}")
    assert f"for {escape(ATTRIBUTE)} ({person.short_id})" in html  # the confirmation names her


def test_a_contact_added_with_markup_is_flashed_as_text(app, records):
    client = signed_in(app, records.admin)
    token = csrf_token(client, "/admin/contacts/new")
    response = client.post("/admin/contacts/new", data={"name": SCRIPT + " II", "phone": "0712000009", "role": "admin",
                                                        "language": "en", "csrf_token": token}, follow_redirects=True)
    html = response.get_data(as_text=True)
    assert_inert(html, "the flash after adding a contact")
    assert f"{escape(SCRIPT)} II added." in html


HEADER = "name,phone,role,area,language\n"


@pytest.mark.parametrize("content, reason", [
    ((HEADER + "Amina,0712000021,admin,,en\n").encode("utf-16-le"), "NUL characters"),  # UTF-16 without its BOM
    (f"{HEADER}Ami\x00na,0712000021,admin,,en\n".encode(), "NUL characters"),
    (f"{HEADER}{'A' * 200_000},0712000021,admin,,en\n".encode(), "field larger than field limit"),
    (HEADER.encode() + b"\xff\xfe,0712000021,admin,,en\n", "not UTF-8"),
])
def test_a_roster_file_that_is_no_csv_is_refused_with_its_reason(app, session, admin, content, reason):
    client = signed_in(app, admin)
    before = snapshot(session)
    response = client.post("/admin/contacts/import", data={"file": (io.BytesIO(content), "roster.csv"),
                                                           "csrf_token": csrf_token(client, "/admin/contacts/import")})
    assert response.status_code == 400
    assert reason in response.get_data(as_text=True)
    assert snapshot(session) == before


def test_a_roster_import_report_shows_markup_in_names_as_text(app, session, admin):
    client = signed_in(app, admin)
    out = io.StringIO()
    csv.writer(out).writerows([HEADER.strip().split(","), [SCRIPT, "0712000022", "admin", "", "en"],
                               [ATTRIBUTE, "not a phone", "admin", "", "en"]])
    content = out.getvalue().encode()
    response = client.post("/admin/contacts/import", data={"file": (io.BytesIO(content), "roster.csv"),
                                                           "csrf_token": csrf_token(client, "/admin/contacts/import")})
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert_inert(html, "the import report")
    assert str(escape(SCRIPT)) in html and str(escape(ATTRIBUTE)) in html  # one added, one refused


# -- a stranger is sent to sign in, from every route --------------------------------------------------------

@pytest.mark.parametrize("rule", [r for r in RULES if r.endpoint != "admin.sign_in"], ids=rule_id)
def test_every_admin_route_asks_a_stranger_to_sign_in(app, session, admin, volunteer, rule):
    client = app.test_client()
    # ids of nothing: the sign-in check comes before any lookup, so a route that looked first would 404
    url = url_for_rule(rule, {"alert_id": 1, "report_id": 1, "message_id": 1, "contact_id": volunteer.id,
                              "area_id": 1, "action": "acknowledge"})
    before = snapshot(session)
    if "GET" in rule.methods:
        response = client.get(url)
        assert response.status_code == 302, rule.rule
        assert response.headers["Location"].startswith("/admin/sign-in?next="), rule.rule
    if "POST" in rule.methods:  # with a good CSRF token, so that only signing in is missing
        data = {**form_for(rule.endpoint, admin.phone, volunteer.phone, volunteer.phone), "csrf_token": csrf_token(client)}
        response = client.post(url, data=data)
        assert response.status_code == 302, rule.rule
        assert response.headers["Location"].startswith("/admin/sign-in"), rule.rule
    assert snapshot(session) == before, rule.rule


def test_the_route_lists_cover_the_admin_view():
    """The tests above take their routes from the URL map; a sanity check that it was read."""
    endpoints = {r.endpoint for r in RULES}
    assert {"admin.dashboard", "admin.alert", "admin.report_review", "admin.contacts_csv", "admin.simulator"} <= endpoints
    assert len(RULES) >= 25 and len(POST_RULES) >= 12


# -- a form without its CSRF token changes nothing, on every POST route ----------------------------------------

@pytest.mark.parametrize("rule", POST_RULES, ids=rule_id)
def test_every_form_without_its_csrf_token_is_refused(app, records, session, rule):
    client = app.test_client()
    if rule.endpoint != "admin.sign_in":
        sign_in(client, records.admin)
    tokens = {"missing": None, "forged": "IjAxMjM0NTY3ODkwMTIzNDU2Nzg5MDEyMzQ1Njc4OSI.aaaaaa.bbbbbbbbbbbbbbbbbbbbbbbbbbb",
              "another session's": csrf_token(app.test_client())}
    before = snapshot(session)
    for name, token in tokens.items():
        data = records_form(rule.endpoint, records)
        if token is not None:
            data["csrf_token"] = token
        response = client.post(url_for_rule(rule, records.near), data=data)
        assert response.status_code == 400, (rule.rule, name)
        assert "Form expired" in response.get_data(as_text=True), (rule.rule, name)
        assert snapshot(session) == before, (rule.rule, name)
    if rule.endpoint != "admin.sign_in":
        assert client.get("/admin/card").status_code == 200  # still signed in: nothing was undone


# -- a NUL, which PostgreSQL cannot keep, anywhere in a form or a query -------------------------------------

@pytest.mark.parametrize("rule", RULES, ids=rule_id)
def test_a_nul_in_any_admin_input_is_refused_and_changes_nothing(app, records, session, rule):
    client = app.test_client()
    if rule.endpoint != "admin.sign_in":
        sign_in(client, records.admin)
    url = url_for_rule(rule, records.near)
    before = snapshot(session)
    if "GET" in rule.methods:
        response = client.get(url_for_rule(rule, records.near, **{name: f"a\x00{value}" for name, value in REFLECTED.items()}))
        assert response.status_code == 400, rule.rule
        assert "NUL" in response.get_data(as_text=True), rule.rule
    if "POST" in rule.methods:
        data = {name: f"{value}\x00" if isinstance(value, str) else value
                for name, value in records_form(rule.endpoint, records).items()}
        data.setdefault("note", "\x00")
        data["csrf_token"] = csrf_token(client)
        response = client.post(url, data=data)
        assert response.status_code == 400, rule.rule
        assert "NUL" in response.get_data(as_text=True), rule.rule
    assert snapshot(session) == before, rule.rule


@pytest.mark.parametrize("settings_overrides", [{"SIGN_IN_MAX_FAILURES_PER_ADDRESS": "2"}])
def test_a_forwarded_address_that_is_no_address_counts_as_the_peer(client, session, admin):
    for forwarded in ("1.2.3.4\x00", "<script>", "x" * 500):
        response = client.post("/admin/sign-in", data={"phone": admin.phone, "password": "guess",
                                                       "csrf_token": csrf_token(client)},
                               headers={"X-Forwarded-For": forwarded})
        assert response.status_code in (401, 429)
    # all three counted against the proxy's own address, which is now throttled
    assert response.status_code == 429


# -- staff reach no other area's records --------------------------------------------------------------------

@pytest.mark.parametrize("rule", WITH_ID, ids=rule_id)
def test_staff_cannot_reach_another_area_s_record_by_its_id(app, records, session, rule):
    staff = signed_in(app, records.staff)
    url = url_for_rule(rule, records.far)
    if "GET" in rule.methods:
        # the id is real: an admin sees it
        assert signed_in(app, records.admin).get(url).status_code == 200, rule.rule
        response = staff.get(url)
        assert response.status_code in (403, 404), rule.rule
        assert not any(name in response.get_data(as_text=True) for name in FAR_NAMES), rule.rule
    if "POST" in rule.methods:
        before = snapshot(session)
        data = {**records_form(rule.endpoint, records), "csrf_token": csrf_token(staff, "/admin/dashboard")}
        assert staff.post(url, data=data).status_code in (403, 404), rule.rule
        assert snapshot(session) == before, rule.rule


STAFF_LISTS = ["/admin/alerts?status=open", "/admin/alerts?status=acknowledged", "/admin/alerts?status=resolved",
               "/admin/review?status=flagged", "/admin/review?status=verified", "/admin/review?status=wrong",
               "/admin/messages", "/admin/messages?dir=out", "/admin/dashboard", "/admin/dashboard.csv"]


def test_staff_lists_leave_out_another_area_s_records(app, records, session):
    # the far records in every list state, so that each list would show them if it could
    far_report = session.get(Report, records.far["report_id"])
    far_report.status, far_report.flag_reason = ReportStatus.flagged, "check"
    session.commit()
    staff, admin = signed_in(app, records.staff), signed_in(app, records.admin)
    shown_to_admin = set()
    for path in STAFF_LISTS:
        text = staff.get(path).get_data(as_text=True)
        assert not [name for name in FAR_NAMES if name in text], path
        assert f"/alerts/{records.far['alert_id']}\"" not in text and f"/reports/{records.far['report_id']}\"" not in text
        admin_text = admin.get(path).get_data(as_text=True)
        shown_to_admin |= {name for name in FAR_NAMES if name in admin_text}
    assert shown_to_admin == set(FAR_NAMES)  # the lists do hold them, for someone allowed to see them
