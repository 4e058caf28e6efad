"""OFF and ON: a person declines reminders, or accepts them again. Nothing else changes."""
from __future__ import annotations

from .. import care
from ..parsers import Parsed
from . import Context, Reply, handler
from .common import add_report, person_by_id, person_values


@handler("reminders_off")
def reminders_off(ctx: Context, parsed: Parsed) -> Reply:
    person = person_by_id(ctx, parsed.values["id"])
    report = add_report(ctx, parsed.values, person=person)
    person.reminders_off = True
    care.mute(ctx.session, person.id, ctx.runtime.clock.now())
    return Reply("recorded", person_values(person), {"type": "report", "id": str(report.id)}, report.id)


@handler("reminders_on")
def reminders_on(ctx: Context, parsed: Parsed) -> Reply:
    person = person_by_id(ctx, parsed.values["id"])
    report = add_report(ctx, parsed.values, person=person)
    person.reminders_off = False
    care.resume(ctx.session, person.id, ctx.today)
    return Reply("recorded", person_values(person), {"type": "report", "id": str(report.id)}, report.id)
