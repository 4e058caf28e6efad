"""IN and OUT end to end: a person and their due care moving into a household here, from any village;
a person moving away and their care ending; and the refusals."""
from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from gateway.models import DueStatus, Person, PersonStatus, Pregnancy, PregnancyStatus, Report
from tests import factories
from tests.helpers import accepted, due_by_item, due_items, mistyped, refused, unregistered_id

ZH_PHONE = "+254733567890"
TODAY = date(2026, 11, 29)


@pytest.fixture
def chinese(session):
    return factories.contact(session, phone=ZH_PHONE, language="zh", name="Li Na")


@pytest.fixture
def far_volunteer(session):
    return factories.contact(session, areas=[factories.FAR_VILLAGE], name="Otieno Ouma")


@pytest.fixture
def newcomer(runtime, session, far_volunteer):
    """Zawadi of Nyalgunga, 12 weeks pregnant, her antenatal care with Nyalgunga's volunteer."""
    home = factories.household(session, far_volunteer, village=factories.FAR_VILLAGE, head="Ouma")
    zawadi = factories.person(session, home, far_volunteer, name="Zawadi Ouma")
    accepted(runtime, far_volunteer.phone, f"PREG {zawadi.short_id} 12W")
    return zawadi


def fresh(session, person) -> Person:
    session.expire_all()
    return session.get(Person, person.id)


def schedule(session, person) -> list[tuple[str, date, str]]:
    return [(i.item, i.due_on, i.status.value) for i in due_items(session, person.id)]


# -- IN ------------------------------------------------------------------------------------------------------

def test_in_moves_a_person_from_another_village_with_their_care(
        runtime, session, volunteer, household, newcomer, far_volunteer):
    before = schedule(session, newcomer)
    outcome = accepted(runtime, volunteer.phone, f"IN {newcomer.short_id} {household.short_id}")
    moved = fresh(session, newcomer)
    assert (moved.household_id, moved.status) == (household.id, PersonStatus.active)
    assert schedule(session, newcomer) == before  # the same care, due on the same days
    assert {i.volunteer_id for i in due_items(session, newcomer.id)} == {volunteer.id}
    report = session.scalar(select(Report).where(Report.form == "IN"))
    assert (report.person_id, report.household_id, report.sender_id) == (newcomer.id, household.id, volunteer.id)
    assert outcome.record == {"type": "report", "id": str(report.id)}
    assert newcomer.short_id in outcome.reply and household.short_id in outcome.reply
    assert "Kanyagwal" in outcome.reply


def test_in_reported_by_staff_gives_the_care_to_the_villages_volunteer(
        runtime, session, volunteer, household, newcomer):
    staff = factories.contact(session, role="staff", areas=["Kisumu/Nyando"], name="Grace Atieno")
    accepted(runtime, staff.phone, f"IN {newcomer.short_id} {household.short_id}")
    assert {i.volunteer_id for i in due_items(session, newcomer.id)} == {volunteer.id}


def test_in_moves_muted_care_and_keeps_it_muted(runtime, session, volunteer, household, newcomer, far_volunteer):
    accepted(runtime, far_volunteer.phone, f"OFF {newcomer.short_id}")
    accepted(runtime, volunteer.phone, f"IN {newcomer.short_id} {household.short_id}")
    items = due_items(session, newcomer.id)
    assert {(i.status, i.volunteer_id) for i in items} == {(DueStatus.muted, volunteer.id)}
    assert fresh(session, newcomer).reminders_off


def test_in_leaves_closed_care_with_the_volunteer_who_gave_it(
        runtime, session, volunteer, household, newcomer, far_volunteer):
    accepted(runtime, far_volunteer.phone, f"ANC {newcomer.short_id}")
    accepted(runtime, volunteer.phone, f"IN {newcomer.short_id} {household.short_id}")
    by_item = {i.item: i for i in due_items(session, newcomer.id)}
    assert (by_item["anc_12w"].status, by_item["anc_12w"].volunteer_id) == (DueStatus.done, far_volunteer.id)
    assert by_item["anc_20w"].volunteer_id == volunteer.id


def test_in_within_the_senders_villages_moves_to_another_household(runtime, session, volunteer, household, woman):
    accepted(runtime, volunteer.phone, f"PREG {woman.short_id} 12W")
    other = factories.household(session, volunteer, head="Otieno")
    accepted(runtime, volunteer.phone, f"IN {woman.short_id} {other.short_id}")
    assert fresh(session, woman).household_id == other.id
    assert set(due_by_item(session, woman.id).values()) == {"open"}


def test_in_of_one_person_leaves_the_others_care(runtime, session, volunteer, household, newcomer, far_volunteer):
    home = fresh(session, newcomer).household
    sister = factories.person(session, home, far_volunteer, name="Neema Ouma")
    accepted(runtime, far_volunteer.phone, f"PREG {sister.short_id} 20W")
    accepted(runtime, volunteer.phone, f"IN {newcomer.short_id} {household.short_id}")
    assert {i.volunteer_id for i in due_items(session, sister.id)} == {far_volunteer.id}
    assert fresh(session, sister).household_id == home.id


def test_after_in_the_new_volunteer_reports_and_the_old_one_may_not(
        runtime, session, volunteer, household, newcomer, far_volunteer):
    accepted(runtime, volunteer.phone, f"IN {newcomer.short_id} {household.short_id}")
    accepted(runtime, volunteer.phone, f"ANC {newcomer.short_id}")
    assert due_by_item(session, newcomer.id)["anc_12w"] == "done"
    refused(runtime, session, far_volunteer.phone, f"ANC {newcomer.short_id}", "not_allowed")


@pytest.mark.parametrize("text", ["IN#ID {id}#HH {hh}", "IN #H {hh} #ID {id}", "in {id} {hh}", "迁入 {id} {hh}",
                                  "迁入#编号 {id}#户 {hh}"])
def test_in_in_keyvalue_and_chinese(runtime, session, volunteer, chinese, household, newcomer, text):
    phone = ZH_PHONE if text.startswith("迁入") else volunteer.phone
    outcome = accepted(runtime, phone, text.format(id=newcomer.short_id, hh=household.short_id))
    assert fresh(session, newcomer).household_id == household.id
    assert household.short_id in outcome.reply


def test_in_brings_back_a_person_who_moved_out_and_her_antenatal_care(runtime, session, volunteer, household, woman,
                                                                       clock):
    accepted(runtime, volunteer.phone, f"PREG {woman.short_id} 12W")  # LMP 2026-09-06
    accepted(runtime, volunteer.phone, f"OUT {woman.short_id} Nairobi")
    clock.advance(days=60)  # 2027-01-28, 20 weeks 4 days
    accepted(runtime, volunteer.phone, f"IN {woman.short_id} {household.short_id}")
    back = fresh(session, woman)
    assert (back.status, back.status_on) == (PersonStatus.active, None)
    open_items = [(i.item, i.due_on) for i in due_items(session, woman.id) if i.status is DueStatus.open]
    assert open_items == [
        ("anc_20w", date(2027, 1, 24)), ("anc_26w", date(2027, 3, 7)), ("anc_30w", date(2027, 4, 4)),
        ("anc_34w", date(2027, 5, 2)), ("anc_36w", date(2027, 5, 16)), ("anc_38w", date(2027, 5, 30)),
        ("anc_40w", date(2027, 6, 13))]
    assert {i.volunteer_id for i in due_items(session, woman.id) if i.status is DueStatus.open} == {volunteer.id}


@pytest.mark.parametrize("text, error", [
    ("IN {unknown} {hh}", "unknown_id"),
    ("IN {typo} {hh}", "invalid_id"),
    ("IN {hh} {hh}", "invalid_id"),  # a household's ID where the person's belongs
    ("IN {id} {id}", "invalid_id"),  # a person's ID where the household's belongs
    ("IN {id} {unknown}", "unknown_id"),
    ("IN {id} {hh_typo}", "invalid_id"),
    ("IN {id}", "missing_field"),
])
def test_in_refusals(runtime, session, volunteer, household, newcomer, text, error):
    text = text.format(id=newcomer.short_id, hh=household.short_id, unknown=unregistered_id(session),
                       typo=mistyped(newcomer.short_id), hh_typo=mistyped(household.short_id))
    refused(runtime, session, volunteer.phone, text, error)
    assert fresh(session, newcomer).household.village.name == "Nyalgunga"


def test_in_to_a_household_the_sender_does_not_cover_is_not_allowed(
        runtime, session, volunteer, woman, far_volunteer):
    far_home = factories.household(session, far_volunteer, village=factories.FAR_VILLAGE, head="Ouma")
    outcome = refused(runtime, session, volunteer.phone, f"IN {woman.short_id} {far_home.short_id}", "not_allowed")
    assert far_home.short_id in outcome.reply
    assert fresh(session, woman).household_id == woman.household_id


def test_in_of_a_deceased_person_is_a_conflict(runtime, session, volunteer, household, newcomer, far_volunteer):
    accepted(runtime, far_volunteer.phone, f"DEATH {newcomer.short_id} 2D")
    outcome = refused(runtime, session, volunteer.phone, f"IN {newcomer.short_id} {household.short_id}", "conflict")
    assert newcomer.short_id in outcome.reply and "deceased" in outcome.reply


def test_in_to_the_household_they_live_in_is_a_conflict(runtime, session, volunteer, household, woman):
    outcome = refused(runtime, session, volunteer.phone, f"IN {woman.short_id} {household.short_id}", "conflict")
    assert household.short_id in outcome.reply


# -- OUT -----------------------------------------------------------------------------------------------------

def test_out_marks_the_person_moved_out_and_ends_open_and_muted_care(runtime, session, volunteer, woman, clock):
    accepted(runtime, volunteer.phone, f"FP {woman.short_id} I")
    accepted(runtime, volunteer.phone, f"OFF {woman.short_id}")
    accepted(runtime, volunteer.phone, f"ON {woman.short_id}")
    accepted(runtime, volunteer.phone, f"PREG {woman.short_id} 6W")
    accepted(runtime, volunteer.phone, f"OFF {woman.short_id}")
    clock.advance(days=45)  # 2027-01-13: the 12-week contact (2027-01-10) stays muted after ON
    accepted(runtime, volunteer.phone, f"ON {woman.short_id}")
    before = {i.status for i in due_items(session, woman.id)}
    assert before == {DueStatus.open, DueStatus.muted}
    outcome = accepted(runtime, volunteer.phone, f"OUT {woman.short_id} Nairobi")
    gone = fresh(session, woman)
    assert (gone.status, gone.status_on) == (PersonStatus.moved_out, date(2027, 1, 13))
    items = due_items(session, woman.id)
    assert {i.status for i in items} == {DueStatus.ended}
    assert {i.reason for i in items} == {"moved out to Nairobi"} and all(i.closed_at for i in items)
    report = session.scalar(select(Report).where(Report.form == "OUT"))
    assert report.values["destination"] == "Nairobi" and outcome.record == {"type": "report", "id": str(report.id)}
    assert woman.short_id in outcome.reply


def test_out_leaves_done_care_as_it_was(runtime, session, volunteer, woman):
    accepted(runtime, volunteer.phone, f"PREG {woman.short_id} 12W")
    accepted(runtime, volunteer.phone, f"ANC {woman.short_id}")
    accepted(runtime, volunteer.phone, f"OUT {woman.short_id}")
    table = due_by_item(session, woman.id)
    assert table.pop("anc_12w") == "done" and set(table.values()) == {"ended"}
    assert {i.reason for i in due_items(session, woman.id) if i.status is DueStatus.ended} == {"moved out"}


def test_out_of_one_person_leaves_anothers_care(runtime, session, volunteer, household, woman):
    neighbour = factories.person(session, household, volunteer, name="Rehema")
    accepted(runtime, volunteer.phone, f"PREG {woman.short_id} 12W")
    accepted(runtime, volunteer.phone, f"PREG {neighbour.short_id} 12W")
    accepted(runtime, volunteer.phone, f"OUT {neighbour.short_id}")
    assert set(due_by_item(session, woman.id).values()) == {"open"}


def test_out_keeps_the_pregnancy_open(runtime, session, volunteer, woman):
    accepted(runtime, volunteer.phone, f"PREG {woman.short_id} 12W")
    accepted(runtime, volunteer.phone, f"OUT {woman.short_id}")
    assert session.scalar(select(Pregnancy)).status is PregnancyStatus.open


@pytest.mark.parametrize("text, destination", [
    ("OUT#ID {id}#TO Kisumu town", "Kisumu town"),
    ("out {id}", None),
    ("迁出 {id} 内罗毕", "内罗毕"),
    ("迁出#编号 {id}#去向 内罗毕", "内罗毕"),
])
def test_out_in_keyvalue_and_chinese(runtime, session, volunteer, chinese, woman, text, destination):
    phone = ZH_PHONE if text.startswith("迁出") else volunteer.phone
    outcome = accepted(runtime, phone, text.format(id=woman.short_id))
    assert fresh(session, woman).status is PersonStatus.moved_out
    assert session.scalar(select(Report).where(Report.form == "OUT")).values.get("destination") == destination
    assert woman.short_id in outcome.reply


@pytest.mark.parametrize("text, error", [
    ("OUT {unknown}", "unknown_id"),
    ("OUT {typo}", "invalid_id"),
    ("OUT {hh}", "invalid_id"),
    ("OUT {id} " + "x" * 61, "invalid_value"),
])
def test_out_refusals(runtime, session, volunteer, household, woman, text, error):
    text = text.format(id=woman.short_id, hh=household.short_id, unknown=unregistered_id(session),
                       typo=mistyped(woman.short_id))
    refused(runtime, session, volunteer.phone, text, error)
    assert fresh(session, woman).status is PersonStatus.active


@pytest.mark.parametrize("event, word", [("OUT {id}", "moved out"), ("DEATH {id} today", "deceased")])
def test_out_of_a_person_moved_out_or_deceased_is_a_conflict(runtime, session, volunteer, woman, event, word):
    accepted(runtime, volunteer.phone, event.format(id=woman.short_id))
    outcome = refused(runtime, session, volunteer.phone, f"OUT {woman.short_id}", "conflict")
    assert word in outcome.reply


def test_out_of_a_person_of_another_village_is_not_allowed(runtime, session, volunteer, newcomer):
    refused(runtime, session, volunteer.phone, f"OUT {newcomer.short_id}", "not_allowed")


@pytest.mark.parametrize("text", [
    "ANC {id}", "PNC {id}", "FP {id} P", "OFF {id}", "ON {id}", "DEATH {id} today", "LOSS {id} today",
    "BIRTH {id} today F", "PREG {id} 12W", "DANGER {id} B",
])
def test_reports_about_a_person_who_moved_out_are_conflicts(runtime, session, volunteer, woman, text):
    accepted(runtime, volunteer.phone, f"PREG {woman.short_id} 30W")
    accepted(runtime, volunteer.phone, f"OUT {woman.short_id}")
    outcome = refused(runtime, session, volunteer.phone, text.format(id=woman.short_id), "conflict")
    assert f"IN {woman.short_id}" in outcome.reply
