"""The admin view in a real browser (Debian's Chromium): an admin imports a roster with a bad row,
sees why it was refused, fixes it and imports again, adds a volunteer with two villages and
deactivates one who left; a supervisor on a 360-px phone acknowledges an alert and verifies a
flagged report; the simulator answers PREG; the dashboard is saved as a screenshot; the card fits
an A6 page."""
from __future__ import annotations

import re

import pytest

expect = pytest.importorskip("playwright.sync_api", reason="the 'playwright' package is in the [test] extra").expect

from tests.e2e.conftest import DESKTOP, PHONE, artefact, sign_in

ROSTER = """name,phone,role,area,language
Mary Awino,0712 555 001,volunteer,Kisumu/Nyando/Kanyagwal,en
Li Na,0733 567 890,volunteer,Kisumu/Nyando/Ombeyi,zh
Bad Row,07 12,volunteer,Kisumu/Nyando/Ombeyi,en
Peter Otieno,0712 555 003,volunteer,Kisumu/Nyando/Nowhere/Extra,en
"""


def go(page, target) -> None:
    """Click a link or button and wait for the page it loads, so that the next step never acts on
    the page before it (which often has the same form)."""
    with page.expect_navigation():
        target.click()


def csv_file(text: str) -> dict:
    return {"name": "roster.csv", "mimeType": "text/csv", "buffer": text.encode("utf-8")}


def no_sideways_scroll(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_an_admin_imports_a_roster_sees_the_bad_rows_fixes_them_and_imports_again(field, desktop):
    page = desktop
    sign_in(page, field, field.admin_phone)
    go(page, page.get_by_role("link", name="Volunteers & staff"))
    go(page, page.get_by_role("link", name="Import CSV"))
    page.get_by_label("Roster CSV").set_input_files(csv_file(ROSTER))
    go(page, page.get_by_role("button", name="Import"))
    expect(page.locator("#report .summary")).to_have_text("2 added, 0 updated, 0 unchanged, 2 refused")
    refused = page.locator("#report table.refused tbody tr")
    expect(refused).to_have_count(2)
    expect(refused.nth(0).locator("th, td")).to_have_text(
        ["4", "Bad Row", "07 12", "'07 12' is not a valid phone number for KE or with a country code"])
    expect(refused.nth(1)).to_contain_text("has more than 3 levels")

    fixed = ROSTER.replace("07 12", "0712 555 002").replace("Nowhere/Extra", "Nowhere")
    page.get_by_label("Roster CSV").set_input_files(csv_file(fixed))
    go(page, page.get_by_role("button", name="Import"))
    expect(page.locator("#report .summary")).to_have_text("2 added, 0 updated, 2 unchanged, 0 refused")
    expect(page.locator("table.refused")).to_have_count(0)
    go(page, page.get_by_role("link", name="‹ Volunteers and staff"))
    page.get_by_placeholder("name or phone").fill("Bad Row")
    go(page, page.get_by_role("button", name="Search"))
    expect(page.locator("table.cards tbody")).to_contain_text("+254712555002")


def test_an_admin_adds_a_volunteer_with_two_villages_and_deactivates_one_who_left(field, desktop):
    page = desktop
    sign_in(page, field, field.admin_phone)
    page.goto(f"{field.url}/admin/contacts/new")
    page.get_by_label("Name").fill("Rose Adhiambo")
    page.get_by_label("Phone number").fill("0712 555 777")
    page.get_by_label("Role").select_option("volunteer")
    page.get_by_label("Language").select_option("sw")
    page.get_by_label("Villages or areas").select_option(label=["Kisumu/Nyando/Kanyagwal", "Kisumu/Nyando/Ombeyi"])
    go(page, page.get_by_role("button", name="Save"))
    expect(page.get_by_role("status")).to_have_text("Rose Adhiambo added.")
    assert page.get_by_label("Villages or areas").evaluate(
        "s => [...s.selectedOptions].map(o => o.text)") == ["Kisumu/Nyando/Kanyagwal", "Kisumu/Nyando/Ombeyi"]

    page.goto(f"{field.url}/admin/contacts?q=Juma Left")
    go(page, page.get_by_role("link", name="Juma Left"))
    go(page, page.get_by_role("button", name="Deactivate (left the programme)"))
    expect(page.get_by_role("status")).to_have_text("Juma Left deactivated.")
    page.goto(f"{field.url}/admin/audit")
    log = page.locator("table.cards tbody")
    expect(log).to_contain_text("contact deactivated: Juma Left")
    expect(log).to_contain_text("contact added: Rose Adhiambo")


def test_a_supervisor_on_her_phone_acknowledges_an_alert(field, phone):
    page = phone
    sign_in(page, field, field.staff_phone)
    go(page, page.get_by_role("link", name="Alerts"))
    # the danger alert's row (the checks may also ask, by a sample of report ids, to verify a report)
    row = page.locator("table.cards tbody tr", has=page.get_by_role("link", name=str(field.alert_id), exact=True))
    expect(row).to_contain_text("danger")
    expect(row).to_contain_text("Zawadi Juma")
    expect(row).to_contain_text("Kanyagwal")
    assert no_sideways_scroll(page)
    go(page, row.get_by_role("link", name=str(field.alert_id)))
    page.get_by_label("Note").fill("calling the family now")
    go(page, page.get_by_role("button", name="Acknowledge"))
    expect(page.get_by_role("status")).to_have_text(f"Alert {field.alert_id} acknowledged.")
    expect(page.locator("h1 .status")).to_have_text("acknowledged")
    expect(page.locator(".history")).to_contain_text("by Grace Achieng: calling the family now")
    assert no_sideways_scroll(page)
    page.screenshot(path=str(artefact("alert-phone-360.png")), full_page=True)


def test_a_supervisor_verifies_a_flagged_report(field, phone):
    page = phone
    sign_in(page, field, field.staff_phone)
    go(page, page.get_by_role("link", name="Review"))
    expect(page.locator("table.cards")).to_contain_text("possible duplicate of a visit 2 days ago")
    assert no_sideways_scroll(page)
    page.screenshot(path=str(artefact("review-phone-360.png")), full_page=True)
    go(page, page.get_by_role("link", name=f"V {field.flagged_report_id}"))
    page.get_by_label("Verified").check()
    page.get_by_label("Note").fill("visited them myself")
    go(page, page.get_by_role("button", name="Save the mark"))
    expect(page.get_by_role("status")).to_have_text(f"Report {field.flagged_report_id} marked verified.")
    go(page, page.get_by_role("link", name=re.compile("^Verified")))
    row = page.locator("table.cards tbody tr", has_text=f"V {field.flagged_report_id}")
    expect(row).to_contain_text("verified by Grace Achieng")
    expect(row).to_contain_text("visited them myself")


def test_the_simulator_texts_preg_and_shows_the_reply(field, desktop):
    page = desktop
    sign_in(page, field, field.admin_phone)
    go(page, page.get_by_role("link", name="Simulator"))
    page.get_by_label("As").fill(field.volunteer_phone)
    go(page, page.get_by_role("button", name="Open"))
    page.get_by_label("Message").fill(f"PREG {field.woman_id} 12W")
    go(page, page.get_by_role("button", name="Send"))
    newest_reply = page.locator("#thread .reply").first  # the thread lists the newest first
    expect(newest_reply).to_have_text(
        re.compile(rf"^Pregnancy of Amina Juma \({field.woman_id}\) recorded, 12 weeks\. EDD "))
    page.get_by_label("Message").fill("PREG")
    go(page, page.get_by_role("button", name="Send"))
    expect(newest_reply).to_have_text(re.compile("^PREG: "))
    # and the USSD phone: dial, pick from the menu, go back with Hang up
    go(page, page.get_by_role("button", name=re.compile("^Dial")))
    expect(page.locator("#ussd-screen")).to_have_text(re.compile(r"\d+ Pregnancy"))
    page.screenshot(path=str(artefact("simulator-desktop.png")), full_page=True)
    go(page, page.get_by_role("button", name="Hang up"))
    expect(page.get_by_role("button", name=re.compile("^Dial"))).to_be_visible()


@pytest.mark.parametrize("who, viewport, name", [
    ("staff", PHONE, "dashboard-phone-360.png"),
    ("admin", DESKTOP, "dashboard-desktop.png"),
])
def test_the_dashboard_is_saved_as_a_screenshot(field, browser, who, viewport, name):
    context = browser.new_context(viewport=viewport)
    page = context.new_page()
    try:
        sign_in(page, field, field.staff_phone if who == "staff" else field.admin_phone)
        assert page.locator("table.dashboard tbody tr").count() >= 2
        assert page.locator("figure.chart svg").count() == 2
        assert page.locator("figure.chart svg").first.is_visible()
        assert page.locator("figure.chart svg rect").evaluate_all(
            "bars => bars.filter(b => b.getBoundingClientRect().height > 0).length") > 0
        assert no_sideways_scroll(page)
        path = artefact(name)
        page.screenshot(path=str(path), full_page=True)
        print(f"dashboard screenshot: {path}")
        assert path.stat().st_size > 10_000
    finally:
        context.close()


@pytest.mark.parametrize("lang", ["en", "zh", "fr", "sw"])
def test_the_volunteer_card_prints_on_one_a6_page(field, desktop, lang):
    page = desktop
    sign_in(page, field, field.staff_phone)
    page.goto(f"{field.url}/admin/card?lang={lang}")
    pdf = page.pdf(prefer_css_page_size=True, print_background=True)
    assert len(re.findall(rb"/Type\s*/Page\b(?!s)", pdf)) == 1
    if lang == "zh":
        page.screenshot(path=str(artefact("card-zh.png")), full_page=True)
