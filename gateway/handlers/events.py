"""DANGER and DEATH: events that may need a person to act at once."""
from __future__ import annotations

from datetime import date

from .. import care, maternal
from ..alerts import raise_alert
from ..models import AlertKind, PersonStatus, PregnancyStatus
from ..parsers import Parsed
from . import Context, Refusal, Reply, handler
from .common import add_report, person_by_id, person_values


@handler("record_danger")
def record_danger(ctx: Context, parsed: Parsed) -> Reply:
    person = person_by_id(ctx, parsed.values["id"])
    codes = parsed.values["codes"]
    report = add_report(ctx, parsed.values, person=person)
    alert = raise_alert(ctx.session, ctx.runtime, AlertKind.danger, person, f"danger signs {codes}", ctx.runtime.clock.now(),
                        report_id=report.id, codes=codes)
    return Reply("recorded", person_values(person, codes=codes, alert=alert.id),
                 {"type": "alert", "id": str(alert.id)}, report.id)


@handler("record_death")
def record_death(ctx: Context, parsed: Parsed) -> Reply:
    person = person_by_id(ctx, parsed.values["id"])
    died_on: date = parsed.values["date"]
    if died_on < person.birth_date:
        raise Refusal("conflict", reason="before_birth", value=person.short_id, name=person.name,
                      date=died_on.isoformat(), born=person.birth_date.isoformat())
    why = maternal.death_needs_alert(ctx.session, person, died_on)
    report = add_report(ctx, parsed.values, person=person)
    now = ctx.runtime.clock.now()
    pregnancy = maternal.open_pregnancy(ctx.session, person.id)
    if pregnancy is not None:
        maternal.end_pregnancy(pregnancy, PregnancyStatus.ended, died_on, report.id)
    person.status, person.status_on = PersonStatus.deceased, died_on
    care.end_open(ctx.session, "the person died", now, person_id=person.id, statuses=care.NOT_CLOSED)
    values = person_values(person, date=died_on.isoformat())
    record = {"type": "report", "id": str(report.id)}
    if why is None:
        return Reply("recorded", values, record, report.id)
    alert = raise_alert(ctx.session, ctx.runtime, AlertKind.death, person, why, now, report_id=report.id)
    return Reply("recorded_alert", {**values, "alert": alert.id}, record, report.id)
