"""PREG, ANC and LOSS end to end: the pregnancy and its antenatal schedule, contacts that clear it,
a loss that ends it, and every refusal with nothing recorded but the raw message."""
from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from gateway.models import (
    Alert,
    AlertKind,
    AlertStatus,
    DueStatus,
    PersonStatus,
    Pregnancy,
    PregnancyStatus,
    Report,
)
from tests import factories
from tests.helpers import accepted, due_by_item, due_items, mistyped, refused, send, unregistered_id

# PREG 12W on 2026-11-29: LMP 2026-09-06, EDD LMP + 280 days. (item, due, window start, window end)
ANTENATAL_FROM_SEP_6 = [
    ("anc_12w", date(2026, 11, 29), date(2026, 11, 15), date(2026, 12, 20)),
    ("anc_20w", date(2027, 1, 24), date(2027, 1, 10), date(2027, 2, 7)),
    ("anc_26w", date(2027, 3, 7), date(2027, 2, 21), date(2027, 3, 14)),
    ("anc_30w", date(2027, 4, 4), date(2027, 3, 21), date(2027, 4, 11)),
    ("anc_34w", date(2027, 5, 2), date(2027, 4, 18), date(2027, 5, 9)),
    ("anc_36w", date(2027, 5, 16), date(2027, 5, 10), date(2027, 5, 22)),
    ("anc_38w", date(2027, 5, 30), date(2027, 5, 24), date(2027, 6, 5)),
    ("anc_40w", date(2027, 6, 13), date(2027, 6, 7), date(2027, 6, 27)),
]
# PREG with the LMP 2026-09-01 (12 weeks 6 days on 2026-11-29).
ANTENATAL_FROM_SEP_1 = [
    ("anc_12w", date(2026, 11, 24), date(2026, 11, 10), date(2026, 12, 15)),
    ("anc_20w", date(2027, 1, 19), date(2027, 1, 5), date(2027, 2, 2)),
    ("anc_26w", date(2027, 3, 2), date(2027, 2, 16), date(2027, 3, 9)),
    ("anc_30w", date(2027, 3, 30), date(2027, 3, 16), date(2027, 4, 6)),
    ("anc_34w", date(2027, 4, 27), date(2027, 4, 13), date(2027, 5, 4)),
    ("anc_36w", date(2027, 5, 11), date(2027, 5, 5), date(2027, 5, 17)),
    ("anc_38w", date(2027, 5, 25), date(2027, 5, 19), date(2027, 5, 31)),
    ("anc_40w", date(2027, 6, 8), date(2027, 6, 2), date(2027, 6, 22)),
]
ZH_PHONE = "+254733567890"


@pytest.fixture
def chinese(session):
    return factories.contact(session, phone=ZH_PHONE, language="zh", name="Li Na")


def schedule_of(session, person) -> list[tuple[str, date, date, date]]:
    return [(i.item, i.due_on, i.window_start, i.window_end) for i in due_items(session, person.id)]


def pregnancy_of(session, person) -> Pregnancy:
    session.expire_all()
    return session.scalar(select(Pregnancy).where(Pregnancy.person_id == person.id))


# -- PREG ------------------------------------------------------------------------------------------------

def test_preg_in_weeks_dates_the_lmp_the_edd_and_every_antenatal_contact(runtime, session, volunteer, woman):
    outcome = accepted(runtime, volunteer.phone, f"PREG {woman.short_id} 12W")
    pregnancy = pregnancy_of(session, woman)
    assert (pregnancy.lmp, pregnancy.edd, pregnancy.status) == (
        date(2026, 9, 6), date(2027, 6, 13), PregnancyStatus.open)
    assert outcome.form == "PREG" and outcome.record == {"type": "pregnancy", "id": str(pregnancy.id)}
    assert schedule_of(session, woman) == ANTENATAL_FROM_SEP_6
    items = due_items(session, woman.id)
    assert {(i.schedule, i.status, i.volunteer_id, i.household_id) for i in items} == {
        ("antenatal", DueStatus.open, volunteer.id, None)}
    report = session.scalar(select(Report).where(Report.id == pregnancy.report_id))
    assert (report.form, report.person_id, report.household_id) == ("PREG", woman.id, woman.household_id)
    assert woman.short_id in outcome.reply and "2027-06-13" in outcome.reply and "2026-11-29" in outcome.reply


@pytest.mark.parametrize("text", [
    "PREG {id} 12W",
    "PREG {id} 12",
    "preg {id} 12w",
    "PREGNANCY {id} 12WEEKS",
    "PREG{id} 12W",
    "PREG#ID {id}#W 12",
    "PREG #W 12W #ID {id}",
    "PREG#ID{id}#WEEKS12",
])
def test_preg_reads_weeks_in_both_syntaxes(runtime, session, volunteer, woman, text):
    accepted(runtime, volunteer.phone, text.format(id=woman.short_id))
    assert pregnancy_of(session, woman).lmp == date(2026, 9, 6)
    assert schedule_of(session, woman) == ANTENATAL_FROM_SEP_6


@pytest.mark.parametrize("text", [
    "PREG {id} 1/9/2026",
    "PREG {id} 2026-09-01",
    "PREG {id} 01092026",
    "PREG#ID {id}#LMP 1.9.26",
])
def test_preg_with_an_lmp_date_dates_the_schedule_from_it(runtime, session, volunteer, woman, text):
    outcome = accepted(runtime, volunteer.phone, text.format(id=woman.short_id))
    pregnancy = pregnancy_of(session, woman)
    assert (pregnancy.lmp, pregnancy.edd) == (date(2026, 9, 1), date(2027, 6, 8))
    assert schedule_of(session, woman) == ANTENATAL_FROM_SEP_1
    assert "12 weeks" in outcome.reply and "2027-06-08" in outcome.reply


@pytest.mark.parametrize("text, lmp", [
    ("怀孕 {id} 12周", date(2026, 9, 6)),
    ("怀孕 {id} １２周", date(2026, 9, 6)),
    ("怀孕#编号 {id}#孕周 12周", date(2026, 9, 6)),
    ("怀孕 {id} 2026年9月1日", date(2026, 9, 1)),
    ("怀孕#编号 {id}#末次月经 2026年9月1日", date(2026, 9, 1)),
])
def test_preg_in_chinese(runtime, session, chinese, woman, text, lmp):
    outcome = accepted(runtime, ZH_PHONE, text.format(id=woman.short_id))
    pregnancy = pregnancy_of(session, woman)
    assert pregnancy.lmp == lmp
    assert pregnancy.edd.isoformat() in outcome.reply and woman.short_id in outcome.reply
    assert [i.item for i in due_items(session, woman.id)] == [row[0] for row in ANTENATAL_FROM_SEP_6]


@pytest.mark.parametrize("weeks, first, made", [
    (15, "anc_12w", 8),  # the 12-week contact's window closes today: still due
    (16, "anc_20w", 7),  # it closed yesterday: not made
    (22, "anc_20w", 7),
    (23, "anc_26w", 6),
    (41, "anc_40w", 1),
    (43, None, 0),
])
def test_preg_skips_contacts_whose_window_already_closed(runtime, session, volunteer, woman, weeks, first, made):
    accepted(runtime, volunteer.phone, f"PREG {woman.short_id} {weeks}W")
    items = due_items(session, woman.id)
    assert len(items) == made
    assert (items[0].item if items else None) == first
    assert all(item.window_end >= date(2026, 11, 29) for item in items)


def test_preg_late_in_pregnancy_says_so_in_the_reply(runtime, session, volunteer, woman):
    outcome = accepted(runtime, volunteer.phone, f"PREG {woman.short_id} 16W")
    assert due_items(session, woman.id)[0].due_on == date(2026, 12, 27)
    assert "16 weeks" in outcome.reply and "2026-12-27" in outcome.reply


# -- PREG refusals -------------------------------------------------------------------------------------------

def test_preg_for_a_man_is_a_conflict(runtime, session, volunteer, household):
    man = factories.person(session, household, volunteer, name="Juma Ali", sex="M")
    outcome = refused(runtime, session, volunteer.phone, f"PREG {man.short_id} 12W", "conflict")
    assert man.short_id in outcome.reply and "male" in outcome.reply


def test_preg_for_a_woman_already_pregnant_is_a_conflict(runtime, session, volunteer, woman, clock):
    accepted(runtime, volunteer.phone, f"PREG {woman.short_id} 12W")
    clock.advance(days=14)
    outcome = refused(runtime, session, volunteer.phone, f"PREG {woman.short_id} 14W", "conflict")
    assert woman.short_id in outcome.reply and "2027-06-13" in outcome.reply
    assert pregnancy_of(session, woman).lmp == date(2026, 9, 6)


def test_preg_after_a_loss_starts_a_new_pregnancy(runtime, session, volunteer, woman, clock):
    accepted(runtime, volunteer.phone, f"PREG {woman.short_id} 12W")
    clock.advance(days=10)
    accepted(runtime, volunteer.phone, f"LOSS {woman.short_id} 2D")
    clock.advance(days=90)
    accepted(runtime, volunteer.phone, f"PREG {woman.short_id} 6W")
    session.expire_all()
    pregnancies = session.scalars(select(Pregnancy).order_by(Pregnancy.id)).all()
    assert [p.status for p in pregnancies] == [PregnancyStatus.lost, PregnancyStatus.open]
    statuses = [(i.item, i.status) for i in due_items(session, woman.id)]
    assert statuses.count(("anc_12w", DueStatus.ended)) == 1 and statuses.count(("anc_12w", DueStatus.open)) == 1


@pytest.mark.parametrize("text, error", [
    ("PREG {unknown} 12W", "unknown_id"),
    ("PREG {typo} 12W", "invalid_id"),
    ("PREG {hh} 12W", "invalid_id"),
    ("PREG {id}", "missing_field"),
    ("PREG {id} 0W", "invalid_value"),
    ("PREG {id} 45W", "invalid_value"),
    ("PREG {id} 12X", "invalid_value"),
    ("PREG {id} 2027-01-05", "invalid_date"),
    ("PREG {id} 31/9/2026", "invalid_date"),
    ("PREG {id} 12W twins", "extra_values"),
])
def test_preg_refusals(runtime, session, volunteer, household, woman, text, error):
    text = text.format(id=woman.short_id, unknown=unregistered_id(session), typo=mistyped(woman.short_id),
                       hh=household.short_id)
    refused(runtime, session, volunteer.phone, text, error)


def test_mistyped_id_is_answered_with_check_the_number(runtime, session, volunteer, woman):
    typo = mistyped(woman.short_id)
    outcome = refused(runtime, session, volunteer.phone, f"PREG {typo} 12W", "invalid_id")
    assert typo in outcome.reply


def test_preg_for_a_woman_of_another_village_is_not_allowed(runtime, session, volunteer):
    other = factories.contact(session, areas=[factories.FAR_VILLAGE], name="Otieno")
    far = factories.person(session, factories.household(session, other, village=factories.FAR_VILLAGE), other)
    outcome = refused(runtime, session, volunteer.phone, f"PREG {far.short_id} 12W", "not_allowed")
    assert far.short_id in outcome.reply


@pytest.mark.parametrize("event, status", [("DEATH {id} 3D", "deceased"), ("OUT {id} Nairobi", "moved out")])
def test_preg_for_a_woman_deceased_or_moved_out_is_a_conflict(runtime, session, volunteer, woman, event, status):
    accepted(runtime, volunteer.phone, event.format(id=woman.short_id))
    outcome = refused(runtime, session, volunteer.phone, f"PREG {woman.short_id} 12W", "conflict")
    assert woman.short_id in outcome.reply and status in outcome.reply


# -- ANC -----------------------------------------------------------------------------------------------------

def test_anc_inside_the_window_clears_the_contact_due(runtime, session, volunteer, woman, clock):
    accepted(runtime, volunteer.phone, f"PREG {woman.short_id} 10W")  # 12-week contact due 2026-12-13
    clock.advance(days=12)
    outcome = accepted(runtime, volunteer.phone, f"ANC {woman.short_id}")
    items = due_items(session, woman.id)
    done = [i for i in items if i.status is DueStatus.done]
    assert [i.item for i in done] == ["anc_12w"]
    report = session.scalar(select(Report).where(Report.form == "ANC"))
    assert done[0].cleared_by_report_id == report.id and done[0].closed_at is not None
    assert [i.status for i in items[1:]] == [DueStatus.open] * 7
    assert outcome.record == {"type": "report", "id": str(report.id)}
    assert "11 weeks" in outcome.reply and items[1].due_on.isoformat() in outcome.reply


@pytest.mark.parametrize("text", ["ANC {id}", "anc {id}", "ANC#ID {id}", "ANC{id}"])
def test_anc_in_both_syntaxes(runtime, session, volunteer, woman, text):
    accepted(runtime, volunteer.phone, f"PREG {woman.short_id} 12W")
    accepted(runtime, volunteer.phone, text.format(id=woman.short_id))
    assert due_by_item(session, woman.id)["anc_12w"] == "done"


@pytest.mark.parametrize("text", ["产检 {id}", "产检#编号 {id}"])
def test_anc_in_chinese(runtime, session, chinese, woman, text):
    accepted(runtime, ZH_PHONE, f"怀孕 {woman.short_id} 12周")
    outcome = accepted(runtime, ZH_PHONE, text.format(id=woman.short_id))
    assert due_by_item(session, woman.id)["anc_12w"] == "done"
    assert woman.short_id in outcome.reply and "2027-01-24" in outcome.reply


def test_anc_outside_every_window_is_recorded_and_clears_nothing(runtime, session, volunteer, woman, clock):
    accepted(runtime, volunteer.phone, f"PREG {woman.short_id} 16W")  # next window opens 2026-12-13
    accepted(runtime, volunteer.phone, f"ANC {woman.short_id}")
    assert set(due_by_item(session, woman.id).values()) == {"open"}
    clock.advance(days=14)
    accepted(runtime, volunteer.phone, f"ANC {woman.short_id}")
    assert due_by_item(session, woman.id)["anc_20w"] == "done"


def test_a_second_anc_in_the_same_window_clears_no_later_contact(runtime, session, volunteer, woman, clock):
    accepted(runtime, volunteer.phone, f"PREG {woman.short_id} 12W")
    accepted(runtime, volunteer.phone, f"ANC {woman.short_id}")
    clock.advance(days=7)
    accepted(runtime, volunteer.phone, f"ANC {woman.short_id}")
    table = due_by_item(session, woman.id)
    assert table["anc_12w"] == "done" and table["anc_20w"] == "open"


def test_anc_for_another_woman_clears_nothing(runtime, session, volunteer, household, woman):
    neighbour = factories.person(session, household, volunteer, name="Rehema")
    accepted(runtime, volunteer.phone, f"PREG {woman.short_id} 12W")
    accepted(runtime, volunteer.phone, f"PREG {neighbour.short_id} 12W")
    accepted(runtime, volunteer.phone, f"ANC {neighbour.short_id}")
    assert due_by_item(session, woman.id)["anc_12w"] == "open"
    assert due_by_item(session, neighbour.id)["anc_12w"] == "done"


@pytest.mark.parametrize("text, codes", [
    ("ANC {id} BF", "BF"),
    ("ANC {id} fb", "BF"),
    ("ANC#ID {id}#D H", "H"),
    ("ANC #D c l #ID {id}", "CL"),
])
def test_anc_with_danger_codes_alerts_staff_and_still_clears(runtime, session, volunteer, woman, text, codes):
    accepted(runtime, volunteer.phone, f"PREG {woman.short_id} 12W")
    outcome = accepted(runtime, volunteer.phone, text.format(id=woman.short_id))
    alert = session.scalar(select(Alert))
    report = session.scalar(select(Report).where(Report.form == "ANC"))
    assert (alert.kind, alert.status, alert.codes) == (AlertKind.danger, AlertStatus.open, codes)
    assert (alert.person_id, alert.village_id, alert.report_id) == (woman.id, woman.household.village_id, report.id)
    assert codes in alert.reason
    assert [(e.status, e.by_id) for e in alert.history] == [(AlertStatus.open, None)]
    assert f"{alert.id}" in outcome.reply
    assert due_by_item(session, woman.id)["anc_12w"] == "done"


def test_anc_danger_codes_in_chinese(runtime, session, chinese, woman):
    accepted(runtime, ZH_PHONE, f"怀孕 {woman.short_id} 12周")
    accepted(runtime, ZH_PHONE, f"产检#编号 {woman.short_id}#危险 BF")
    assert session.scalar(select(Alert)).codes == "BF"


@pytest.mark.parametrize("text, error", [
    ("ANC {id}", "conflict"),
    ("ANC {unknown}", "unknown_id"),
    ("ANC {typo}", "invalid_id"),
    ("ANC {id} BX", "invalid_value"),
])
def test_anc_refusals_without_a_pregnancy(runtime, session, volunteer, woman, text, error):
    text = text.format(id=woman.short_id, unknown=unregistered_id(session), typo=mistyped(woman.short_id))
    outcome = refused(runtime, session, volunteer.phone, text, error)
    if error == "conflict":
        assert woman.short_id in outcome.reply and "PREG" in outcome.reply


def test_anc_after_the_birth_is_a_conflict(runtime, session, volunteer, woman, clock):
    accepted(runtime, volunteer.phone, f"PREG {woman.short_id} 38W")
    accepted(runtime, volunteer.phone, f"BIRTH {woman.short_id} today F")
    refused(runtime, session, volunteer.phone, f"ANC {woman.short_id}", "conflict")


@pytest.mark.parametrize("event", ["DEATH {id} today", "OUT {id}"])
def test_anc_for_a_woman_deceased_or_moved_out_is_a_conflict(runtime, session, volunteer, woman, event):
    accepted(runtime, volunteer.phone, f"PREG {woman.short_id} 12W")
    accepted(runtime, volunteer.phone, event.format(id=woman.short_id))
    refused(runtime, session, volunteer.phone, f"ANC {woman.short_id}", "conflict")


# -- LOSS ----------------------------------------------------------------------------------------------------

def test_loss_ends_the_pregnancy_and_its_contacts_and_alerts_staff(runtime, session, volunteer, woman, clock):
    accepted(runtime, volunteer.phone, f"PREG {woman.short_id} 12W")
    accepted(runtime, volunteer.phone, f"ANC {woman.short_id}")
    clock.advance(days=30)
    outcome = accepted(runtime, volunteer.phone, f"LOSS {woman.short_id} 3D")
    pregnancy = pregnancy_of(session, woman)
    report = session.scalar(select(Report).where(Report.form == "LOSS"))
    assert (pregnancy.status, pregnancy.ended_on, pregnancy.ended_report_id) == (
        PregnancyStatus.lost, date(2026, 12, 26), report.id)
    items = due_items(session, woman.id)
    assert [i.status for i in items] == [DueStatus.done] + [DueStatus.ended] * 7
    assert all(i.reason and i.closed_at for i in items[1:])
    alert = session.scalar(select(Alert))
    assert (alert.kind, alert.person_id, alert.village_id, alert.report_id) == (
        AlertKind.loss, woman.id, woman.household.village_id, report.id)
    assert alert.reason and [e.status for e in alert.history] == [AlertStatus.open]
    assert str(alert.id) in outcome.reply and woman.short_id in outcome.reply
    assert session.get(type(woman), woman.id).status is PersonStatus.active


@pytest.mark.parametrize("text", ["LOSS#ID {id}#D 2026-11-27", "流产 {id} 2天", "流产#编号 {id}#日期 2026年11月27日"])
def test_loss_in_keyvalue_and_chinese(runtime, session, volunteer, chinese, woman, text):
    accepted(runtime, volunteer.phone, f"PREG {woman.short_id} 12W")
    phone = ZH_PHONE if text.startswith("流产") else volunteer.phone
    accepted(runtime, phone, text.format(id=woman.short_id))
    assert pregnancy_of(session, woman).ended_on == date(2026, 11, 27)
    assert session.scalar(select(Alert)).kind is AlertKind.loss


def test_loss_ends_muted_contacts_too(runtime, session, volunteer, woman):
    accepted(runtime, volunteer.phone, f"PREG {woman.short_id} 12W")
    accepted(runtime, volunteer.phone, f"OFF {woman.short_id}")
    accepted(runtime, volunteer.phone, f"LOSS {woman.short_id} today")
    assert set(due_by_item(session, woman.id).values()) == {"ended"}


def test_loss_of_one_woman_leaves_anothers_care(runtime, session, volunteer, household, woman):
    neighbour = factories.person(session, household, volunteer, name="Rehema")
    accepted(runtime, volunteer.phone, f"PREG {woman.short_id} 12W")
    accepted(runtime, volunteer.phone, f"PREG {neighbour.short_id} 12W")
    accepted(runtime, volunteer.phone, f"LOSS {neighbour.short_id} today")
    assert set(due_by_item(session, woman.id).values()) == {"open"}


@pytest.mark.parametrize("text, error", [
    ("LOSS {id} 2026-09-01", "conflict"),  # before the LMP, 2026-09-06
    ("LOSS {id} 2026-12-01", "invalid_date"),
    ("LOSS {id} 30/2/2026", "invalid_date"),
    ("LOSS {id}", "missing_field"),
])
def test_loss_refusals(runtime, session, volunteer, woman, text, error):
    accepted(runtime, volunteer.phone, f"PREG {woman.short_id} 12W")
    outcome = refused(runtime, session, volunteer.phone, text.format(id=woman.short_id), error)
    if error == "conflict":
        assert "2026-09-01" in outcome.reply and "2026-09-06" in outcome.reply
    assert pregnancy_of(session, woman).status is PregnancyStatus.open


def test_loss_without_a_pregnancy_is_a_conflict(runtime, session, volunteer, woman):
    outcome = refused(runtime, session, volunteer.phone, f"LOSS {woman.short_id} today", "conflict")
    assert woman.short_id in outcome.reply
    assert send(runtime, volunteer.phone, f"LOSS {unregistered_id(session)} today").error == "unknown_id"
