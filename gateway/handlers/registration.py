"""HH and REG: households and people, each with a new short ID in the reply."""
from __future__ import annotations

from ..parsers import Parsed
from ..people import home_village, register_household, register_person
from . import Context, Refusal, Reply, handler
from .common import add_report, household_by_id


@handler("register_household")
def register_household_handler(ctx: Context, parsed: Parsed) -> Reply:
    village = home_village(ctx.session, ctx.sender)
    if village is None:
        raise Refusal("not_allowed", reason="no_village")
    head = parsed.values["head"]
    household = register_household(ctx.session, village, head, ctx.sender)
    report = add_report(ctx, parsed.values, household=household)
    return Reply(
        "registered",
        {"head": head, "village": village.name, "id": household.short_id},
        record={"type": "household", "id": household.short_id},
        report_id=report.id,
    )


@handler("register_person")
def register_person_handler(ctx: Context, parsed: Parsed) -> Reply:
    household = household_by_id(ctx, parsed.values["household"])
    age = parsed.values["age"]
    person = register_person(
        ctx.session, household, parsed.values["name"], parsed.values["sex"],
        age.birth_date, age.estimated, ctx.sender,
    )
    report = add_report(ctx, parsed.values, person=person)
    return Reply(
        "registered",
        {"name": person.name, "household": household.short_id, "id": person.short_id},
        record={"type": "person", "id": person.short_id},
        report_id=report.id,
    )
