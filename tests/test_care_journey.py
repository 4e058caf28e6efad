"""A whole pregnancy on a moving clock, from PREG to the day-42 postnatal check, with the mother's
due care checked after every report."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import select

from gateway.models import Alert, AlertKind, Birth, Person, Pregnancy, PregnancyStatus
from tests import factories
from tests.conftest import TZ
from tests.helpers import accepted, due_items, refused

ZH_PHONE = "+254733567890"


def on(clock, day: date) -> None:
    clock.set(datetime(day.year, day.month, day.day, 9, 30, tzinfo=TZ))


def care(session, person) -> dict[str, tuple[date, str]]:
    items = due_items(session, person.id)
    table = {i.item: (i.due_on, i.status.value) for i in items}
    assert len(table) == len(items), "an item made twice"
    return table


def test_a_pregnancy_from_preg_to_the_day_42_postnatal_check(runtime, session, clock, volunteer, woman):
    phone, amina = volunteer.phone, woman.short_id
    factories.contact(session, phone=ZH_PHONE, language="zh", name="Li Na")  # a second volunteer of the village

    accepted(runtime, phone, f"PREG {amina} 8W")  # 2026-11-29: LMP 2026-10-04, EDD 2027-07-11
    expected = {
        "anc_12w": (date(2026, 12, 27), "open"),
        "anc_20w": (date(2027, 2, 21), "open"),
        "anc_26w": (date(2027, 4, 4), "open"),
        "anc_30w": (date(2027, 5, 2), "open"),
        "anc_34w": (date(2027, 5, 30), "open"),
        "anc_36w": (date(2027, 6, 13), "open"),
        "anc_38w": (date(2027, 6, 27), "open"),
        "anc_40w": (date(2027, 7, 11), "open"),
    }
    assert care(session, woman) == expected
    assert session.scalar(select(Pregnancy)).edd == date(2027, 7, 11)

    def step(day: date, text: str, by: str = phone, **changes: str) -> None:
        on(clock, day)
        accepted(runtime, by, text)
        for item, status in changes.items():
            expected[item] = (expected[item][0], status)
        assert care(session, woman) == expected, (day, text)

    step(date(2026, 12, 10), f"ANC {amina}")  # 9 weeks 4 days: before the first window opens
    step(date(2026, 12, 28), f"ANC {amina}", anc_12w="done")
    step(date(2027, 2, 19), f"产检 {amina}", by=ZH_PHONE, anc_20w="done")
    step(date(2027, 3, 10), f"DANGER {amina} F")  # an alert, no change to her care
    step(date(2027, 4, 4), f"ANC#ID {amina}", anc_26w="done")
    # the 30-week contact is missed: it stays open, and the next ANC clears the 34-week one
    step(date(2027, 5, 24), f"ANC {amina}", anc_34w="done")
    step(date(2027, 6, 14), f"ANC {amina} H", anc_36w="done")
    step(date(2027, 6, 26), f"ANC {amina}", anc_38w="done")
    assert session.scalar(select(Pregnancy)).status is PregnancyStatus.open

    # born at 39 weeks 3 days: the missed and the unneeded contacts end, postnatal checks fall due
    on(clock, date(2027, 7, 7))
    baby_id = accepted(runtime, phone, f"BIRTH {amina} 1D F 3.2").record["id"]
    expected.update({
        "anc_30w": (date(2027, 5, 2), "ended"),
        "anc_40w": (date(2027, 7, 11), "ended"),
        "pnc_d1": (date(2027, 7, 7), "open"),
        "pnc_d3": (date(2027, 7, 9), "open"),
        "pnc_d7": (date(2027, 7, 13), "open"),
        "pnc_d42": (date(2027, 8, 17), "open"),
    })
    assert care(session, woman) == expected
    baby = session.scalar(select(Person).where(Person.short_id == baby_id))
    assert (baby.mother_id, baby.household_id, baby.birth_date) == (woman.id, woman.household_id, date(2027, 7, 6))
    assert due_items(session, baby.id) == []
    assert session.scalar(select(Pregnancy)).status is PregnancyStatus.delivered
    assert session.scalar(select(Birth)).weight_kg == 3.2

    step(date(2027, 7, 7), f"PNC {amina}", pnc_d1="done")
    step(date(2027, 7, 9), f"PNC {baby_id}", pnc_d3="done")
    step(date(2027, 7, 11), f"产后 {baby_id}", by=ZH_PHONE)  # between windows: recorded, clears nothing
    step(date(2027, 7, 12), f"PNC#ID {amina}", pnc_d7="done")
    step(date(2027, 8, 10), f"PNC {baby_id}", pnc_d42="done")

    assert {status for _, status in care(session, woman).values()} == {"done", "ended"}
    alerts = session.scalars(select(Alert).order_by(Alert.id)).all()
    assert [(a.kind, a.codes, a.person_id) for a in alerts] == [
        (AlertKind.danger, "F", woman.id), (AlertKind.danger, "H", woman.id)]
    refused(runtime, session, phone, f"ANC {amina}", "conflict")
    on(clock, date(2027, 9, 1))  # 57 days after the birth: no postnatal care is due any more
    refused(runtime, session, phone, f"PNC {amina}", "conflict")
