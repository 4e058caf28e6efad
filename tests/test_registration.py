"""HH, REG, V, HELP and LANG end to end through intake, with their records, refusals and replies."""
from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from gateway import shortid
from gateway.models import DueItem, DueStatus, Household, InboundMessage, Person, Report
from tests import factories
from tests.helpers import send

PHONE = "+254712345678"


@pytest.fixture
def volunteer(session):
    return factories.contact(session, phone=PHONE)


@pytest.fixture
def hh(session, volunteer):
    return factories.household(session, volunteer)


def count(session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


def test_hh_registers_a_household_in_the_senders_village(runtime, session, volunteer):
    outcome = send(runtime, PHONE, "HH Juma Ali")
    assert outcome.status == "accepted" and outcome.form == "HH" and outcome.error is None
    household = session.scalar(select(Household))
    assert household.head_name == "Juma Ali" and household.village.name == "Kanyagwal"
    assert shortid.is_valid(household.short_id) and len(household.short_id) == 5
    assert outcome.record == {"type": "household", "id": household.short_id}
    assert outcome.reply == f"Household of Juma Ali registered in Kanyagwal. ID {household.short_id}"


def test_reg_registers_a_person_with_an_estimated_birth_date(runtime, session, volunteer, hh):
    outcome = send(runtime, PHONE, f"REG {hh.short_id} F 24 Amina Juma")
    assert outcome.status == "accepted", outcome.reply
    person = session.scalar(select(Person))
    assert (person.name, person.sex, person.household_id) == ("Amina Juma", "F", hh.id)
    assert person.birth_date == date(2002, 11, 29) and person.birth_date_estimated
    assert outcome.reply == f"Amina Juma registered in household {hh.short_id}. ID {person.short_id}"
    report = session.scalar(select(Report))
    assert report.form == "REG" and report.person_id == person.id
    assert report.values["age"] == {"birth_date": "2002-11-29", "estimated": True}


def test_reg_with_a_birth_date_is_exact(runtime, session, volunteer, hh):
    send(runtime, PHONE, f"REG {hh.short_id} M 2024-03-01 Baraka")
    person = session.scalar(select(Person))
    assert person.birth_date == date(2024, 3, 1) and not person.birth_date_estimated


def test_reg_in_chinese_with_keyvalue_syntax(runtime, session, hh):
    factories.contact(session, phone="+254733567890", language="zh", name="Li Na")
    outcome = send(runtime, "+254733567890", f"登记#户 {hh.short_id}#性别 女#年龄 30#姓名 李梅")
    assert outcome.status == "accepted", outcome.reply
    person = session.scalar(select(Person))
    assert person.name == "李梅"
    assert outcome.reply == f"李梅已登记在{hh.short_id}户。编号{person.short_id}"


def test_people_and_households_share_one_id_space(runtime, session, volunteer, hh):
    outcome = send(runtime, PHONE, f"REG {hh.short_id} F 24 Amina")
    assert outcome.record["id"] != hh.short_id
    person_id = outcome.record["id"]
    refused = send(runtime, PHONE, f"V {person_id}")
    assert refused.status == "rejected" and refused.error == "invalid_id"
    assert refused.reply.startswith(f"{person_id} is a person's ID. V needs a household ID")


def test_mistyped_id_is_answered_with_check_the_number(runtime, session, volunteer, hh):
    digits = list(hh.short_id)
    digits[1] = str((int(digits[1]) + 1) % 10)
    typo = "".join(digits)
    outcome = send(runtime, PHONE, f"V {typo}")
    assert outcome.error == "invalid_id"
    assert outcome.reply == f"ID {typo} is not valid, check the number"
    assert count(session, Report) == 0


def test_valid_but_unregistered_id_is_unknown(runtime, session, volunteer):
    free = next(shortid.make(str(p)) for p in range(1000, 10000))
    outcome = send(runtime, PHONE, f"V {free}")
    assert outcome.error == "unknown_id"
    assert outcome.reply == f"ID {free} is not registered, check the number"


def test_volunteer_cannot_report_on_another_village_but_staff_can(runtime, session, volunteer):
    other = factories.contact(session, areas=[factories.FAR_VILLAGE], name="Otieno")
    far_hh = factories.household(session, other, village=factories.FAR_VILLAGE)
    refused = send(runtime, PHONE, f"V {far_hh.short_id}")
    assert refused.error == "not_allowed"
    assert "not in your villages" in refused.reply
    staff = factories.contact(session, role="staff", areas=["Kisumu/Nyando"], name="Grace", phone="+254711222333")
    accepted = send(runtime, staff.phone, f"V {far_hh.short_id} checked the tank")
    assert accepted.status == "accepted", accepted.reply


def test_staff_covering_a_township_reaches_its_villages(session, volunteer):
    from gateway.people import covered_village_ids
    from gateway.roster import area_by_path

    staff = factories.contact(session, role="staff", areas=["Kisumu/Nyando"], name="Grace")
    other = area_by_path(session, factories.OTHER_VILLAGE, create=True)
    far = area_by_path(session, factories.FAR_VILLAGE, create=True)
    covered = covered_village_ids(session, staff)
    assert other.id in covered and far.id not in covered
    assert area_by_path(session, factories.VILLAGE).id in covered


def test_visit_sets_the_next_routine_visit_due(runtime, session, volunteer, hh, clock):
    outcome = send(runtime, PHONE, f"V {hh.short_id}")
    assert outcome.status == "accepted"
    item = session.scalar(select(DueItem))
    assert item.household_id == hh.id and item.volunteer_id == volunteer.id
    assert item.due_on == date(2026, 11, 29) + timedelta(days=90)
    assert item.status is DueStatus.open
    assert outcome.reply == f"Visit to household {hh.short_id} (Juma Ali) recorded. Next visit due 2027-02-27"


def test_the_next_visit_clears_the_due_one_and_sets_another(runtime, session, volunteer, hh, clock):
    send(runtime, PHONE, f"V {hh.short_id}")
    clock.advance(days=85)
    send(runtime, PHONE, f"VISIT {hh.short_id} all well")
    session.expire_all()
    items = session.scalars(select(DueItem).order_by(DueItem.id)).all()
    assert [i.status for i in items] == [DueStatus.done, DueStatus.open]
    assert items[0].cleared_by_report_id is not None
    assert items[1].due_on == date(2026, 11, 29) + timedelta(days=85 + 90)


def test_a_visit_before_the_due_one_s_window_replaces_it(runtime, session, volunteer, hh, clock):
    send(runtime, PHONE, f"V {hh.short_id}")
    clock.advance(days=30)  # the next visit's window opens two weeks before its day, 90 days on
    send(runtime, PHONE, f"V {hh.short_id}")
    session.expire_all()
    items = session.scalars(select(DueItem).order_by(DueItem.id)).all()
    assert [(i.status, i.due_on) for i in items] == [
        (DueStatus.ended, date(2027, 2, 27)), (DueStatus.open, date(2026, 12, 29) + timedelta(days=90))]
    assert items[0].reason == "replaced by the visit of 2026-12-29"
    assert items[0].cleared_by_report_id is None and items[0].closed_at is not None
    assert items[1].cleared_by_report_id is None and items[1].reason is None


def test_visit_for_another_household_clears_nothing(runtime, session, volunteer, hh, clock):
    other = factories.household(session, volunteer, head="Otieno")
    send(runtime, PHONE, f"V {hh.short_id}")
    clock.advance(days=88)
    send(runtime, PHONE, f"V {other.short_id}")
    session.expire_all()
    first = session.scalar(select(DueItem).where(DueItem.household_id == hh.id))
    assert first.status is DueStatus.open


@pytest.mark.parametrize("text, error", [
    ("", "empty"),
    ("PRGE 12345", "unknown_keyword"),
    ("REG", "missing_field"),
    ("REG {hh} X 24 Amina", "invalid_value"),
    ("REG {hh} F 31/02/2020 Amina", "invalid_date"),
    ("REG {hh} F 2099-01-01 Amina", "invalid_date"),
    ("V {hh} ", None),
])
def test_refusals_keep_only_the_raw_message(runtime, session, volunteer, hh, text, error):
    before = count(session, Report)
    outcome = send(runtime, PHONE, text.format(hh=hh.short_id))
    assert outcome.error == error
    assert count(session, InboundMessage) == 1
    assert count(session, Report) == before + (1 if error is None else 0)
    assert len(outcome.reply) <= 160


def test_unknown_keyword_one_edit_away_suggests_it(runtime, volunteer):
    outcome = send(runtime, PHONE, "VISTI 12345")
    assert outcome.error == "unknown_keyword"
    assert outcome.reply.startswith("'VISTI' is not a report. Did you mean VISIT?")


def test_unknown_keyword_far_from_any_lists_the_keywords(runtime, volunteer):
    outcome = send(runtime, PHONE, "HELLO there")
    assert outcome.reply == "'HELLO' is not a report. Send one of: HH REG V PREG ANC BIRTH LOSS PNC DANGER DEATH IN OUT FP OFF ON HELP LANG"


def test_help_lists_keywords_and_help_keyword_shows_the_form(runtime, volunteer):
    assert send(runtime, PHONE, "HELP").reply.startswith("Reports: HH REG V PREG ANC BIRTH LOSS PNC DANGER DEATH IN OUT FP OFF ON HELP LANG.")
    assert send(runtime, PHONE, "help reg").reply == (
        "Send: REG <household ID> <sex M/F> <age> <name>, e.g. REG 40216 F 24 Amina Juma")


def test_lang_changes_the_language_of_later_replies(runtime, session, volunteer):
    assert send(runtime, PHONE, "LANG zh").reply == "以后将用中文回复"
    session.expire_all()
    assert session.get(type(volunteer), volunteer.id).language == "zh"
    assert send(runtime, PHONE, "帮助").reply.startswith("可发送：户 登记 访视")
    assert send(runtime, PHONE, "语言 英文").reply == "Replies will now be in English"


def test_inactive_contact_is_not_served(runtime, session, volunteer):
    volunteer.active = False
    session.flush()
    outcome = send(runtime, PHONE, "HH Juma")
    assert outcome.status == "ignored" and outcome.error == "not_allowed"
    assert count(session, Household) == 0


def test_a_failing_handler_keeps_the_message_and_says_so(runtime, session, volunteer, monkeypatch):
    from gateway import handlers

    def broken(ctx, parsed):
        raise RuntimeError("boom")

    monkeypatch.setitem(handlers.HANDLERS, "register_household", broken)
    outcome = send(runtime, PHONE, "HH Juma Ali")
    assert outcome.status == "failed"
    assert outcome.reply.startswith("Sorry, your report could not be processed")
    message = session.scalar(select(InboundMessage))
    assert message.body == "HH Juma Ali" and message.error == "failed"


def test_mistyped_id_is_refused_before_any_lookup(runtime, session, volunteer, hh):
    from sqlalchemy import event

    typo = hh.short_id[0] + hh.short_id[2] + hh.short_id[1] + hh.short_id[3:]
    if typo == hh.short_id:
        typo = hh.short_id[:-1] + str((int(hh.short_id[-1]) + 1) % 10)
    statements: list[str] = []
    engine = runtime.db.engine

    def record(conn, cursor, statement, *args):
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        outcome = send(runtime, PHONE, f"V {typo}")
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert outcome.error == "invalid_id"
    assert statements, "the message itself is stored"
    assert not [s for s in statements if "short_ids" in s or "households" in s]


def test_ids_grow_a_digit_once_half_the_five_digit_space_is_used(session):
    from sqlalchemy import insert

    from gateway.models import IdKind, ShortId
    from gateway.people import new_short_id

    used = [shortid.make(str(p)) for p in range(1000, 1000 + shortid.capacity(5) // 2)]
    session.execute(insert(ShortId), [{"value": v, "kind": IdKind.person} for v in used])
    fresh = new_short_id(session, IdKind.household)
    assert len(fresh) == 6 and shortid.is_valid(fresh)


def test_the_length_in_use_is_counted_again_after_a_number_of_ids(session, monkeypatch):
    """The IDs used at a length are counted once, then again after RECOUNT_EVERY given out: IDs
    others made meanwhile move the length on at the next count."""
    from sqlalchemy import insert

    from gateway import people
    from gateway.models import IdKind, ShortId

    monkeypatch.setattr(people, "RECOUNT_EVERY", 3)
    first = people.new_short_id(session, IdKind.household)
    assert len(first) == 5
    used = [shortid.make(str(p)) for p in range(1000, 1000 + shortid.capacity(5) // 2)]
    session.execute(insert(ShortId), [{"value": v, "kind": IdKind.person} for v in used if v != first])
    lengths = [len(people.new_short_id(session, IdKind.household)) for _ in range(4)]
    assert lengths == [5, 5, 6, 6]  # the count taken at the first ID holds for two more
