"""Pregnancies and births: the facts the care pack's handlers read and write."""
from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from . import sql
from .models import Birth, Person, Pregnancy, PregnancyStatus

TERM = timedelta(days=280)
POSTNATAL_DAYS = 56  # PNC is accepted this long after a birth (the day-42 check's window)
MATERNAL_DEATH_DAYS = 42
NEONATAL_DAYS = 28


def open_pregnancy(session: Session, person_id: int) -> Pregnancy | None:
    return sql.load(session, Pregnancy, _PREGNANCY_NAMES, _OPEN_PREGNANCY.first(session, {"person_id": person_id}))


_PREGNANCY_COLUMNS = sql.columns_of(Pregnancy)
_PREGNANCY_NAMES = tuple(c.name for c in _PREGNANCY_COLUMNS)
_OPEN_PREGNANCY = sql.Prepared(select(*_PREGNANCY_COLUMNS).where(
    Pregnancy.person_id == bindparam("person_id"), Pregnancy.status == PregnancyStatus.open))


def start_pregnancy(session: Session, person: Person, lmp: date, report_id: int) -> Pregnancy:
    return sql.add(session, Pregnancy, {"person_id": person.id, "lmp": lmp, "edd": lmp + TERM, "report_id": report_id}, later=True)


def end_pregnancy(pregnancy: Pregnancy, status: PregnancyStatus, on: date, report_id: int | None) -> None:
    pregnancy.status = status
    pregnancy.ended_on = on
    pregnancy.ended_report_id = report_id


def latest_birth(session: Session, person: Person) -> Birth | None:
    """The latest birth a person is the mother or the baby of."""
    return session.scalar(
        select(Birth)
        .where((Birth.mother_id == person.id) | (Birth.baby_id == person.id))
        .order_by(Birth.born_on.desc(), Birth.id.desc())
        .limit(1)
    )


def record_birth(
    session: Session, mother: Person, baby: Person, born_on: date, place: str, weight_kg: float | None,
    pregnancy: Pregnancy | None, report_id: int,
) -> Birth:
    birth = Birth(
        mother_id=mother.id, baby_id=baby.id, pregnancy_id=pregnancy.id if pregnancy else None,
        born_on=born_on, place=place, weight_kg=weight_kg, report_id=report_id,
    )
    session.add(birth)
    if pregnancy is not None and pregnancy.status is PregnancyStatus.open:
        end_pregnancy(pregnancy, PregnancyStatus.delivered, born_on, report_id)
    session.flush()
    return birth


def death_needs_alert(session: Session, person: Person, died_on: date) -> str | None:
    """Why a death must reach staff: a maternal or newborn death; None for other deaths."""
    if open_pregnancy(session, person.id) is not None:
        return "death of a pregnant woman"
    if died_on - person.birth_date < timedelta(days=NEONATAL_DAYS):  # days 0-27 of life
        return "death of a newborn under 28 days"
    recent = session.scalar(select(Birth.id).where(
        Birth.mother_id == person.id, Birth.born_on >= died_on - timedelta(days=MATERNAL_DEATH_DAYS)
    ).limit(1))
    if recent is not None:
        return "death of a woman within 42 days of giving birth"
    lost = session.scalar(select(Pregnancy.id).where(
        Pregnancy.person_id == person.id, Pregnancy.status == PregnancyStatus.lost,
        Pregnancy.ended_on >= died_on - timedelta(days=MATERNAL_DEATH_DAYS),
    ).limit(1))
    if lost is not None:
        return "death of a woman within 42 days of a pregnancy loss"
    return None
