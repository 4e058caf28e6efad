"""IN and OUT: people moving between households and villages, and away."""
from __future__ import annotations

from .. import care, maternal
from ..models import PersonStatus
from ..parsers import Parsed
from . import Context, Refusal, Reply, handler
from .common import add_report, household_by_id, person_by_id, person_values, start_schedules, village_name
from .common import village_volunteer_id


@handler("record_move_in")
def record_move_in(ctx: Context, parsed: Parsed) -> Reply:
    # the person may come from any village; the household must be one the sender covers
    person = person_by_id(ctx, parsed.values["id"], active=False, any_area=True)
    if person.status is PersonStatus.deceased:
        raise Refusal("conflict", reason="person_deceased", value=person.short_id, name=person.name)
    household = household_by_id(ctx, parsed.values["household"])
    if person.household_id == household.id and person.status is PersonStatus.active:
        raise Refusal("conflict", reason="same_household", value=person.short_id, name=person.name,
                      household=household.short_id)
    returning = person.status is PersonStatus.moved_out
    person.household = household
    person.status, person.status_on = PersonStatus.active, None
    ctx.session.flush()
    report = add_report(ctx, parsed.values, person=person)
    care.move_to_volunteer(ctx.session, person.id, village_volunteer_id(ctx, household.village_id))
    pregnancy = maternal.open_pregnancy(ctx.session, person.id)
    if returning and pregnancy is not None:
        # her antenatal care ended when she moved away; it is due again here
        start_schedules(ctx, ["antenatal"], pregnancy.lmp, person)
    return Reply(
        "recorded",
        person_values(person, household=household.short_id, head=household.head_name,
                      village=village_name(ctx, household.village_id)),
        {"type": "report", "id": str(report.id)}, report.id,
    )


@handler("record_move_out")
def record_move_out(ctx: Context, parsed: Parsed) -> Reply:
    person = person_by_id(ctx, parsed.values["id"])
    report = add_report(ctx, parsed.values, person=person)
    destination = parsed.values.get("destination")
    person.status, person.status_on = PersonStatus.moved_out, ctx.today
    reason = "moved out" + (f" to {destination}" if destination else "")
    care.end_open(ctx.session, reason, ctx.runtime.clock.now(), person_id=person.id, statuses=care.NOT_CLOSED)
    return Reply("recorded", person_values(person), {"type": "report", "id": str(report.id)}, report.id)
