"""The dashboard: per village figures of the month, the attention level with its reason from the
settings' thresholds, twelve months as an SVG chart, the CSV; staff see their villages only; the
page reads the same number of queries for 3 villages as for 30."""
from __future__ import annotations

import csv
import io
from datetime import date

import pytest
from admin.dashboard import attention, months_back
from gateway.models import Alert, AlertKind, DueItem, DueStatus
from gateway.summaries import VillageMonth, figures_by_month, month_figures
from tests import factories
from tests.admin.records import count_queries, far_family, report
from tests.conftest import make_settings


def village_month(**figures) -> VillageMonth:
    return VillageMonth(1, "Kanyagwal", **figures)


@pytest.mark.parametrize("figures, level, reasons", [
    ({}, "green", []),
    ({"anc_done": 4, "anc_due": 5}, "green", []),
    ({"anc_done": 3, "anc_due": 4, "pnc_done": 0, "pnc_due": 0}, "yellow",
     ["3 of 4 antenatal and postnatal care given on time (75%)"]),
    ({"anc_done": 1, "anc_due": 2, "pnc_done": 0, "pnc_due": 2}, "red",
     ["1 of 4 antenatal and postnatal care given on time (25%)"]),
    ({"overdue": 1}, "yellow", ["1 overdue care"]),
    ({"overdue": 3}, "red", ["3 overdue care"]),
    ({"flagged": 3, "overdue": 1}, "yellow", ["1 overdue care", "3 flagged records to review"]),
    ({"flagged": 3, "anc_done": 0, "anc_due": 1}, "red",
     ["0 of 1 antenatal and postnatal care given on time (0%)", "3 flagged records to review"]),
])
def test_attention_level_and_its_reasons(database_url, figures, level, reasons):
    assert attention(village_month(**figures), make_settings(database_url)) == (level, reasons)


def test_thresholds_are_settings(database_url):
    settings = make_settings(database_url, ATTENTION_OVERDUE_YELLOW="0", ATTENTION_OVERDUE_RED="0",
                             ATTENTION_ON_TIME_YELLOW="0.5", ATTENTION_ON_TIME_RED="0.2", ATTENTION_FLAGGED_YELLOW="0")
    assert attention(village_month(overdue=9, flagged=9, anc_done=1, anc_due=4), settings) == (
        "yellow", ["1 of 4 antenatal and postnatal care given on time (25%)"])


def test_months_back_crosses_the_year():
    months = months_back(date(2026, 2, 1), 3)
    assert months == [(date(2025, 12, 1), date(2025, 12, 31)), (date(2026, 1, 1), date(2026, 1, 31)),
                      (date(2026, 2, 1), date(2026, 2, 28))]


def due(session, person, household, volunteer, on: date, status: DueStatus, schedule: str = "antenatal"):
    session.add(DueItem(schedule=schedule, item="x", person_id=person.id, household_id=household.id,
                        volunteer_id=volunteer.id, due_on=on, window_start=on, window_end=on, status=status))


@pytest.fixture
def month_of_care(app, session, volunteer, household, woman, clock):
    """Kanyagwal in November 2026: two visits, a pregnancy, 1 of 3 antenatal care on time, one
    overdue; Ombeyi: one household, nothing else."""
    report(app, volunteer.phone, f"V {household.short_id}")
    report(app, volunteer.phone, f"V {household.short_id}")
    report(app, volunteer.phone, f"PREG {woman.short_id} 12W")
    for day, status in ((3, DueStatus.done), (10, DueStatus.overdue), (11, DueStatus.open)):
        due(session, woman, household, volunteer, date(2026, 11, day), status)
    due(session, woman, household, volunteer, date(2026, 10, 5), DueStatus.done)  # October, not November
    due(session, woman, household, volunteer, date(2026, 11, 12), DueStatus.muted)  # declined: not counted
    session.add(Alert(kind=AlertKind.overdue, village_id=household.village_id, person_id=woman.id,
                      household_id=household.id, reason="ANC overdue", created_at=clock.now()))
    factories.household(session, volunteer, village=factories.OTHER_VILLAGE, head="Otieno")
    session.commit()


def test_figures_by_month_agree_with_one_month_at_a_time(app, runtime, session, month_of_care):
    months = months_back(date(2026, 11, 1), 3)
    together = figures_by_month(session, runtime.pack, months, runtime.settings.tz)
    for (first, last), figures in zip(months, together):
        assert figures == month_figures(session, runtime.pack, first, last, runtime.settings.tz)
    kanyagwal = next(v for v in together[-1].values() if v.name == "Kanyagwal")
    assert (kanyagwal.visits, kanyagwal.pregnancies, kanyagwal.anc_done, kanyagwal.anc_due, kanyagwal.overdue) == (
        2, 1, 1, 3, 1)
    assert next(v for v in together[-2].values() if v.name == "Kanyagwal").anc_due == 1


def test_the_month_per_village_with_level_and_reason(as_staff, month_of_care):
    page = as_staff.get("/admin/dashboard").get_data(as_text=True)
    assert "November 2026" in page
    row = page[page.index(">Kanyagwal<"):page.index(">Ombeyi<")]
    assert '<span class="level red">red</span>' in row
    assert "1 of 3 antenatal and postnatal care given on time (33%)" in row and "1 overdue care" in row
    assert '<td data-label="Visits">2</td>' in row and '<td data-label="ANC on time">1/3</td>' in row
    assert '<td data-label="Households">1</td>' in row and '<td data-label="People">1</td>' in row
    assert "1 red" in page and "1 green" in page


def test_the_chart_shows_twelve_months_drawn_on_the_server(as_staff, month_of_care):
    page = as_staff.get("/admin/dashboard").get_data(as_text=True)
    assert page.count("<svg") == 2 and "<script" not in page
    assert "<title>Visits, Nov 2026: 2</title>" in page
    assert "<title>On time, Nov 2026: 33%</title>" in page and "<title>On time, Oct 2026: 100%</title>" in page
    assert ">Dec</text>" in page and ">’25</text>" in page and ">’26</text>" in page  # Dec 2025 .. Nov 2026


def test_another_month_is_asked_for_by_its_name(as_staff, month_of_care):
    october = as_staff.get("/admin/dashboard?month=2026-10").get_data(as_text=True)
    assert "October 2026" in october and '<td data-label="ANC on time">1/1</td>' in october
    assert "November 2026" in as_staff.get("/admin/dashboard?month=garbage").get_data(as_text=True)


def test_staff_see_only_their_villages(app, as_staff, session, month_of_care):
    far_family(session)
    page = as_staff.get("/admin/dashboard").get_data(as_text=True)
    assert "Kanyagwal" in page and "Nyalgunga" not in page


def test_the_table_as_csv(as_admin, month_of_care):
    response = as_admin.get("/admin/dashboard.csv?month=2026-11")
    assert response.headers["Content-Disposition"] == 'attachment; filename="fieldline-dashboard-2026-11.csv"'
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    kanyagwal = next(r for r in rows if r["village"] == "Kanyagwal")
    assert (kanyagwal["township"], kanyagwal["visits"], kanyagwal["anc_on_time"], kanyagwal["anc_due"],
            kanyagwal["attention"]) == ("Kisumu/Nyando", "2", "1", "3", "red")
    assert "1 overdue care" in kanyagwal["reasons"]


def test_the_page_reads_no_query_per_village(as_admin, runtime, session, volunteer):
    def villages(n, start):
        for i in range(start, start + n):
            factories.household(session, volunteer, village=f"Kisumu/Nyando/V{i:02d}")
        session.commit()

    villages(3, 0)
    few = count_queries(runtime, lambda: as_admin.get("/admin/dashboard"))
    villages(27, 3)
    many = count_queries(runtime, lambda: as_admin.get("/admin/dashboard"))
    assert 0 < few == many
