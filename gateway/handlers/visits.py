"""V / VISIT: a routine home visit clears the household's due visit and sets the next one."""
from __future__ import annotations

from .. import care
from ..parsers import Parsed
from ..people import mark_visited
from . import Context, Reply, handler
from .common import add_report, household_by_id, village_volunteer_id


@handler("record_visit")
def record_visit(ctx: Context, parsed: Parsed) -> Reply:
    household = household_by_id(ctx, parsed.values["household"])
    report = add_report(ctx, parsed.values, household=household)
    now = ctx.runtime.clock.now()
    # a visit before the due one's window opened resets the clock: the old item is replaced
    care.replace_due(ctx.session, ctx.form.clears, report, now, f"replaced by the visit of {ctx.today.isoformat()}",
                     household_id=household.id)
    mark_visited(ctx.session, household, ctx.today)
    every = ctx.runtime.settings.VISIT_EVERY_DAYS or None
    made = []
    for name in ctx.form.starts:
        made += care.start(ctx.session, ctx.runtime.pack.schedules[name], ctx.today, today=ctx.today,
                           household_id=household.id, at_days=every,
                           volunteer_id=village_volunteer_id(ctx, household.village_id))
    return Reply(
        "recorded",
        {"household": household.short_id, "head": household.head_name,
         "next_due": made[0].due_on.isoformat() if made else "-"},
        record={"type": "report", "id": str(report.id)},
        report_id=report.id,
    )
