"""PREG, ANC and LOSS: a pregnancy, its antenatal contacts, and its end without a live birth."""
from __future__ import annotations

from datetime import date, timedelta

from .. import care, maternal
from ..alerts import raise_alert
from ..models import AlertKind, PregnancyStatus
from ..parsers import Parsed
from . import Context, Refusal, Reply, handler
from .common import add_report, danger_signs_reply, next_due_text, person_by_id, person_values, start_schedules


def _require_open_pregnancy(ctx: Context, person):
    pregnancy = maternal.open_pregnancy(ctx.session, person.id)
    if pregnancy is None:
        raise Refusal("conflict", reason="no_pregnancy", value=person.short_id, name=person.name)
    return pregnancy


@handler("record_pregnancy")
def record_pregnancy(ctx: Context, parsed: Parsed) -> Reply:
    person = person_by_id(ctx, parsed.values["id"])
    if person.sex == "M":
        raise Refusal("conflict", reason="male", value=person.short_id, name=person.name)
    current = maternal.open_pregnancy(ctx.session, person.id)
    if current is not None:
        raise Refusal("conflict", reason="open_pregnancy", value=person.short_id, name=person.name,
                      edd=current.edd.isoformat())
    given = parsed.values["weeks"]
    lmp = given if isinstance(given, date) else ctx.today - timedelta(weeks=given)
    report = add_report(ctx, parsed.values, person=person)
    pregnancy = maternal.start_pregnancy(ctx.session, person, lmp, report.id)
    items = start_schedules(ctx, ctx.form.starts, lmp, person)
    return Reply(
        "recorded",
        person_values(person, weeks=(ctx.today - lmp).days // 7, edd=pregnancy.edd.isoformat(),
                      next_due=items[0].due_on.isoformat() if items else "-"),
        record={"type": "pregnancy", "id": str(pregnancy.id)},
        report_id=report.id,
    )


@handler("record_anc")
def record_anc(ctx: Context, parsed: Parsed) -> Reply:
    person = person_by_id(ctx, parsed.values["id"])
    pregnancy = _require_open_pregnancy(ctx, person)
    report = add_report(ctx, parsed.values, person=person)
    now = ctx.runtime.clock.now()
    care.clear_due(ctx.session, ctx.form.clears, report, now, person_id=person.id)
    record = {"type": "report", "id": str(report.id)}
    codes = parsed.values.get("danger")
    if codes:
        return danger_signs_reply(ctx, person, report, codes, "an antenatal contact")
    return Reply(
        "recorded",
        person_values(person, weeks=(ctx.today - pregnancy.lmp).days // 7,
                      next_due=next_due_text(ctx, ctx.form.clears, person_id=person.id)),
        record, report.id,
    )


@handler("record_loss")
def record_loss(ctx: Context, parsed: Parsed) -> Reply:
    person = person_by_id(ctx, parsed.values["id"])
    pregnancy = _require_open_pregnancy(ctx, person)
    ended_on: date = parsed.values["date"]
    if ended_on < pregnancy.lmp:
        raise Refusal("conflict", reason="before_lmp", value=person.short_id, date=ended_on.isoformat(),
                      lmp=pregnancy.lmp.isoformat())
    report = add_report(ctx, parsed.values, person=person)
    now = ctx.runtime.clock.now()
    maternal.end_pregnancy(pregnancy, PregnancyStatus.lost, ended_on, report.id)
    care.end_open(ctx.session, "the pregnancy ended without a live birth", now, schedules=ctx.form.ends,
                  person_id=person.id, statuses=care.NOT_CLOSED)
    alert = raise_alert(ctx.session, ctx.runtime, AlertKind.loss, person, "pregnancy loss: support for the woman", now,
                        report_id=report.id)
    return Reply("recorded", person_values(person, alert=alert.id), {"type": "report", "id": str(report.id)},
                 report.id)
