"""FP, OFF and ON end to end: resupply falling due when supplies run out, a person declining every
reminder and accepting them again, and the refusals."""
from __future__ import annotations

from datetime import date, datetime

import pytest
from sqlalchemy import select

from gateway.models import DueItem, DueStatus, Person, Report
from tests import factories
from tests.conftest import TZ
from tests.helpers import accepted, due_by_item, due_items, mistyped, refused, unregistered_id

ZH_PHONE = "+254733567890"


@pytest.fixture
def chinese(session):
    return factories.contact(session, phone=ZH_PHONE, language="zh", name="Li Na")


def fresh(session, person) -> Person:
    session.expire_all()
    return session.get(Person, person.id)


def resupply(session, person) -> list[tuple[str, str, date, date, date, str]]:
    return [(i.schedule, i.item, i.due_on, i.window_start, i.window_end, i.status.value)
            for i in due_items(session, person.id)]


# -- FP ------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("text, schedule, due, start, end", [
    ("FP {id} P", "fp_pills", date(2026, 12, 27), date(2026, 12, 22), date(2027, 1, 3)),
    ("FP {id} P 1", "fp_pills", date(2026, 12, 27), date(2026, 12, 22), date(2027, 1, 3)),
    ("FP {id} PILLS 3", "fp_pills", date(2027, 2, 21), date(2027, 2, 16), date(2027, 2, 28)),
    ("FP {id} P 13", "fp_pills", date(2027, 11, 28), date(2027, 11, 23), date(2027, 12, 5)),
    ("fp {id} c", "fp_condoms", date(2026, 12, 29), date(2026, 12, 24), date(2027, 1, 5)),
    ("FP {id} CONDOMS 2", "fp_condoms", date(2027, 1, 28), date(2027, 1, 23), date(2027, 2, 4)),
    ("FP {id} I", "fp_injectable", date(2027, 2, 28), date(2027, 2, 21), date(2027, 3, 14)),
    ("FP {id} INJECTABLE 1", "fp_injectable", date(2027, 2, 28), date(2027, 2, 21), date(2027, 3, 14)),
    ("FP#ID {id}#M P#Q 3", "fp_pills", date(2027, 2, 21), date(2027, 2, 16), date(2027, 2, 28)),
    ("FP #Q 2 #METHOD C #ID {id}", "fp_condoms", date(2027, 1, 28), date(2027, 1, 23), date(2027, 2, 4)),
    ("FP#ID {id}#M I", "fp_injectable", date(2027, 2, 28), date(2027, 2, 21), date(2027, 3, 14)),
])
def test_fp_sets_the_resupply_due_when_supplies_run_out(
        runtime, session, volunteer, woman, text, schedule, due, start, end):
    outcome = accepted(runtime, volunteer.phone, text.format(id=woman.short_id))
    assert resupply(session, woman) == [(schedule, "resupply_" + schedule[3:], due, start, end, "open")]
    assert due_items(session, woman.id)[0].volunteer_id == volunteer.id
    report = session.scalar(select(Report).where(Report.form == "FP"))
    assert report.person_id == woman.id and outcome.record == {"type": "report", "id": str(report.id)}
    assert woman.short_id in outcome.reply and due.isoformat() in outcome.reply


@pytest.mark.parametrize("text, schedule, due", [
    ("避孕 {id} 药 3", "fp_pills", date(2027, 2, 21)),
    ("避孕 {id} 避孕套", "fp_condoms", date(2026, 12, 29)),
    ("避孕 {id} 针", "fp_injectable", date(2027, 2, 28)),
    ("避孕#编号 {id}#方法 药#数量 3", "fp_pills", date(2027, 2, 21)),
])
def test_fp_in_chinese(runtime, session, chinese, woman, text, schedule, due):
    outcome = accepted(runtime, ZH_PHONE, text.format(id=woman.short_id))
    assert [(i.schedule, i.due_on) for i in due_items(session, woman.id)] == [(schedule, due)]
    assert due.isoformat() in outcome.reply


def test_fp_for_a_man_sets_his_resupply(runtime, session, volunteer, household):
    man = factories.person(session, household, volunteer, name="Juma Ali", sex="M", birth_date=date(1990, 1, 1))
    accepted(runtime, volunteer.phone, f"FP {man.short_id} C 3")
    assert [i.due_on for i in due_items(session, man.id)] == [date(2027, 2, 27)]


def test_fp_inside_the_resupply_window_clears_it_and_starts_the_next(runtime, session, volunteer, woman, clock):
    accepted(runtime, volunteer.phone, f"FP {woman.short_id} P")
    clock.advance(days=26)  # 2026-12-25, inside the window of the 2026-12-27 resupply
    accepted(runtime, volunteer.phone, f"FP {woman.short_id} P 2")
    items = due_items(session, woman.id)
    second = session.scalars(select(Report).where(Report.form == "FP").order_by(Report.id)).all()[1]
    assert [(i.due_on, i.status) for i in items] == [
        (date(2026, 12, 27), DueStatus.done), (date(2027, 2, 19), DueStatus.open)]
    assert items[0].cleared_by_report_id == second.id


def test_fp_before_the_window_ends_the_earlier_resupply(runtime, session, volunteer, woman, clock):
    accepted(runtime, volunteer.phone, f"FP {woman.short_id} P 3")  # due 2027-02-21
    clock.advance(days=10)
    accepted(runtime, volunteer.phone, f"FP {woman.short_id} P")
    items = due_items(session, woman.id)
    assert [(i.due_on, i.status) for i in items] == [
        (date(2027, 1, 6), DueStatus.open), (date(2027, 2, 21), DueStatus.ended)]
    assert items[1].reason and items[1].closed_at and items[1].cleared_by_report_id is None


def test_fp_of_another_method_replaces_the_earlier_one(runtime, session, volunteer, woman, clock):
    accepted(runtime, volunteer.phone, f"FP {woman.short_id} P")
    clock.advance(days=25)  # 2026-12-24, inside the pills' window
    accepted(runtime, volunteer.phone, f"FP {woman.short_id} I")
    assert [(i.item, i.status.value) for i in due_items(session, woman.id)] == [
        ("resupply_pills", "done"), ("resupply_injectable", "open")]


def test_fp_after_the_window_closed_ends_the_missed_resupply(runtime, session, volunteer, woman, clock):
    accepted(runtime, volunteer.phone, f"FP {woman.short_id} C")  # due 2026-12-29, window to 2027-01-05
    clock.advance(days=40)
    accepted(runtime, volunteer.phone, f"FP {woman.short_id} C")
    assert [(i.due_on, i.status.value) for i in due_items(session, woman.id)] == [
        (date(2026, 12, 29), "ended"), (date(2027, 2, 7), "open")]


def test_fp_for_another_person_clears_nothing(runtime, session, volunteer, household, woman, clock):
    neighbour = factories.person(session, household, volunteer, name="Rehema")
    accepted(runtime, volunteer.phone, f"FP {woman.short_id} P")
    clock.advance(days=27)
    accepted(runtime, volunteer.phone, f"FP {neighbour.short_id} P")
    assert [i.status for i in due_items(session, woman.id)] == [DueStatus.open]
    assert [i.status for i in due_items(session, neighbour.id)] == [DueStatus.open]


def test_fp_leaves_antenatal_care_alone(runtime, session, volunteer, woman):
    accepted(runtime, volunteer.phone, f"PREG {woman.short_id} 12W")
    accepted(runtime, volunteer.phone, f"FP {woman.short_id} C")
    table = due_by_item(session, woman.id)
    assert set(table.values()) == {"open"} and len(table) == 9


@pytest.mark.parametrize("text, error", [
    ("FP {id}", "missing_field"),
    ("FP {id} X", "invalid_value"),
    ("FP {id} P 0", "invalid_value"),
    ("FP {id} P 14", "invalid_value"),
    ("FP {id} P two", "invalid_value"),
    ("FP {id} P 2 3", "extra_values"),
    ("FP {unknown} P", "unknown_id"),
    ("FP {typo} P", "invalid_id"),
    ("FP {hh} P", "invalid_id"),
])
def test_fp_refusals(runtime, session, volunteer, household, woman, text, error):
    accepted(runtime, volunteer.phone, f"FP {woman.short_id} P")
    text = text.format(id=woman.short_id, hh=household.short_id, unknown=unregistered_id(session),
                       typo=mistyped(woman.short_id))
    refused(runtime, session, volunteer.phone, text, error)
    assert [i.status for i in due_items(session, woman.id)] == [DueStatus.open]


@pytest.mark.parametrize("event", ["DEATH {id} today", "OUT {id}"])
def test_fp_for_a_person_deceased_or_moved_out_is_a_conflict(runtime, session, volunteer, woman, event):
    accepted(runtime, volunteer.phone, event.format(id=woman.short_id))
    refused(runtime, session, volunteer.phone, f"FP {woman.short_id} P", "conflict")


# -- OFF -----------------------------------------------------------------------------------------------------

def test_off_mutes_every_open_item_of_the_person(runtime, session, volunteer, household, woman, clock):
    accepted(runtime, volunteer.phone, f"V {household.short_id}")
    accepted(runtime, volunteer.phone, f"PREG {woman.short_id} 12W")
    accepted(runtime, volunteer.phone, f"ANC {woman.short_id}")
    accepted(runtime, volunteer.phone, f"FP {woman.short_id} C")
    outcome = accepted(runtime, volunteer.phone, f"OFF {woman.short_id}")
    assert fresh(session, woman).reminders_off
    table = due_by_item(session, woman.id)
    assert table.pop("anc_12w") == "done"
    assert set(table.values()) == {"muted"} and len(table) == 8
    assert all(i.reason and i.closed_at for i in due_items(session, woman.id) if i.status is DueStatus.muted)
    visit = session.scalar(select(DueItem).where(DueItem.household_id == household.id, DueItem.person_id.is_(None)))
    assert visit.status is DueStatus.open  # the household's routine visit is not hers to decline
    report = session.scalar(select(Report).where(Report.form == "OFF"))
    assert outcome.record == {"type": "report", "id": str(report.id)}
    assert woman.short_id in outcome.reply


def test_off_for_one_person_leaves_anothers_reminders(runtime, session, volunteer, household, woman):
    neighbour = factories.person(session, household, volunteer, name="Rehema")
    accepted(runtime, volunteer.phone, f"PREG {woman.short_id} 12W")
    accepted(runtime, volunteer.phone, f"FP {neighbour.short_id} P")
    accepted(runtime, volunteer.phone, f"OFF {neighbour.short_id}")
    assert set(due_by_item(session, woman.id).values()) == {"open"}
    assert not fresh(session, woman).reminders_off


def test_care_started_while_off_is_muted(runtime, session, volunteer, woman, clock):
    accepted(runtime, volunteer.phone, f"OFF {woman.short_id}")
    accepted(runtime, volunteer.phone, f"PREG {woman.short_id} 36W")
    accepted(runtime, volunteer.phone, f"FP {woman.short_id} C")
    assert set(due_by_item(session, woman.id).values()) == {"muted"}
    clock.advance(days=10)
    accepted(runtime, volunteer.phone, f"BIRTH {woman.short_id} today H")
    table = due_by_item(session, woman.id)
    assert {table[k] for k in ("pnc_d1", "pnc_d3", "pnc_d7", "pnc_d42")} == {"muted"}
    assert {table[k] for k in ("anc_36w", "anc_38w", "anc_40w")} == {"ended"}


def test_a_report_while_off_still_clears_the_muted_item_it_matches(runtime, session, volunteer, woman):
    accepted(runtime, volunteer.phone, f"PREG {woman.short_id} 12W")
    accepted(runtime, volunteer.phone, f"OFF {woman.short_id}")
    accepted(runtime, volunteer.phone, f"ANC {woman.short_id}")
    # OFF stops reminders, not care: the contact given is done, so ON will not remind of it
    table = due_by_item(session, woman.id)
    assert table.pop("anc_12w") == "done" and set(table.values()) == {"muted"}
    accepted(runtime, volunteer.phone, f"ON {woman.short_id}")
    table = due_by_item(session, woman.id)
    assert table.pop("anc_12w") == "done" and set(table.values()) == {"open"}


def test_fp_while_off_clears_the_muted_resupply_and_mutes_the_next(runtime, session, volunteer, woman, clock):
    accepted(runtime, volunteer.phone, f"FP {woman.short_id} P")
    accepted(runtime, volunteer.phone, f"OFF {woman.short_id}")
    clock.advance(days=26)
    accepted(runtime, volunteer.phone, f"FP {woman.short_id} P")
    assert [(i.due_on, i.status.value) for i in due_items(session, woman.id)] == [
        (date(2026, 12, 27), "done"), (date(2027, 1, 22), "muted")]


@pytest.mark.parametrize("word", ["OFF", "off"])
def test_off_in_chinese(runtime, session, chinese, woman, word):
    accepted(runtime, ZH_PHONE, f"避孕 {woman.short_id} 针")
    outcome = accepted(runtime, ZH_PHONE, f"{word} {woman.short_id}")
    assert due_by_item(session, woman.id) == {"resupply_injectable": "muted"}
    assert f"ON {woman.short_id}" in outcome.reply and "提醒" in outcome.reply


# -- ON ------------------------------------------------------------------------------------------------------

def test_on_reopens_muted_care_due_today_or_later_and_leaves_earlier_muted(
        runtime, session, volunteer, woman, clock):
    accepted(runtime, volunteer.phone, f"PREG {woman.short_id} 10W")  # contacts due 2026-12-13, 2027-02-07, ...
    accepted(runtime, volunteer.phone, f"FP {woman.short_id} C")  # resupply due 2026-12-29
    accepted(runtime, volunteer.phone, f"OFF {woman.short_id}")
    clock.set(datetime(2026, 12, 29, 9, 0, tzinfo=TZ))
    outcome = accepted(runtime, volunteer.phone, f"ON {woman.short_id}")
    assert not fresh(session, woman).reminders_off
    items = due_items(session, woman.id)
    assert [(i.item, i.due_on, i.status.value) for i in items[:3]] == [
        ("anc_12w", date(2026, 12, 13), "muted"),
        ("resupply_condoms", date(2026, 12, 29), "open"),
        ("anc_20w", date(2027, 2, 7), "open")]
    assert {i.status for i in items[3:]} == {DueStatus.open}
    assert all(i.reason is None and i.closed_at is None for i in items if i.status is DueStatus.open)
    report = session.scalar(select(Report).where(Report.form == "ON"))
    assert outcome.record == {"type": "report", "id": str(report.id)}
    assert woman.short_id in outcome.reply


def test_on_leaves_care_that_was_done_or_ended(runtime, session, volunteer, woman, clock):
    accepted(runtime, volunteer.phone, f"PREG {woman.short_id} 12W")
    accepted(runtime, volunteer.phone, f"ANC {woman.short_id}")
    accepted(runtime, volunteer.phone, f"OFF {woman.short_id}")
    accepted(runtime, volunteer.phone, f"LOSS {woman.short_id} today")
    accepted(runtime, volunteer.phone, f"ON {woman.short_id}")
    table = due_by_item(session, woman.id)
    assert table.pop("anc_12w") == "done" and set(table.values()) == {"ended"}


def test_care_started_after_on_is_open(runtime, session, volunteer, woman):
    accepted(runtime, volunteer.phone, f"OFF {woman.short_id}")
    accepted(runtime, volunteer.phone, f"ON {woman.short_id}")
    accepted(runtime, volunteer.phone, f"FP {woman.short_id} P")
    assert due_by_item(session, woman.id) == {"resupply_pills": "open"}


def test_on_without_off_changes_nothing(runtime, session, volunteer, woman):
    accepted(runtime, volunteer.phone, f"FP {woman.short_id} P")
    accepted(runtime, volunteer.phone, f"ON {woman.short_id}")
    assert due_by_item(session, woman.id) == {"resupply_pills": "open"}


def test_on_in_chinese_and_keyvalue(runtime, session, volunteer, chinese, woman):
    accepted(runtime, ZH_PHONE, f"避孕 {woman.short_id} 药")
    accepted(runtime, ZH_PHONE, f"OFF#编号 {woman.short_id}")
    outcome = accepted(runtime, ZH_PHONE, f"ON#编号 {woman.short_id}")
    assert due_by_item(session, woman.id) == {"resupply_pills": "open"}
    assert woman.short_id in outcome.reply
    accepted(runtime, volunteer.phone, f"OFF#ID {woman.short_id}")
    accepted(runtime, volunteer.phone, f"on#id {woman.short_id}")
    assert due_by_item(session, woman.id) == {"resupply_pills": "open"}


@pytest.mark.parametrize("text, error", [
    ("{word} {unknown}", "unknown_id"),
    ("{word} {typo}", "invalid_id"),
    ("{word} {hh}", "invalid_id"),
    ("{word}", "missing_field"),
    ("{word} {id} now", "extra_values"),
])
@pytest.mark.parametrize("word", ["OFF", "ON"])
def test_off_and_on_refusals(runtime, session, volunteer, household, woman, text, error, word):
    accepted(runtime, volunteer.phone, f"FP {woman.short_id} P")
    text = text.format(word=word, id=woman.short_id, hh=household.short_id, unknown=unregistered_id(session),
                       typo=mistyped(woman.short_id))
    refused(runtime, session, volunteer.phone, text, error)
    assert due_by_item(session, woman.id) == {"resupply_pills": "open"}


@pytest.mark.parametrize("word", ["OFF", "ON"])
@pytest.mark.parametrize("event", ["DEATH {id} today", "OUT {id}"])
def test_off_and_on_for_a_person_deceased_or_moved_out_are_conflicts(
        runtime, session, volunteer, woman, word, event):
    accepted(runtime, volunteer.phone, f"FP {woman.short_id} P")
    accepted(runtime, volunteer.phone, event.format(id=woman.short_id))
    refused(runtime, session, volunteer.phone, f"{word} {woman.short_id}", "conflict")
    assert due_by_item(session, woman.id) == {"resupply_pills": "ended"}
