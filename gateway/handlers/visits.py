"""V / VISIT: a routine home visit clears the household's due visit and sets the next one."""
from __future__ import annotations

from ..care import schedule_next_visit
from ..parsers import Parsed
from . import Context, Reply, handler
from .common import add_report, household_by_id, village_volunteer_id


@handler("record_visit")
def record_visit(ctx: Context, parsed: Parsed) -> Reply:
    household = household_by_id(ctx, parsed.values["household"])
    report = add_report(ctx, parsed.values, household=household)
    every = ctx.runtime.settings.VISIT_EVERY_DAYS
    item = schedule_next_visit(
        ctx.session, household, ctx.today, every,
        village_volunteer_id(ctx, household.village_id), report, ctx.runtime.clock.now(),
    )
    return Reply(
        "recorded",
        {"household": household.short_id, "head": household.head_name, "next_due": item.due_on.isoformat()},
        record={"type": "report", "id": str(report.id)},
        report_id=report.id,
    )
