"""BIRTH and PNC: a live birth registers the baby and starts postnatal care; PNC clears a check."""
from __future__ import annotations

from datetime import date, timedelta

from .. import care, maternal
from ..parsers import Parsed
from ..people import register_person
from ..replies import render
from . import Context, Refusal, Reply, handler
from .common import add_report, danger_signs_reply, next_due_text, person_by_id, person_values, start_schedules


@handler("record_birth")
def record_birth(ctx: Context, parsed: Parsed) -> Reply:
    mother = person_by_id(ctx, parsed.values["id"])
    if mother.sex == "M":
        raise Refusal("conflict", reason="male", value=mother.short_id, name=mother.name)
    born_on: date = parsed.values["date"]
    pregnancy = maternal.open_pregnancy(ctx.session, mother.id)
    if pregnancy is not None and born_on < pregnancy.lmp:
        raise Refusal("conflict", reason="before_lmp", value=mother.short_id, date=born_on.isoformat(),
                      lmp=pregnancy.lmp.isoformat())
    previous = maternal.latest_birth(ctx.session, mother)
    twin = previous is not None and previous.mother_id == mother.id and previous.born_on == born_on
    report = add_report(ctx, parsed.values, person=mother)
    name = render(ctx.runtime.pack, ctx.form, "baby_name", ctx.language, {"name": mother.name})
    baby = register_person(ctx.session, mother.household, name[:80], "U", born_on, False, ctx.sender)
    baby.mother_id = mother.id
    maternal.record_birth(ctx.session, mother, baby, born_on, parsed.values["place"],
                          parsed.values.get("weight"), pregnancy, report.id)
    if not twin:  # a second baby of the same day shares the mother's postnatal care
        care.end_open(ctx.session, "the pregnancy ended with a live birth", ctx.runtime.clock.now(),
                      schedules=ctx.form.ends, person_id=mother.id, statuses=care.NOT_CLOSED)
        start_schedules(ctx, ctx.form.starts, born_on, mother)
    return Reply(
        "recorded",
        {"name": mother.name, "date": born_on.isoformat(), "id": baby.short_id,
         "next_due": next_due_text(ctx, ctx.form.starts, person_id=mother.id)},
        record={"type": "person", "id": baby.short_id},
        report_id=report.id,
    )


@handler("record_pnc")
def record_pnc(ctx: Context, parsed: Parsed) -> Reply:
    person = person_by_id(ctx, parsed.values["id"])
    birth = maternal.latest_birth(ctx.session, person)
    if birth is None or ctx.today - birth.born_on > timedelta(days=maternal.POSTNATAL_DAYS):
        raise Refusal("conflict", reason="no_birth", value=person.short_id, name=person.name)
    report = add_report(ctx, parsed.values, person=person)
    now = ctx.runtime.clock.now()
    care.clear_due(ctx.session, ctx.form.clears, report, now, person_id=birth.mother_id)
    record = {"type": "report", "id": str(report.id)}
    codes = parsed.values.get("danger")
    if codes:
        return danger_signs_reply(ctx, person, report, codes, "a postnatal check")
    return Reply(
        "recorded",
        person_values(person, day=(ctx.today - birth.born_on).days,
                      next_due=next_due_text(ctx, ctx.form.clears, person_id=birth.mother_id)),
        record, report.id,
    )
