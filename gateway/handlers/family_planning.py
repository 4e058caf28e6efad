"""FP: supplies given on request; the resupply falls due when they run out."""
from __future__ import annotations

from .. import care
from ..parsers import Parsed
from ..replies import render
from . import Context, Reply, handler
from .common import add_report, next_due_text, person_by_id, person_values, start_schedules


@handler("record_fp")
def record_fp(ctx: Context, parsed: Parsed) -> Reply:
    person = person_by_id(ctx, parsed.values["id"])
    method = parsed.values["method"]
    quantity = parsed.values.get("quantity", 1)
    report = add_report(ctx, parsed.values, person=person)
    now = ctx.runtime.clock.now()
    care.replace_due(ctx.session, ctx.form.clears, report, now, f"replaced by the supply of {ctx.today.isoformat()}",
                     person_id=person.id, ending=care.NOT_CLOSED)
    start_schedules(ctx, [ctx.form.options["schedules"][method]], ctx.today, person, units=quantity)
    label = render(ctx.runtime.pack, ctx.form, f"method_{method}", ctx.language, {})
    return Reply(
        "recorded",
        person_values(person, method=label, quantity=quantity,
                      next_due=next_due_text(ctx, ctx.form.clears, person_id=person.id)),
        {"type": "report", "id": str(report.id)}, report.id,
    )
