"""BIRTH and PNC end to end: the baby registered, antenatal care ended and postnatal care started,
checks that clear it by the mother's or the baby's ID, and every refusal."""
from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from gateway.models import (
    Alert,
    AlertKind,
    AlertStatus,
    Birth,
    DueStatus,
    Person,
    PersonStatus,
    Pregnancy,
    PregnancyStatus,
    Report,
)
from tests import factories
from tests.helpers import accepted, due_by_item, due_items, mistyped, refused, unregistered_id

ZH_PHONE = "+254733567890"
# A birth on 2026-11-28, the day before the clock's today. (item, due, window start, window end)
POSTNATAL_FROM_NOV_28 = [
    ("pnc_d1", date(2026, 11, 29), date(2026, 11, 28), date(2026, 11, 30)),
    ("pnc_d3", date(2026, 12, 1), date(2026, 12, 1), date(2026, 12, 3)),
    ("pnc_d7", date(2026, 12, 5), date(2026, 12, 4), date(2026, 12, 11)),
    ("pnc_d42", date(2027, 1, 9), date(2027, 1, 2), date(2027, 1, 23)),
]


@pytest.fixture
def chinese(session):
    return factories.contact(session, phone=ZH_PHONE, language="zh", name="Li Na")


@pytest.fixture
def pregnant(runtime, volunteer, woman):
    """Amina, 38 weeks pregnant: LMP 2026-03-08, contacts at 38 and 40 weeks still due."""
    accepted(runtime, volunteer.phone, f"PREG {woman.short_id} 38W")
    return woman


def postnatal_of(session, person) -> list[tuple[str, date, date, date]]:
    return [(i.item, i.due_on, i.window_start, i.window_end)
            for i in due_items(session, person.id) if i.schedule == "postnatal"]


def baby_of(session, mother) -> Person:
    session.expire_all()
    return session.scalar(select(Person).where(Person.mother_id == mother.id).order_by(Person.id.desc()))


# -- BIRTH ---------------------------------------------------------------------------------------------------

def test_birth_registers_the_baby_in_the_mothers_household(runtime, session, volunteer, pregnant):
    outcome = accepted(runtime, volunteer.phone, f"BIRTH {pregnant.short_id} 28/11/2026 F 3.1")
    baby = baby_of(session, pregnant)
    assert outcome.form == "BIRTH" and outcome.record == {"type": "person", "id": baby.short_id}
    assert (baby.household_id, baby.mother_id, baby.birth_date, baby.status) == (
        pregnant.household_id, pregnant.id, date(2026, 11, 28), PersonStatus.active)
    assert not baby.birth_date_estimated and baby.sex == "U" and "Amina Juma" in baby.name
    birth = session.scalar(select(Birth))
    pregnancy = session.scalar(select(Pregnancy))
    report = session.scalar(select(Report).where(Report.form == "BIRTH"))
    assert (birth.mother_id, birth.baby_id, birth.pregnancy_id, birth.born_on, birth.place, birth.weight_kg,
            birth.report_id) == (pregnant.id, baby.id, pregnancy.id, date(2026, 11, 28), "F", 3.1, report.id)
    assert (pregnancy.status, pregnancy.ended_on, pregnancy.ended_report_id) == (
        PregnancyStatus.delivered, date(2026, 11, 28), report.id)
    assert baby.short_id in outcome.reply and "2026-11-28" in outcome.reply and "2026-11-29" in outcome.reply


def test_birth_ends_antenatal_care_and_starts_postnatal_care(runtime, session, volunteer, pregnant):
    accepted(runtime, volunteer.phone, f"BIRTH {pregnant.short_id} 1D F")
    items = due_items(session, pregnant.id)
    antenatal = [i for i in items if i.schedule == "antenatal"]
    assert [(i.item, i.status) for i in antenatal] == [("anc_38w", DueStatus.ended), ("anc_40w", DueStatus.ended)]
    assert all(i.reason and i.closed_at for i in antenatal)
    assert postnatal_of(session, pregnant) == POSTNATAL_FROM_NOV_28
    postnatal = [i for i in items if i.schedule == "postnatal"]
    assert {(i.status, i.volunteer_id) for i in postnatal} == {(DueStatus.open, volunteer.id)}
    baby = baby_of(session, pregnant)
    assert due_items(session, baby.id) == []


@pytest.mark.parametrize("text, place, weight", [
    ("BIRTH {id} 2026-11-28 H", "H", None),
    ("birth {id} 28.11.26 home 2.9", "H", 2.9),
    ("BIRTH {id} yesterday FACILITY 3", "F", 3.0),
    ("BIRTH#ID {id}#D 2026-11-28#P F#W 3.4", "F", 3.4),
    ("BIRTH #P H #D 1D #M {id}", "H", None),
    ("BIRTH#ID {id}#DATE 28/11/2026#PLACE F#KG 0.3", "F", 0.3),
    ("BIRTH {id} 1D F 7", "F", 7.0),
])
def test_birth_in_both_syntaxes(runtime, session, volunteer, pregnant, text, place, weight):
    accepted(runtime, volunteer.phone, text.format(id=pregnant.short_id))
    birth = session.scalar(select(Birth))
    assert (birth.born_on, birth.place, birth.weight_kg) == (date(2026, 11, 28), place, weight)
    assert postnatal_of(session, pregnant) == POSTNATAL_FROM_NOV_28


@pytest.mark.parametrize("text, place", [
    ("出生 {id} 2026年11月28日 院 3.1", "F"),
    ("出生 {id} 昨天 家", "H"),
    ("出生#母亲 {id}#日期 11月28日#地点 在家#体重 2.8", "H"),
])
def test_birth_in_chinese(runtime, session, chinese, pregnant, text, place):
    outcome = accepted(runtime, ZH_PHONE, text.format(id=pregnant.short_id))
    baby = baby_of(session, pregnant)
    assert session.scalar(select(Birth)).place == place
    assert baby.short_id in outcome.reply and "2026-11-28" in outcome.reply
    assert baby.name.startswith("Amina Juma")
    assert postnatal_of(session, pregnant) == POSTNATAL_FROM_NOV_28


@pytest.mark.parametrize("days_ago, items", [
    (0, ["pnc_d1", "pnc_d3", "pnc_d7", "pnc_d42"]),
    (2, ["pnc_d1", "pnc_d3", "pnc_d7", "pnc_d42"]),  # day 1's window closes today
    (3, ["pnc_d3", "pnc_d7", "pnc_d42"]),
    (6, ["pnc_d7", "pnc_d42"]),
    (14, ["pnc_d42"]),
    (56, ["pnc_d42"]),
    (57, []),
])
def test_birth_reported_late_skips_checks_whose_window_closed(runtime, session, volunteer, woman, days_ago, items):
    accepted(runtime, volunteer.phone, f"BIRTH {woman.short_id} {days_ago}D H")
    assert [row[0] for row in postnatal_of(session, woman)] == items


def test_birth_without_a_recorded_pregnancy_is_accepted(runtime, session, volunteer, woman):
    accepted(runtime, volunteer.phone, f"BIRTH {woman.short_id} 1D H")
    assert session.scalar(select(Birth)).pregnancy_id is None
    assert postnatal_of(session, woman) == POSTNATAL_FROM_NOV_28


def test_birth_of_one_woman_leaves_anothers_pregnancy(runtime, session, volunteer, household, pregnant):
    neighbour = factories.person(session, household, volunteer, name="Rehema")
    accepted(runtime, volunteer.phone, f"PREG {neighbour.short_id} 38W")
    accepted(runtime, volunteer.phone, f"BIRTH {neighbour.short_id} today F")
    assert set(due_by_item(session, pregnant.id).values()) == {"open"}
    assert session.scalar(select(Pregnancy).where(Pregnancy.person_id == pregnant.id)).status is PregnancyStatus.open


def test_twins_share_the_mothers_postnatal_care(runtime, session, volunteer, pregnant):
    accepted(runtime, volunteer.phone, f"BIRTH {pregnant.short_id} 1D F 2.4")
    second = accepted(runtime, volunteer.phone, f"BIRTH {pregnant.short_id} 1D F 2.2")
    babies = session.scalars(select(Person).where(Person.mother_id == pregnant.id)).all()
    assert len(babies) == 2 and second.record["id"] in {b.short_id for b in babies}
    assert postnatal_of(session, pregnant) == POSTNATAL_FROM_NOV_28


# -- BIRTH refusals ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("text, error", [
    ("BIRTH {id} 2026-03-01 F", "conflict"),  # before the LMP, 2026-03-08
    ("BIRTH {id} 2026-11-30 F", "invalid_date"),
    ("BIRTH {id} tomorrow F", "invalid_date"),
    ("BIRTH {id} 31/11/2026 F", "invalid_date"),
    ("BIRTH {id} 1D F 0.2", "invalid_value"),
    ("BIRTH {id} 1D F 7.1", "invalid_value"),
    ("BIRTH {id} 1D F 3,2kg", "extra_values"),
    ("BIRTH#ID {id}#D 1D#P F#W 8", "invalid_value"),
    ("BIRTH {id} 1D X", "invalid_value"),
    ("BIRTH {id} 1D", "missing_field"),
    ("BIRTH {unknown} 1D F", "unknown_id"),
    ("BIRTH {typo} 1D F", "invalid_id"),
    ("BIRTH {hh} 1D F", "invalid_id"),
])
def test_birth_refusals(runtime, session, volunteer, household, pregnant, text, error):
    text = text.format(id=pregnant.short_id, unknown=unregistered_id(session), typo=mistyped(pregnant.short_id),
                       hh=household.short_id)
    outcome = refused(runtime, session, volunteer.phone, text, error)
    if error == "conflict":
        assert "2026-03-01" in outcome.reply and "2026-03-08" in outcome.reply
    assert session.scalar(select(Pregnancy)).status is PregnancyStatus.open


def test_birth_date_in_the_future_says_so(runtime, session, volunteer, pregnant):
    outcome = refused(runtime, session, volunteer.phone, f"BIRTH {pregnant.short_id} 2026-12-01 F", "invalid_date")
    assert "2026-12-01" in outcome.reply and "future" in outcome.reply


def test_birth_to_a_man_is_a_conflict(runtime, session, volunteer, household):
    man = factories.person(session, household, volunteer, name="Juma Ali", sex="M")
    outcome = refused(runtime, session, volunteer.phone, f"BIRTH {man.short_id} 1D F", "conflict")
    assert man.short_id in outcome.reply


@pytest.mark.parametrize("event", ["DEATH {id} 2D", "OUT {id}"])
def test_birth_to_a_woman_deceased_or_moved_out_is_a_conflict(runtime, session, volunteer, pregnant, event):
    accepted(runtime, volunteer.phone, event.format(id=pregnant.short_id))
    refused(runtime, session, volunteer.phone, f"BIRTH {pregnant.short_id} 1D F", "conflict")


def test_birth_in_another_village_is_not_allowed(runtime, session, volunteer):
    other = factories.contact(session, areas=[factories.FAR_VILLAGE], name="Otieno")
    far = factories.person(session, factories.household(session, other, village=factories.FAR_VILLAGE), other)
    refused(runtime, session, volunteer.phone, f"BIRTH {far.short_id} 1D F", "not_allowed")


# -- PNC -------------------------------------------------------------------------------------------------

def test_pnc_by_the_mothers_id_clears_the_check_due_today(runtime, session, volunteer, pregnant):
    accepted(runtime, volunteer.phone, f"BIRTH {pregnant.short_id} 1D F")
    outcome = accepted(runtime, volunteer.phone, f"PNC {pregnant.short_id}")
    report = session.scalar(select(Report).where(Report.form == "PNC"))
    items = [i for i in due_items(session, pregnant.id) if i.schedule == "postnatal"]
    assert [(i.item, i.status) for i in items] == [
        ("pnc_d1", DueStatus.done), ("pnc_d3", DueStatus.open), ("pnc_d7", DueStatus.open),
        ("pnc_d42", DueStatus.open)]
    assert items[0].cleared_by_report_id == report.id and report.person_id == pregnant.id
    assert outcome.record == {"type": "report", "id": str(report.id)}
    assert "day 1" in outcome.reply and "2026-12-01" in outcome.reply


def test_pnc_by_the_babys_id_clears_the_mothers_check(runtime, session, volunteer, pregnant, clock):
    accepted(runtime, volunteer.phone, f"BIRTH {pregnant.short_id} 1D F")
    baby = baby_of(session, pregnant)
    clock.advance(days=2)
    outcome = accepted(runtime, volunteer.phone, f"PNC {baby.short_id}")
    table = due_by_item(session, pregnant.id)
    assert (table["pnc_d1"], table["pnc_d3"], table["pnc_d7"]) == ("open", "done", "open")
    report = session.scalar(select(Report).where(Report.form == "PNC"))
    assert report.person_id == baby.id
    assert baby.short_id in outcome.reply and "day 3" in outcome.reply


@pytest.mark.parametrize("text", ["PNC#ID {id}", "pnc {id}", "产后 {id}", "产后#编号 {id}"])
def test_pnc_in_keyvalue_and_chinese(runtime, session, volunteer, chinese, pregnant, text):
    accepted(runtime, volunteer.phone, f"BIRTH {pregnant.short_id} today F")
    phone = ZH_PHONE if text.startswith("产后") else volunteer.phone
    accepted(runtime, phone, text.format(id=pregnant.short_id))
    assert due_by_item(session, pregnant.id)["pnc_d1"] == "done"


def test_pnc_between_windows_is_recorded_and_clears_nothing(runtime, session, volunteer, pregnant, clock):
    accepted(runtime, volunteer.phone, f"BIRTH {pregnant.short_id} 14D F")  # day 7's window closed yesterday
    accepted(runtime, volunteer.phone, f"PNC {pregnant.short_id}")
    assert due_by_item(session, pregnant.id)["pnc_d42"] == "open"
    clock.advance(days=21)
    accepted(runtime, volunteer.phone, f"PNC {pregnant.short_id}")
    assert due_by_item(session, pregnant.id)["pnc_d42"] == "done"


def test_pnc_for_another_mother_clears_nothing(runtime, session, volunteer, household, pregnant):
    neighbour = factories.person(session, household, volunteer, name="Rehema")
    accepted(runtime, volunteer.phone, f"BIRTH {pregnant.short_id} today F")
    accepted(runtime, volunteer.phone, f"BIRTH {neighbour.short_id} today H")
    accepted(runtime, volunteer.phone, f"PNC {baby_of(session, neighbour).short_id}")
    assert due_by_item(session, pregnant.id)["pnc_d1"] == "open"
    assert due_by_item(session, neighbour.id)["pnc_d1"] == "done"


@pytest.mark.parametrize("text, codes, who", [
    ("PNC {baby} NR", "NR", "baby"),
    ("PNC#ID {mother}#D fb", "BF", "mother"),
    ("产后#编号 {baby}#危险 N", "N", "baby"),
])
def test_pnc_with_danger_codes_alerts_staff(runtime, session, volunteer, chinese, pregnant, text, codes, who):
    accepted(runtime, volunteer.phone, f"BIRTH {pregnant.short_id} today F")
    baby = baby_of(session, pregnant)
    subject = baby if who == "baby" else pregnant
    phone = ZH_PHONE if text.startswith("产后") else volunteer.phone
    outcome = accepted(runtime, phone, text.format(baby=baby.short_id, mother=pregnant.short_id))
    alert = session.scalar(select(Alert))
    report = session.scalar(select(Report).where(Report.form == "PNC"))
    assert (alert.kind, alert.status, alert.codes, alert.person_id, alert.village_id, alert.report_id) == (
        AlertKind.danger, AlertStatus.open, codes, subject.id, pregnant.household.village_id, report.id)
    assert codes in alert.reason and [e.status for e in alert.history] == [AlertStatus.open]
    assert str(alert.id) in outcome.reply
    assert due_by_item(session, pregnant.id)["pnc_d1"] == "done"


def test_pnc_without_a_birth_is_a_conflict(runtime, session, volunteer, pregnant):
    outcome = refused(runtime, session, volunteer.phone, f"PNC {pregnant.short_id}", "conflict")
    assert pregnant.short_id in outcome.reply and "BIRTH" in outcome.reply


def test_pnc_eight_weeks_after_the_birth_is_a_conflict(runtime, session, volunteer, pregnant, clock):
    accepted(runtime, volunteer.phone, f"BIRTH {pregnant.short_id} today F")
    clock.advance(days=56)
    accepted(runtime, volunteer.phone, f"PNC {pregnant.short_id}")
    clock.advance(days=1)
    refused(runtime, session, volunteer.phone, f"PNC {pregnant.short_id}", "conflict")


@pytest.mark.parametrize("text, error", [
    ("PNC {unknown}", "unknown_id"),
    ("PNC {typo}", "invalid_id"),
    ("PNC {hh}", "invalid_id"),
    ("PNC {id} Z", "invalid_value"),
])
def test_pnc_refusals(runtime, session, volunteer, household, pregnant, text, error):
    accepted(runtime, volunteer.phone, f"BIRTH {pregnant.short_id} today F")
    text = text.format(id=pregnant.short_id, unknown=unregistered_id(session), typo=mistyped(pregnant.short_id),
                       hh=household.short_id)
    refused(runtime, session, volunteer.phone, text, error)
    assert due_by_item(session, pregnant.id)["pnc_d1"] == "open"


@pytest.mark.parametrize("event", ["DEATH {id} today", "OUT {id}"])
def test_pnc_for_a_baby_deceased_or_moved_out_is_a_conflict(runtime, session, volunteer, pregnant, event):
    accepted(runtime, volunteer.phone, f"BIRTH {pregnant.short_id} today F")
    baby = baby_of(session, pregnant)
    accepted(runtime, volunteer.phone, event.format(id=baby.short_id))
    refused(runtime, session, volunteer.phone, f"PNC {baby.short_id}", "conflict")
