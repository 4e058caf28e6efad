"""What several handlers share: looking up the subject an ID names, and writing the report."""
from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import select

from .. import sql
from ..models import Area, AreaKind, Contact, ContactArea, Household, Person, PersonStatus, Report, Role
from ..parsers import Age
from ..people import find_subject, may_report_on
from . import Context, Refusal, Reply


def household_by_id(ctx: Context, short_id: str) -> Household:
    subject = find_subject(ctx.session, short_id, reporter=ctx.sender)
    if subject is None:
        raise Refusal("unknown_id", value=short_id)
    if isinstance(subject, Person):
        raise Refusal("invalid_id", reason="person_not_household", value=short_id)
    _check_area(ctx, subject.village_id, short_id)
    return subject


def person_by_id(ctx: Context, short_id: str, *, active: bool = True, any_area: bool = False) -> Person:
    """The person an ID names, in the sender's villages (unless any_area) and alive and here."""
    subject = find_subject(ctx.session, short_id, expect=Person, reporter=ctx.sender)
    if subject is None:
        raise Refusal("unknown_id", value=short_id)
    if isinstance(subject, Household):
        raise Refusal("invalid_id", reason="household_not_person", value=short_id)
    if not any_area:
        _check_area(ctx, subject.household.village_id, short_id)
    if active and subject.status is not PersonStatus.active:
        raise Refusal("conflict", reason=f"person_{subject.status.value}", value=short_id, name=subject.name)
    return subject


def _check_area(ctx: Context, village_id: int, short_id: str) -> None:
    if not may_report_on(ctx.session, ctx.sender, village_id):
        raise Refusal("not_allowed", reason="outside_area", value=short_id)


def village_volunteer_id(ctx: Context, village_id: int) -> int | None:
    """Who is reminded of a household's care: the sender if they volunteer there, else the first."""
    if ctx.sender.role is Role.volunteer:
        return ctx.sender.id
    return ctx.session.scalar(
        select(Contact.id)
        .join(ContactArea, ContactArea.contact_id == Contact.id)
        .where(ContactArea.area_id == village_id, Contact.role == Role.volunteer, Contact.active)
        .order_by(ContactArea.position, Contact.id)
        .limit(1)
    )


def person_values(person: Person, **more: Any) -> dict[str, Any]:
    return {"name": person.name, "id": person.short_id, **more}


def start_schedules(ctx: Context, names, anchor: date, person: Person, **more: Any) -> list:
    """Start each named schedule for a person from anchor; the items made, earliest first.

    Care for a person who asked for no reminders is recorded as muted, so ON can resume it."""
    from .. import care

    volunteer_id = village_volunteer_id(ctx, person.household.village_id)
    made = []
    for name in names:
        made += care.start(ctx.session, ctx.runtime.pack.schedules[name], anchor, today=ctx.today,
                           person_id=person.id, volunteer_id=volunteer_id, **more)
    if person.reminders_off:
        care.mute(ctx.session, person.id, ctx.runtime.clock.now())
    return sorted(made, key=lambda item: item.due_on)


def next_due_text(ctx: Context, names, **subject: Any) -> str:
    from .. import care

    item = care.next_due(ctx.session, names, **subject)
    return item.due_on.isoformat() if item else "-"


def jsonable(values: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, Age):
            out[key] = {"birth_date": value.birth_date.isoformat(), "estimated": value.estimated}
        elif isinstance(value, date):
            out[key] = value.isoformat()
        else:
            out[key] = value
    return out


def add_report(
    ctx: Context, values: dict[str, Any], *, household: Household | None = None,
    person: Person | None = None,
) -> Report:
    return sql.add(ctx.session, Report, {
        "form": ctx.form.code,
        "values": jsonable(values),
        "sender_id": ctx.sender.id,
        "household_id": household.id if household else (person.household_id if person else None),
        "person_id": person.id if person else None,
        "message_id": ctx.message.id,
        "reported_on": ctx.today,
        "created_at": ctx.runtime.clock.now(),  # the checks and their sweeper count time on this clock
    }, later=True)


def village_name(ctx: Context, village_id: int) -> str:
    return ctx.session.scalar(select(Area.name).where(Area.id == village_id, Area.kind == AreaKind.village)) or ""


def danger_signs_reply(ctx: Context, person: Person, report: Report, codes: str, where: str) -> Reply:
    """Danger codes on a contact or check: alert the area's staff and say so in the reply."""
    from ..alerts import raise_alert
    from ..models import AlertKind

    alert = raise_alert(ctx.session, ctx.runtime, AlertKind.danger, person, f"danger signs {codes} at {where}",
                        ctx.runtime.clock.now(), report_id=report.id, codes=codes)
    return Reply("recorded_alert", person_values(person, codes=codes, alert=alert.id),
                 {"type": "report", "id": str(report.id)}, report.id)
