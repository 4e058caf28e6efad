"""DANGER and DEATH end to end: the alerts they raise (and the deaths that raise none), the care a
death ends, and the refusals."""
from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from gateway.models import (
    Alert,
    AlertKind,
    AlertStatus,
    DueStatus,
    Person,
    PersonStatus,
    Pregnancy,
    PregnancyStatus,
    Report,
)
from tests import factories
from tests.helpers import accepted, count, due_by_item, due_items, mistyped, refused, send, unregistered_id

ZH_PHONE = "+254733567890"
TODAY = date(2026, 11, 29)


@pytest.fixture
def chinese(session):
    return factories.contact(session, phone=ZH_PHONE, language="zh", name="Li Na")


def fresh(session, person) -> Person:
    session.expire_all()
    return session.get(Person, person.id)


def the_alert(session) -> Alert:
    session.expire_all()
    return session.scalar(select(Alert))


# -- DANGER --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("text, codes", [
    ("DANGER {id} BF", "BF"),
    ("danger {id} fb", "BF"),
    ("DANGER {id} R N", "NR"),
    ("DANGER#ID {id}#C HC", "CH"),
    ("DANGER #CODES L #ID {id}", "L"),
    ("DANGER{id} BB", "B"),
])
def test_danger_alerts_the_staff_of_the_persons_village(runtime, session, volunteer, woman, text, codes):
    outcome = accepted(runtime, volunteer.phone, text.format(id=woman.short_id))
    alert = the_alert(session)
    report = session.scalar(select(Report).where(Report.form == "DANGER"))
    assert (alert.kind, alert.status, alert.codes, alert.level) == (AlertKind.danger, AlertStatus.open, codes, 0)
    assert (alert.person_id, alert.household_id, alert.village_id, alert.report_id) == (
        woman.id, woman.household_id, woman.household.village_id, report.id)
    assert codes in alert.reason
    assert [(e.status, e.by_id, e.note) for e in alert.history] == [(AlertStatus.open, None, alert.reason)]
    assert outcome.record == {"type": "alert", "id": str(alert.id)}
    assert str(alert.id) in outcome.reply and woman.short_id in outcome.reply and codes in outcome.reply


@pytest.mark.parametrize("text", ["危险 {id} BF", "危险#编号 {id}#代码 bf"])
def test_danger_in_chinese(runtime, session, chinese, woman, text):
    outcome = accepted(runtime, ZH_PHONE, text.format(id=woman.short_id))
    alert = the_alert(session)
    assert (alert.kind, alert.codes) == (AlertKind.danger, "BF")
    assert str(alert.id) in outcome.reply and "警报" in outcome.reply


def test_danger_for_a_baby_or_a_man_alerts_too(runtime, session, volunteer, household):
    man = factories.person(session, household, volunteer, name="Juma Ali", sex="M", birth_date=date(1980, 1, 1))
    accepted(runtime, volunteer.phone, f"DANGER {man.short_id} R")
    assert the_alert(session).person_id == man.id


def test_danger_leaves_due_care_as_it_was(runtime, session, volunteer, woman):
    accepted(runtime, volunteer.phone, f"PREG {woman.short_id} 12W")
    accepted(runtime, volunteer.phone, f"DANGER {woman.short_id} B")
    assert set(due_by_item(session, woman.id).values()) == {"open"}


def test_each_danger_report_is_its_own_alert(runtime, session, volunteer, woman, clock):
    first = accepted(runtime, volunteer.phone, f"DANGER {woman.short_id} B")
    clock.advance(minutes=20)
    second = accepted(runtime, volunteer.phone, f"DANGER {woman.short_id} F")
    assert count(session, Alert) == 2 and first.record != second.record


@pytest.mark.parametrize("text, error", [
    ("DANGER {id}", "missing_field"),
    ("DANGER {id} X", "invalid_value"),
    ("DANGER {id} BQ", "invalid_value"),
    ("DANGER {unknown} B", "unknown_id"),
    ("DANGER {typo} B", "invalid_id"),
    ("DANGER {hh} B", "invalid_id"),
])
def test_danger_refusals(runtime, session, volunteer, household, woman, text, error):
    text = text.format(id=woman.short_id, unknown=unregistered_id(session), typo=mistyped(woman.short_id),
                       hh=household.short_id)
    refused(runtime, session, volunteer.phone, text, error)


@pytest.mark.parametrize("event, word", [("DEATH {id} 1D", "deceased"), ("OUT {id} Kisumu", "moved out")])
def test_danger_for_a_person_deceased_or_moved_out_is_a_conflict(runtime, session, volunteer, woman, event, word):
    accepted(runtime, volunteer.phone, event.format(id=woman.short_id))
    outcome = refused(runtime, session, volunteer.phone, f"DANGER {woman.short_id} B", "conflict")
    assert woman.short_id in outcome.reply and word in outcome.reply


def test_danger_in_another_village_is_not_allowed(runtime, session, volunteer):
    other = factories.contact(session, areas=[factories.FAR_VILLAGE], name="Otieno")
    far = factories.person(session, factories.household(session, other, village=factories.FAR_VILLAGE), other)
    refused(runtime, session, volunteer.phone, f"DANGER {far.short_id} B", "not_allowed")


# -- DEATH: who the person was decides the alert ----------------------------------------------------------

def test_death_of_an_adult_marks_them_deceased_without_an_alert(runtime, session, volunteer, household):
    man = factories.person(session, household, volunteer, name="Juma Ali", sex="M", birth_date=date(1960, 2, 1))
    outcome = accepted(runtime, volunteer.phone, f"DEATH {man.short_id} 2026-11-25")
    man = fresh(session, man)
    assert (man.status, man.status_on) == (PersonStatus.deceased, date(2026, 11, 25))
    assert count(session, Alert) == 0
    report = session.scalar(select(Report).where(Report.form == "DEATH"))
    assert report.person_id == man.id and outcome.record == {"type": "report", "id": str(report.id)}
    assert man.short_id in outcome.reply and "2026-11-25" in outcome.reply


def test_death_of_a_woman_not_pregnant_and_without_a_recent_birth_raises_no_alert(
        runtime, session, volunteer, woman, clock):
    accepted(runtime, volunteer.phone, f"PREG {woman.short_id} 12W")
    accepted(runtime, volunteer.phone, f"LOSS {woman.short_id} today")
    alerts = count(session, Alert)  # the loss's
    clock.advance(days=120)
    accepted(runtime, volunteer.phone, f"DEATH {woman.short_id} today")
    assert count(session, Alert) == alerts


def test_death_of_a_pregnant_woman_alerts_and_ends_her_pregnancy_and_care(runtime, session, volunteer, woman):
    accepted(runtime, volunteer.phone, f"PREG {woman.short_id} 20W")
    outcome = accepted(runtime, volunteer.phone, f"DEATH {woman.short_id} 1D")
    alert = the_alert(session)
    report = session.scalar(select(Report).where(Report.form == "DEATH"))
    assert (alert.kind, alert.status, alert.person_id, alert.village_id, alert.report_id) == (
        AlertKind.death, AlertStatus.open, woman.id, woman.household.village_id, report.id)
    assert "pregnant" in alert.reason and [e.status for e in alert.history] == [AlertStatus.open]
    assert str(alert.id) in outcome.reply
    pregnancy = session.scalar(select(Pregnancy))
    assert (pregnancy.status, pregnancy.ended_on) == (PregnancyStatus.ended, date(2026, 11, 28))
    items = due_items(session, woman.id)
    assert items and {i.status for i in items} == {DueStatus.ended}
    assert all(i.reason and i.closed_at for i in items)


@pytest.mark.parametrize("days_after_birth, alerted", [(0, True), (30, True), (42, True), (43, False)])
def test_death_of_a_woman_within_42_days_of_a_birth_alerts(
        runtime, session, volunteer, woman, clock, days_after_birth, alerted):
    accepted(runtime, volunteer.phone, f"BIRTH {woman.short_id} today F")
    clock.advance(days=days_after_birth)
    accepted(runtime, volunteer.phone, f"DEATH {woman.short_id} today")
    alerts = session.scalars(select(Alert).where(Alert.kind == AlertKind.death)).all()
    assert len(alerts) == (1 if alerted else 0)
    if alerted:
        assert "42 days" in alerts[0].reason and alerts[0].person_id == woman.id


def test_death_reported_late_counts_from_the_day_of_death(runtime, session, volunteer, woman, clock):
    accepted(runtime, volunteer.phone, f"BIRTH {woman.short_id} today F")
    clock.advance(days=60)
    accepted(runtime, volunteer.phone, f"DEATH {woman.short_id} 20D")  # 40 days after the birth
    assert the_alert(session).kind is AlertKind.death


@pytest.mark.parametrize("age_days, alerted", [(0, True), (5, True), (27, True), (28, False), (60, False)])
def test_death_of_a_baby_under_28_days_alerts(runtime, session, volunteer, woman, clock, age_days, alerted):
    accepted(runtime, volunteer.phone, f"BIRTH {woman.short_id} today F")
    baby = session.scalar(select(Person).where(Person.mother_id == woman.id))
    clock.advance(days=age_days)
    accepted(runtime, volunteer.phone, f"DEATH {baby.short_id} today")
    alerts = session.scalars(select(Alert).where(Alert.person_id == baby.id)).all()
    assert [a.kind for a in alerts] == ([AlertKind.death] if alerted else [])
    if alerted:
        assert "newborn" in alerts[0].reason
    assert fresh(session, baby).status is PersonStatus.deceased


def test_death_of_a_baby_registered_with_reg_alerts(runtime, session, volunteer, household):
    baby = accepted(runtime, volunteer.phone, f"REG {household.short_id} M 10D Baraka").record["id"]
    accepted(runtime, volunteer.phone, f"DEATH {baby} today")
    assert the_alert(session).kind is AlertKind.death


def test_death_of_a_baby_leaves_the_mothers_postnatal_care(runtime, session, volunteer, woman, clock):
    accepted(runtime, volunteer.phone, f"BIRTH {woman.short_id} today F")
    baby = session.scalar(select(Person).where(Person.mother_id == woman.id))
    accepted(runtime, volunteer.phone, f"DEATH {baby.short_id} today")
    assert set(due_by_item(session, woman.id).values()) == {"open"}


# -- DEATH: care, syntaxes, refusals --------------------------------------------------------------------------

def test_death_ends_open_and_muted_care(runtime, session, volunteer, woman, clock):
    accepted(runtime, volunteer.phone, f"FP {woman.short_id} P")
    accepted(runtime, volunteer.phone, f"OFF {woman.short_id}")
    clock.advance(days=10)
    accepted(runtime, volunteer.phone, f"ON {woman.short_id}")
    accepted(runtime, volunteer.phone, f"PREG {woman.short_id} 10W")
    accepted(runtime, volunteer.phone, f"OFF {woman.short_id}")
    assert set(due_by_item(session, woman.id).values()) == {"muted"}
    accepted(runtime, volunteer.phone, f"DEATH {woman.short_id} today")
    items = due_items(session, woman.id)
    assert {i.status for i in items} == {DueStatus.ended}
    assert {i.reason for i in items} == {"the person died"}


def test_death_of_one_person_leaves_anothers_care(runtime, session, volunteer, household, woman):
    neighbour = factories.person(session, household, volunteer, name="Rehema")
    accepted(runtime, volunteer.phone, f"PREG {woman.short_id} 12W")
    accepted(runtime, volunteer.phone, f"PREG {neighbour.short_id} 12W")
    accepted(runtime, volunteer.phone, f"DEATH {neighbour.short_id} today")
    assert set(due_by_item(session, woman.id).values()) == {"open"}
    assert session.scalar(select(Pregnancy).where(Pregnancy.person_id == woman.id)).status is PregnancyStatus.open


@pytest.mark.parametrize("text, died_on", [
    ("DEATH#ID {id}#D 2026-11-20", date(2026, 11, 20)),
    ("death {id} 20/11/2026", date(2026, 11, 20)),
    ("死亡 {id} 今天", TODAY),
    ("死亡#编号 {id}#日期 2026年11月20日", date(2026, 11, 20)),
])
def test_death_in_keyvalue_and_chinese(runtime, session, volunteer, chinese, woman, text, died_on):
    phone = ZH_PHONE if text.startswith("死亡") else volunteer.phone
    outcome = accepted(runtime, phone, text.format(id=woman.short_id))
    assert fresh(session, woman).status_on == died_on
    assert died_on.isoformat() in outcome.reply


@pytest.mark.parametrize("text, error", [
    ("DEATH {id}", "missing_field"),
    ("DEATH {id} 2026-11-30", "invalid_date"),
    ("DEATH {id} 32/10/2026", "invalid_date"),
    ("DEATH {id} 1999-01-01", "conflict"),  # before she was born, 2000-05-01
    ("DEATH {unknown} today", "unknown_id"),
    ("DEATH {typo} today", "invalid_id"),
    ("DEATH {hh} today", "invalid_id"),
])
def test_death_refusals(runtime, session, volunteer, household, woman, text, error):
    text = text.format(id=woman.short_id, unknown=unregistered_id(session), typo=mistyped(woman.short_id),
                       hh=household.short_id)
    refused(runtime, session, volunteer.phone, text, error)
    assert fresh(session, woman).status is PersonStatus.active


def test_death_reported_twice_is_a_conflict(runtime, session, volunteer, woman):
    accepted(runtime, volunteer.phone, f"PREG {woman.short_id} 12W")
    accepted(runtime, volunteer.phone, f"DEATH {woman.short_id} 2D")
    outcome = refused(runtime, session, volunteer.phone, f"DEATH {woman.short_id} today", "conflict")
    assert "deceased" in outcome.reply
    assert fresh(session, woman).status_on == TODAY - timedelta(days=2)


def test_death_of_a_person_who_moved_out_is_a_conflict(runtime, session, volunteer, woman):
    accepted(runtime, volunteer.phone, f"OUT {woman.short_id}")
    refused(runtime, session, volunteer.phone, f"DEATH {woman.short_id} today", "conflict")


@pytest.mark.parametrize("text", [
    "ANC {id}", "PNC {id}", "FP {id} P", "OFF {id}", "ON {id}", "OUT {id}", "LOSS {id} today",
    "BIRTH {id} today F", "PREG {id} 12W", "DANGER {id} B",
])
def test_reports_about_a_deceased_person_are_conflicts(runtime, session, volunteer, woman, text):
    accepted(runtime, volunteer.phone, f"PREG {woman.short_id} 30W")
    accepted(runtime, volunteer.phone, f"DEATH {woman.short_id} today")
    refused(runtime, session, volunteer.phone, text.format(id=woman.short_id), "conflict")


def test_death_within_42_days_of_a_pregnancy_loss_alerts_staff(runtime, session, clock, volunteer, woman):
    from gateway.models import Alert, AlertKind

    assert send(runtime, volunteer.phone, f"PREG {woman.short_id} 10W").status == "accepted"
    clock.advance(days=2)
    assert send(runtime, volunteer.phone, f"LOSS {woman.short_id} today").status == "accepted"
    clock.advance(days=30)
    outcome = send(runtime, volunteer.phone, f"DEATH {woman.short_id} today")
    assert outcome.status == "accepted"
    death = session.scalar(select(Alert).where(Alert.kind == AlertKind.death))
    assert death is not None and death.reason == "death of a woman within 42 days of a pregnancy loss"
